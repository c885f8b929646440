"""The in-process scoring path: validate → features with history → model or rules → store.

One :class:`Scorer` per worker holds the model (or none: degraded), a cache of the linking
history (:class:`~features.history.History`) and the store. The history's truth is the
store's ``sightings`` table (:mod:`serving.sightings`): each batch opens one write
transaction holding the history's order lock, catches the cache up from the store (rows
after the last one it read), computes features with the *training* feature function,
scores, and writes the scores and the batch's sightings in that same transaction; the
cache takes the new sightings only once it committed. So every worker of every replica
computes a referral's features from the same history, ordered by commit, and the cache
can never hold what the store does not. A referral already in the history (re-scored)
adds no sightings again.

Requests are scored in arrival order, never interleaved (in a process by ``_lock``, across
processes by the store's order lock): the history is a point-in-time record, and two
requests interleaving their reads and writes of it would each miss the other. Concurrent requests are **committed together** (group commit): validation runs in
each request's own thread, then whichever request finds the scorer idle takes every
request waiting (first come, first served, up to :data:`GROUP_LIMIT` referrals, never the
same referral twice) and scores them as one vectorised batch with one store transaction.
Features are point-in-time by ``received_at`` (a referral sees another only if it was
received earlier, in the history or in the same batch), so when requests arrive in the
order their referrals were received, as a queue system sends them, the answers are the
ones one-by-one scoring gives (a test holds them equal). A referral submitted *before*
an earlier-received one but grouped with it sees it, as in a batch request and in
training: the grouped answer is the point-in-time one, not an artefact of arrival. Under load this
turns N feature builds, model calls and commits into one, and the queue is fair (a plain
lock let some requests wait seconds behind later ones). If a group fails, each of its
requests is retried alone, so one bad request cannot fail the others.

If the model raises on a request, the safety rules score that request instead
(``degraded: true``): a valid referral is never refused because of the model. The choice is
:func:`models.scoring_path.score_or_rules`, the one used by every scoring path.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.blind_draw import DEFAULT_SHARE, drawn_for_blind_review
from features.case_index import CaseIndex
from features.contract import Referral, Score
from features.history import History
from features.ingest import Rejected, parse_documents
from features.linking import events_for
from features.pipeline import Features, build_features
from features.pseudonyms import Pseudonymiser
from models.degraded import RULES_VERSION
from models.scoring_path import score_or_rules
from serving import case_log, logs, sightings
from serving.case_ids import case_namer
from serving.store import Store

#: Most referrals scored as one group (concurrent requests committed together).
GROUP_LIMIT = 2000
#: Referrals read per query when placing other processes' referrals in the cases.
_CASE_CHUNK = 5000


@dataclass
class Answer:
    """What one scoring request produced: scores in input order (good documents only), the
    rejected documents with every problem, and why the rules answered, if they did."""

    request_id: str
    scores: list[Score] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    degraded_reason: str | None = None


@dataclass
class _Job:
    """One request's valid referrals, waiting to be scored (possibly with others')."""

    referrals: Sequence[Referral]
    answer: Answer
    done: bool = False
    error: Exception | None = None


class Scorer:
    """Scores referrals against a growing history and records every score.

    ``model`` is a :class:`~models.triage_model.TriageModel` or None (degraded mode).
    Thread-safe: concurrent requests are queued and committed in groups (module docs).
    """

    def __init__(
        self,
        store: Store,
        pseudonymiser: Pseudonymiser,
        model: Any | None,
        history: History | None = None,
        seen: set[str] | None = None,
        cases: CaseIndex | None = None,
        blind_share: float = DEFAULT_SHARE,
        *,
        events_file: Path | None = None,
        seq: int = 0,
    ) -> None:
        self.store = store
        self.pseudonymiser = pseudonymiser
        self.blind_share = blind_share
        self.model = model
        #: the cache: the store's history up to ``seq`` (``load_history``), no more
        self.history = history or History()
        self._seen: set[str] = seen if seen is not None else set()
        self.seq = seq
        self.events_file = events_file  # seeds the store's history if nobody has yet
        self.cases = cases if cases is not None else CaseIndex()  # under ``_lock``, like history
        self.cases.namer = case_namer(pseudonymiser)  # opaque ids (``serving/case_ids.py``)
        self._cases_stale = False  # a failed commit left placements the store lacks
        self._lock = threading.Lock()  # the history and the store's order of scores
        self._turn = threading.Condition()  # guards the waiting queue and ``_busy``
        self._waiting: deque[_Job] = deque()
        self._busy = False

    @property
    def version(self) -> str:
        """The concrete model version answering (``rules-…`` when there is no model)."""
        return str(self.model.version) if self.model is not None else RULES_VERSION

    @property
    def degraded(self) -> bool:
        return self.model is None

    def score(self, docs: Sequence[Any], request_id: str) -> Answer:
        """Validate, score and record ``docs`` (raw JSON values); returns once committed.

        Raises only if the store cannot record the scores (nothing is then answered, and
        nothing was added to the history, so the client's retry is clean).
        """
        batch = parse_documents(docs, self.pseudonymiser)
        answer = Answer(request_id, rejected=batch.rejected)
        if not batch.referrals:
            return answer
        job = _Job(batch.referrals, answer)
        with self._turn:
            self._waiting.append(job)
            while not job.done:
                if self._busy:
                    self._turn.wait()
                    continue
                self._busy = True
                group = self._take()
                self._turn.release()
                try:
                    self._run_group(group)
                finally:
                    self._turn.acquire()
                    self._busy = False
                    self._turn.notify_all()
        if job.error is not None:
            raise job.error
        return answer

    def _take(self) -> list[_Job]:
        """The waiting jobs to score together: in arrival order, up to ``GROUP_LIMIT``
        referrals (always at least one job), stopping before a job that repeats a referral
        already in the group (a re-score must see the earlier sighting)."""
        group: list[_Job] = []
        ids: set[str] = set()
        n = 0
        while self._waiting:
            job = self._waiting[0]
            mine = {r.referral_id for r in job.referrals}
            if group and (n + len(job.referrals) > GROUP_LIMIT or not ids.isdisjoint(mine)):
                break
            group.append(self._waiting.popleft())
            ids |= mine
            n += len(job.referrals)
        return group

    def _run_group(self, group: list[_Job]) -> None:
        try:
            self._score_jobs(group)
        except Exception as e:
            if len(group) == 1 or any(j.answer.scores for j in group):
                for job in group:  # alone, or failed after its commit: never score twice
                    job.error = e
            else:  # one bad request must not fail the others: each alone
                for job in group:
                    try:
                        self._score_jobs([job])
                    except Exception as alone:
                        job.error = alone
        finally:
            for job in group:
                job.done = True

    def _score_jobs(self, jobs: Sequence[_Job]) -> None:
        refs = [r for j in jobs for r in j.referrals]
        ids = [j.answer.request_id for j in jobs for _ in j.referrals]
        with self._lock:
            if self._cases_stale:  # rebuild from what the store holds, then place again
                self.cases = load_cases(self.store, self.cases.namer)
                self._cases_stale = False
            try:
                with self.store.ordered() as s:  # one transaction, in the history's order
                    self._catch_up(s)
                    feats = self._features(refs)
                    scores, degraded_reason = self._predict(feats, jobs, refs)
                    scores = [self._blind_draw(sc) for sc in scores]
                    events: list[case_log.CaseEvent] = []
                    for sc, ref in zip(scores, refs, strict=True):
                        sc.case_id = self.cases.add(ref)  # the case as known when scored
                        if self.cases.last is not None:  # opened, joined or merged
                            events.append(case_log.event_of(self.cases.last, self.cases.namer))
                    rows = feature_rows(feats.X)
                    items = list(zip(refs, scores, rows, strict=True))
                    self.store.record_scores(  # the case events commit with the scores
                        items, ids, also=lambda w, now: case_log.append(w, events, now), session=s
                    )
                    new, seq = self._remember(s, refs, feats)
            except Exception:
                self._cases_stale = True  # placements the store may lack
                raise
            self.history.add_events(new)  # committed: the cache follows the store
            self._seen.update(str(x) for x in new["referral_id"].dropna())
            self.seq = seq
            start = 0
            for j in jobs:  # committed: these are the answers
                j.answer.scores = scores[start : start + len(j.referrals)]
                j.answer.degraded_reason = degraded_reason
                start += len(j.referrals)

    def _blind_draw(self, score: Score) -> Score:
        """Mark the referrals drawn for the blind second review (contract §5): the keyed
        draw, never a referral the safety rules lifted (its first review comes first and
        alone). The first review is never held back: the draw only adds a second one."""
        drawn = not score.safety_rules and drawn_for_blind_review(
            score.referral_id, self.pseudonymiser, self.blind_share
        )
        return score.model_copy(update={"second_review": drawn}) if drawn else score

    def _predict(
        self, feats: Features, jobs: Sequence[_Job], refs: Sequence[Referral]
    ) -> tuple[list[Score], str | None]:
        """The one score-or-rules path (:func:`models.scoring_path.score_or_rules`), with a
        log line per request of the group, under its own id, when the model failed."""
        out = score_or_rules(self.model, feats, referrals=refs)
        if out.degraded_reason == "model_error":
            for job in jobs:
                logs.event(
                    "model_failed",
                    logging.ERROR,
                    request_id=job.answer.request_id,
                    error_type=out.error_type,
                    referrals=len(job.referrals),
                )
        return out.scores, out.degraded_reason

    def _catch_up(self, s: Any) -> None:
        """Apply the store's history rows committed since the cache last read (``s`` holds
        the order lock, so none can be missing); seed the store first if nobody has."""
        if self.seq == 0:
            sightings.seed(s, self.events_file)
        events, ids, self.seq = sightings.since(s, self.seq)
        self.history.add_events(events)
        self._seen.update(ids)
        self._place_others(s, ids)

    def _place_others(self, s: Any, ids: Sequence[str]) -> None:
        """Place in the cases the referrals other workers or replicas stored since the last
        catch-up (their case events are already in the store): the grouping depends only
        on the set of referrals, so every process holds the same cases."""
        from serving.db_models import ReferralRow
        from serving.records import referral_of

        missing = [i for i in ids if i not in self.cases.received]
        for start in range(0, len(missing), _CASE_CHUNK):
            chunk = missing[start : start + _CASE_CHUNK]
            for row in s.query(ReferralRow).filter(ReferralRow.referral_id.in_(chunk)):
                self.cases.add(referral_of(row))

    def _features(self, refs: Sequence[Referral]) -> Features:
        """Features of the batch against the cache. A re-scored referral (already in the
        history) is featurised alone: in the batch its sightings would count twice for
        the others, once from the history and once from the batch. ``events`` are the new
        referrals' only."""
        old = [i for i, r in enumerate(refs) if r.referral_id in self._seen]
        if not old:
            return build_features(refs, None, self.history)
        new = [i for i in range(len(refs)) if i not in set(old)]
        parts = ([new] if new else []) + [[i] for i in old]
        built = [build_features([refs[i] for i in p], None, self.history) for p in parts]
        order = np.argsort(np.concatenate(parts), kind="stable")

        def joined(frames: list[pd.DataFrame]) -> pd.DataFrame:
            return pd.concat(frames, ignore_index=True).iloc[order].reset_index(drop=True)

        events = built[0].events if new else events_for([], None)
        return Features(joined([f.X for f in built]), joined([f.meta for f in built]), events)

    def _remember(self, s: Any, refs: Sequence[Referral], feats: Features) -> tuple[Any, int]:
        """Write the new referrals' sightings in ``s`` (``feats.events``: a re-scored
        referral adds none, it would count as its own earlier sighting for later ones),
        each row with the last row the features were computed from. Returns them (for the
        cache once committed) and the last row number written."""
        new = [r.referral_id for r in refs if r.referral_id not in self._seen]
        events = sightings.marked(feats.events, new)
        sightings.append(s, events, after_seq=self.seq)
        return events, sightings.last_seq(s) if len(events) else self.seq

    def catch_up(self) -> None:
        """Read the store's history rows committed since the last batch (labels recorded
        by decisions and outcome reports) without scoring anything."""
        with self._lock, self.store.ordered() as s:
            self._catch_up(s)


