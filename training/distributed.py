"""Features, scoring and training on a Dask cluster, over time-partitioned Parquet.

Input: Parquet partitions of raw referral documents (``write_partitions`` makes them from
JSON Lines), in time order: every referral of partition i was received no later than any
of partition i+1. Each worker validates, pseudonymises and featurises its own partition
with ``build_features`` (the one feature function) against a *carried-over history*:
the events of all earlier partitions, folded into one row per key for what happened
before the boundary minus the platform window (``carry``), so it stays about as large as
the set of distinct keys instead of growing with the stream. Counting only needs prefix
sums and the latest sighting, which folding keeps exactly, so the features, and hence
the scores, equal the single-machine ones (``tests/unit/test_dask.py`` checks this).
The fold is a short sequential chain of small tasks; the per-referral work runs in
parallel. Scoring answers through the one score-or-rules path
(:func:`models.scoring_path.score_or_rules`): the same contract §4 Scores, degraded policy
and rejected-document list as the service and ``triage score``. Training
(:mod:`training.distributed_train`) reuses the same feature graph and hands the features
to the one training assembly (:func:`training.fit.fit` via ``triage train``'s pipeline).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract import Outcome, Score
from features.history import History
from features.ingest import Labelled, Rejected, parse_documents
from features.linking import EVENT_COLUMNS, PLATFORM_WINDOW_NS, WEIGHTS, events_for
from features.pipeline import Features, build_features
from features.pseudonyms import Pseudonymiser
from models.scoring_path import score_line, score_or_rules
from models.triage_model import TriageModel

DOC_COLUMNS = ("referral_id", "received_at", "document", "position")


@dataclass
class Parsed:
    """One partition's valid documents (in receipt order) and the rejected ones, each
    rejection's ``index`` the document's position in the input (``position``)."""

    good: list[Labelled]
    rejected: list[Rejected]


@dataclass
class Scores:
    """What scoring a stream produced: contract §4 answers in receipt order, as the JSON
    lines ``triage score`` writes (:func:`models.scoring_path.score_line`: text crosses
    from the workers several times faster than pydantic objects), every rejected document
    (input position, id if readable, every problem) and why the rules answered
    (``no_model``, ``model_error``), if they answered any partition."""

    lines: list[str]
    rejected: list[Rejected] = field(default_factory=list)
    degraded_reason: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        """The answers as JSON values."""
        return [json.loads(line) for line in self.lines]

    @property
    def scores(self) -> list[Score]:
        """The answers as :class:`~features.contract.Score` objects."""
        return [Score.model_validate_json(line) for line in self.lines]


@contextmanager
def cluster(scheduler: str | None = None, workers: int = 2) -> Iterator[Any]:
    """A client of ``scheduler``, or of a LocalCluster of ``workers`` one-thread processes
    (LightGBM's network is global to a process; threads would share the GIL)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as lc,
        Client(lc) as client,
    ):
        yield client


