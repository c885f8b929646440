"""The in-process scoring path (:mod:`serving.scoring`) with the real model and store.

What a server test cannot provoke on demand: a model that fails on a request. Here the
trained model is wrapped to raise on its next call; the request must still be answered,
by the rules, ``degraded``, and recorded. Also: the HTTP path and the model called directly
agree, and the history file written by training is read at start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.history import History
from features.ingest import parse_documents
from features.pipeline import build_features
from features.pseudonyms import Pseudonymiser
from features.routes import route_referral
from models.degraded import RULES_VERSION
from serving.scoring import Scorer, load_history
from serving.store import Store

pytestmark = pytest.mark.timeout(300)


class Flaky:
    """The real model, failing on the calls listed in ``fail_on`` (1-based)."""

    def __init__(self, model: Any, fail_on: set[int]) -> None:
        self.model, self.fail_on, self.calls = model, fail_on, 0
        self.version = model.version

    def score(self, feats: Any, **kw: Any) -> Any:
        self.calls += 1
        if self.calls in self.fail_on:
            raise MemoryError("simulated failure")
        return self.model.score(feats, **kw)


@pytest.fixture
def store(tmp_path: Path):
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        s.migrate()
        yield s


def docs(raw: list[dict[str, Any]], tag: str, n: int) -> list[dict[str, Any]]:
    return [{**d, "referral_id": f"{tag}-{i}"} for i, d in enumerate(raw[:n])]


def test_a_failing_model_falls_back_to_rules_for_that_request(
    trained, raw_referrals, store, pseudonymiser: Pseudonymiser, caplog
):
    _settings, model, _ds, _split = trained
    scorer = Scorer(store, pseudonymiser, Flaky(model, {2}))
    ok = scorer.score(docs(raw_referrals, "a", 5), "req-1")
    with caplog.at_level("ERROR", logger="triage.service"):
        failed = scorer.score(docs(raw_referrals, "b", 5), "req-2")
    [line] = [r for r in caplog.records if r.getMessage() == "model_failed"]
    assert line.fields["request_id"] == "req-2" and line.fields["referrals"] == 5  # type: ignore[attr-defined]
    again = scorer.score(docs(raw_referrals, "c", 5), "req-3")
    assert ok.degraded_reason is None and not any(s.degraded for s in ok.scores)
    assert failed.degraded_reason == "model_error"
    assert all(s.degraded and s.model_version == RULES_VERSION for s in failed.scores)
    assert again.degraded_reason is None, "one failure does not degrade later requests"
    stored = store.referral("b-3")
    assert stored is not None and stored.scores[0].score.degraded


def test_service_path_and_direct_model_agree(trained, raw_referrals, store, pseudonymiser):
    """On an empty history, the service's scores equal the model's own on the same data."""
    _settings, model, _ds, _split = trained
    batch = docs(raw_referrals, "eq", 50)
    served = Scorer(store, pseudonymiser, model).score(batch, "req-eq")
    refs = parse_documents(batch, pseudonymiser).referrals
    direct = model.score(build_features(refs, None, History()))
    # the service adds the blind-review draw (test_blind_scoring.py), where to send it and
    # which case it joined; the rest is equal
    service_only = {"scored_at", "second_review", "route", "case_id"}
    for s, d, r in zip(served.scores, direct, refs, strict=True):
        assert s.model_dump(exclude=service_only) == d.model_dump(exclude=service_only)
        assert s.route == route_referral(r) and s.case_id is not None


def test_history_starts_from_the_training_events_and_the_store(
    trained, raw_referrals, store, pseudonymiser, tmp_path: Path
):
    refs = parse_documents(docs(raw_referrals, "h", 30), pseudonymiser).referrals
    events = build_features(refs[:20]).events
    path = tmp_path / "history" / "events.parquet"
    path.parent.mkdir()
    events.to_parquet(path)
    Scorer(store, pseudonymiser, None).score(docs(raw_referrals[20:], "s", 10), "req-h")
    history, seen, _ = load_history(path, store)  # already seeded (without the file)
    assert len(history) == len(build_features(refs[20:]).events)
    assert seen == {f"s-{i}" for i in range(10)}
    with Store(f"sqlite:///{tmp_path / 'fresh.db'}") as fresh:
        fresh.migrate()
        history, seen, _ = load_history(path, fresh)  # seeded now, from the file
        assert len(history) == len(events) and not seen
        again, _, _ = load_history(path, fresh)  # once: a second start adds nothing
        assert len(again) == len(events)
    path.write_text(json.dumps({"not": "parquet"}))
    with Store(f"sqlite:///{tmp_path / 'bad.db'}") as bad:
        bad.migrate()
        history, _, _ = load_history(path, bad)  # unreadable: skipped, not fatal
        assert len(history) == 0
    assert isinstance(history.events(), pd.DataFrame)


class Counting:
    """The real model, counting its calls."""

    def __init__(self, model: Any) -> None:
        self.model, self.calls, self.version = model, 0, model.version

    def score(self, feats: Any, **kw: Any) -> Any:
        self.calls += 1
        return self.model.score(feats, **kw)


class FlakyStore:
    """The real store, failing the ``fail_on``-th ``record_scores`` call."""

    def __init__(self, store: Store, fail_on: int) -> None:
        self.store, self.fail_on, self.calls = store, fail_on, 0

    def ordered(self) -> Any:
        return self.store.ordered()

    def record_scores(
        self, items: Any, request_id: Any, also: Any = None, session: Any = None
    ) -> Any:
        self.calls += 1
        if self.calls == self.fail_on:
            raise OSError("simulated store failure")
        return self.store.record_scores(items, request_id, also=also, session=session)

    def __getattr__(self, name: str) -> Any:  # reads (the cases' rebuild after a failure)
        return getattr(self.store, name)


def _linked(raw: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """``n`` referrals in time order where the second half repeats the first half's
    subjects an hour later, so later referrals link to earlier ones."""
    from datetime import datetime, timedelta

    def at(d: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(d["received_at"].replace("Z", "+00:00"))

    first = docs(raw, "g", n // 2)
    later = [
        {
            **d,
            "referral_id": f"g-later-{i}",
            "received_at": (at(d) + timedelta(hours=1)).isoformat(),
        }
        for i, d in enumerate(first)
    ]
    return sorted(first + later, key=at)


def _grouped(scorer: Scorer, batch: list[dict[str, Any]]) -> list[Any]:
    """Submit one referral per thread, in order, while the scorer is held busy after the
    first, so the rest queue up and are committed as one group; answers in order."""
    import threading
    import time

    answers: list[Any] = [None] * len(batch)

    def submit(i: int) -> None:
        answers[i] = scorer.score([batch[i]], f"req-{i}")

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(batch))]
    with scorer._lock:  # the first request's group waits here, holding the turn
        threads[0].start()
        while not scorer._busy:
            time.sleep(0.001)
        for i, t in enumerate(threads[1:], start=1):
            t.start()
            while len(scorer._waiting) < i:  # queued in submission order
                time.sleep(0.001)
    for t in threads:
        t.join(60)
    return answers


def _same(a: Any, b: Any) -> None:
    assert a.model_dump(exclude={"scored_at"}) == b.model_dump(exclude={"scored_at"})


def test_concurrent_requests_are_committed_together_with_sequential_answers(
    trained, raw_referrals, tmp_path: Path, pseudonymiser
):
    _settings, model, _ds, _split = trained
    batch = _linked(raw_referrals, 40)
    stores = [Store(f"sqlite:///{tmp_path / f'{k}.db'}") for k in ("seq", "grp")]
    for s in stores:
        s.migrate()
    one_by_one, grouped = Counting(model), Counting(model)
    seq = Scorer(stores[0], pseudonymiser, one_by_one)
    expected = [seq.score([d], f"req-{i}") for i, d in enumerate(batch)]
    got = _grouped(Scorer(stores[1], pseudonymiser, grouped), batch)
    assert one_by_one.calls == len(batch) and grouped.calls == 2  # the first, then the rest
    for e, g in zip(expected, got, strict=True):
        assert len(e.scores) == len(g.scores) == 1
        _same(e.scores[0], g.scores[0])
    linked = 0
    for i, d in enumerate(batch):  # every score logged under its own request
        rec = stores[1].referral(d["referral_id"])
        assert rec is not None and [s.request_id for s in rec.scores] == [f"req-{i}"]
        linked += (rec.scores[0].features.get("link_prior_referrals") or 0) > 0
    assert linked >= len(batch) // 2, "the later half links to earlier referrals in the group"
    for s in stores:
        s.close()


def test_a_failed_group_is_retried_request_by_request(
    trained, raw_referrals, tmp_path: Path, pseudonymiser
):
    _settings, model, _ds, _split = trained
    batch = _linked(raw_referrals, 20)
    with Store(f"sqlite:///{tmp_path / 'seq.db'}") as plain:
        plain.migrate()
        seq = Scorer(plain, pseudonymiser, model)
        expected = [seq.score([d], f"req-{i}") for i, d in enumerate(batch)]
    with Store(f"sqlite:///{tmp_path / 'grp.db'}") as real:
        real.migrate()
        flaky = FlakyStore(real, fail_on=2)  # the group's commit fails
        got = _grouped(Scorer(flaky, pseudonymiser, model), batch)  # type: ignore[arg-type]
        assert flaky.calls == 2 + (len(batch) - 1)  # then each request alone
        for e, g in zip(expected, got, strict=True):
            _same(e.scores[0], g.scores[0])
        assert real.referral(batch[-1]["referral_id"]) is not None