def feature_rows(X: pd.DataFrame) -> list[dict[str, Any]]:
    """The model inputs, one dict per referral, for the inference log. Through one object
    array: ``DataFrame.to_dict("records")`` walks rows and cost more than the model did."""
    columns = [str(c) for c in X.columns]
    return [dict(zip(columns, row, strict=True)) for row in X.to_numpy(dtype=object).tolist()]


def load_history(events_file: Path, store: Store) -> tuple[History, set[str], int]:
    """The store's linking history, seeded first if nobody has (the training events
    ``triage train`` wrote, then every stored referral with its latest label; an unreadable
    events file is logged and skipped, not fatal): ``(cache, referrals in it, last row)``,
    for a :class:`Scorer` (``seq=``) to go on from."""
    history = History()
    with store.ordered() as s:
        sightings.seed(s, events_file)
        events, ids, seq = sightings.since(s, 0)
    history.add_events(events)
    return history, set(ids), seq


def load_cases(store: Store, namer: Callable[[str], str] | None = None) -> CaseIndex:
    """The cases of every stored referral. The grouping is a function of the referrals
    alone (the same for any arrival order, ``features.case_index``), so the store's
    referrals are its record and a restart rebuilds the same cases (the case events
    log records how they formed; a test holds its replay equal to this)."""
    cases = CaseIndex(namer) if namer is not None else CaseIndex()
    for ref, _ in store.history_referrals():
        cases.add(ref)
    return cases