def write_partitions(
    docs: list[dict[str, Any]],
    out: Path,
    rows_per_partition: int,
    positions: list[int] | None = None,
) -> int:
    """Raw documents (labels kept) -> time-ordered ``part.N.parquet``; returns how many.
    ``positions``: each document's place in the input (default: its index), which a
    rejection reports. A ``received_at`` that is not a time sorts last; the workers then
    reject the document with every problem, as the local engine does."""
    received = pd.to_datetime(
        [d.get("received_at") if isinstance(d.get("received_at"), str) else None for d in docs],
        utc=True,
        errors="coerce",
        format="ISO8601",
    )
    frame = pd.DataFrame(
        {
            "referral_id": [str(d.get("referral_id")) for d in docs],
            "received_at": received,
            "document": [json.dumps(d, separators=(",", ":"), default=str) for d in docs],
            "position": list(range(len(docs))) if positions is None else positions,
        }
    ).sort_values("received_at", kind="stable", ignore_index=True, na_position="last")
    out.mkdir(parents=True, exist_ok=True)
    n = max(1, -(-len(frame) // rows_per_partition))
    for i in range(n):
        part = frame.iloc[i * rows_per_partition : (i + 1) * rows_per_partition]
        part.to_parquet(out / f"part.{i:05d}.parquet", index=False)
    return n


def _parse(part: pd.DataFrame, key: bytes, labels: bool) -> Parsed:
    """Validate and pseudonymise a partition; with ``labels`` (training) only the labelled
    referrals are kept, as :func:`training.data.from_labelled` keeps them."""
    docs = [json.loads(d) for d in part["document"]]
    batch = parse_documents(docs, Pseudonymiser(key), labels=labels)
    where = [int(p) for p in part["position"]]
    rejected = [Rejected(where[r.index], r.referral_id, r.problems) for r in batch.rejected]
    good = [g for g in batch.good if g.outcome is not None] if labels else batch.good
    return Parsed(sorted(good, key=lambda g: g.referral.received_at), rejected)


def _outcomes(parsed: Parsed, labels: bool) -> list[Outcome | None] | None:
    return [g.outcome for g in parsed.good] if labels else None


def _events(parsed: Parsed, labels: bool) -> pd.DataFrame:
    return events_for([g.referral for g in parsed.good], _outcomes(parsed, labels))


def _start(parsed: Parsed) -> int | None:
    """A partition's first receipt time (ns): all its queries lie at or after it."""
    return min((int(g.referral.received_at.timestamp() * 1e9) for g in parsed.good), default=None)


def carry(history: pd.DataFrame | None, events: pd.DataFrame, start: int | None) -> pd.DataFrame:
    """The history the next partition (first receipt ``start``, ns) needs: earlier events,
    with everything older than ``start`` minus the platform window folded into one event
    per key (summed weights, at the time of the key's latest sighting). Every query of the
    next partition lies after that time, so counts and "latest sighting" are unchanged."""
    ev = events if history is None else pd.concat([history, events], ignore_index=True)
    if start is None or len(ev) == 0:
        return ev
    seen_t = events.loc[events["seen"] > 0, "t"]
    if len(seen_t) and int(seen_t.max()) > start:
        raise ValueError("partitions are not in time order (sort by received_at)")
    old = ev["t"].to_numpy() < start - PLATFORM_WINDOW_NS
    if not old.any():
        return ev
    past = ev[old].copy()
    past["t_seen"] = past["t"].where(past["seen"] > 0, -1)
    g = past.groupby(["family", "key"], sort=False)
    folded = g[list(WEIGHTS)].sum()
    folded["t"] = np.where(g["t_seen"].max() >= 0, g["t_seen"].max(), g["t"].max())
    folded = folded.reset_index()[list(EVENT_COLUMNS)]
    return pd.concat([folded, ev[~old]], ignore_index=True)


def _features(parsed: Parsed, history: pd.DataFrame | None, labels: bool) -> Features:
    hist = History(buffer_limit=0)  # index the carried history at once
    if history is not None:
        hist.add_events(history)
    return build_features([g.referral for g in parsed.good], _outcomes(parsed, labels), hist)


def score_part(model: TriageModel | None, feats: Features, parsed: Parsed) -> Scores:
    """One partition's answers through the one score-or-rules path
    (:func:`models.scoring_path.score_or_rules`), with its rejected documents."""
    out = score_or_rules(model, feats, referrals=[g.referral for g in parsed.good])
    return Scores([score_line(s) for s in out.scores], parsed.rejected, out.degraded_reason)


def _merge(parts: Sequence[Scores]) -> Scores:
    reasons = [p.degraded_reason for p in parts if p.degraded_reason]
    return Scores(
        [line for p in parts for line in p.lines],
        sorted((r for p in parts for r in p.rejected), key=lambda r: r.index),
        "model_error" if "model_error" in reasons else (reasons[0] if reasons else None),
    )


def feature_graph(
    parquet: Path | str, key: bytes, labels: bool = False, history: Any = None
) -> tuple[list[Any], list[Any]]:
    """Delayed parsed partitions and their features; ``history``: earlier events."""
    import dask
    import dask.dataframe as dd

    parts = dd.read_parquet(str(parquet), columns=list(DOC_COLUMNS)).to_delayed()
    parsed = [dask.delayed(_parse)(p, key, labels) for p in parts]
    feats = []
    for i, items in enumerate(parsed):
        feats.append(dask.delayed(_features)(items, history, labels))
        if i + 1 < len(parsed):
            ev = dask.delayed(_events)(items, labels)
            start = dask.delayed(_start)(parsed[i + 1])  # an int crosses workers, not referrals
            history = dask.delayed(carry)(history, ev, start)
    return parsed, feats


def score_dask(
    parquet: Path | str,
    model: TriageModel | None,
    key: bytes,
    out: Path | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    history: pd.DataFrame | None = None,
) -> Scores:
    """Score every referral in ``parquet`` on the cluster (``model`` None: the safety
    rules, degraded); write ``out`` (JSON Lines of contract §4 answers) if given.
    ``history``: linking events known before the input (``History.events()``).

    The pseudonym key travels in the task graph: run workers inside the same trust
    boundary as the service, with TLS between them (see docs/scaling.md)."""
    import dask

    with cluster(scheduler, workers) as client:
        remote = client.scatter(model, broadcast=True) if model is not None else None
        hist = client.scatter(history) if history is not None and len(history) else None
        parsed, feats = feature_graph(parquet, key, history=hist)
        parts = [dask.delayed(score_part)(remote, f, p) for f, p in zip(feats, parsed, strict=True)]
        result = _merge(dask.compute(*parts))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in result.lines)
    return result


def score_local(
    parquet: Path | str, model: TriageModel | None, key: bytes, history: pd.DataFrame | None = None
) -> Scores:
    """The single-machine path on the same input: all referrals in one batch."""
    part = pd.read_parquet(parquet, columns=list(DOC_COLUMNS))
    parsed = _parse(part.sort_values("received_at", kind="stable"), key, False)
    return _merge([score_part(model, _features(parsed, history, False), parsed)])
