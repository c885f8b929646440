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
parallel. Training reuses the same feature graph and fits each head with ``lightgbm.dask``
(data-parallel LightGBM across the workers); calibration and the tier policy are fitted
on the driver from the calibration window's margins, as in :mod:`training.fit`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract import Outcome
from features.history import History
from features.ingest import Labelled, parse_documents
from features.linking import EVENT_COLUMNS, PLATFORM_WINDOW_NS, WEIGHTS, events_for
from features.pipeline import Features, build_features
from features.pseudonyms import Pseudonymiser
from models.triage_model import TriageModel

DOC_COLUMNS = ("referral_id", "received_at", "document")


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


def write_partitions(docs: list[dict[str, Any]], out: Path, rows_per_partition: int) -> int:
    """Raw documents (labels kept) -> time-ordered ``part.N.parquet``; returns how many."""
    frame = pd.DataFrame(
        {
            "referral_id": [str(d.get("referral_id")) for d in docs],
            "received_at": pd.to_datetime([d.get("received_at") for d in docs], utc=True),
            "document": [json.dumps(d, separators=(",", ":"), default=str) for d in docs],
        }
    ).sort_values("received_at", kind="stable", ignore_index=True)
    out.mkdir(parents=True, exist_ok=True)
    n = max(1, -(-len(frame) // rows_per_partition))
    for i in range(n):
        part = frame.iloc[i * rows_per_partition : (i + 1) * rows_per_partition]
        part.to_parquet(out / f"part.{i:05d}.parquet", index=False)
    return n


def _parse(part: pd.DataFrame, key: bytes, labels: bool) -> list[Labelled]:
    docs = [json.loads(d) for d in part["document"]]
    batch = parse_documents(docs, Pseudonymiser(key), labels=labels)
    return sorted(batch.good, key=lambda g: g.referral.received_at)


def _outcomes(items: list[Labelled], labels: bool) -> list[Outcome | None] | None:
    return [g.outcome for g in items] if labels else None


def _events(items: list[Labelled], labels: bool) -> pd.DataFrame:
    return events_for([g.referral for g in items], _outcomes(items, labels))


def _start(items: list[Labelled]) -> int | None:
    """A partition's first receipt time (ns): all its queries lie at or after it."""
    return min((int(g.referral.received_at.timestamp() * 1e9) for g in items), default=None)


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


def _features(items: list[Labelled], history: pd.DataFrame | None, labels: bool) -> Features:
    hist = History(buffer_limit=0)  # index the carried history at once
    if history is not None:
        hist.add_events(history)
    return build_features([g.referral for g in items], _outcomes(items, labels), hist)


def score_frame(model: TriageModel, feats: Features) -> pd.DataFrame:
    """One flat row per referral; reasons and rules as JSON text."""
    from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES

    scores = model.score(feats) if len(feats) else []
    cols: dict[str, list[Any]] = {
        "referral_id": [s.referral_id for s in scores],
        "tier": [s.tier for s in scores],
        "priority": [s.priority for s in scores],
    }
    for u in URGENCY_CLASSES:
        cols[f"urgency_{u}"] = [s.urgency[u] for s in scores]
    for v in VIABILITY_CLASSES:
        cols[f"viability_{v}"] = [s.viability[v] for s in scores]
    cols["reasons"] = [json.dumps([r.model_dump(mode="json") for r in s.reasons]) for s in scores]
    cols["safety_rules"] = [json.dumps(s.safety_rules) for s in scores]
    cols["model_version"] = [s.model_version for s in scores]
    return pd.DataFrame(cols)


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
    model: TriageModel,
    key: bytes,
    out: Path | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score every referral in ``parquet`` on the cluster; write ``out`` (Parquet) if given.
    ``history``: linking events known before the input (``History.events()``).

    The pseudonym key travels in the task graph: run workers inside the same trust
    boundary as the service, with TLS between them (see docs/scaling.md)."""
    import dask

    with cluster(scheduler, workers) as client:
        remote = client.scatter(model, broadcast=True)
        hist = client.scatter(history) if history is not None and len(history) else None
        _, feats = feature_graph(parquet, key, history=hist)
        frames = [dask.delayed(score_frame)(remote, f) for f in feats]
        result = pd.concat(dask.compute(*frames), ignore_index=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        result.to_parquet(out, index=False)
    return result


def score_local(
    parquet: Path | str, model: TriageModel, key: bytes, history: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The single-machine path on the same input: all referrals in one batch."""
    part = pd.read_parquet(parquet, columns=list(DOC_COLUMNS))
    items = _parse(part.sort_values("received_at", kind="stable"), key, False)
    return score_frame(model, _features(items, history, False))


def _labels(items: list[Labelled]) -> pd.DataFrame:
    outs = [g.outcome for g in items]
    return pd.DataFrame(
        {
            "received_at": pd.to_datetime([g.referral.received_at for g in items], utc=True),
            "decided_at": pd.to_datetime([o.decided_at for o in outs], utc=True),  # type: ignore[union-attr]
            "urgency": [o.urgency for o in outs],  # type: ignore[union-attr]
            "viability": [o.viability for o in outs],  # type: ignore[union-attr]
        }
    )


def _rows(feats: Features, mask: np.ndarray, y: np.ndarray | None = None) -> Any:
    return feats.X[mask].reset_index(drop=True) if y is None else pd.Series(y[mask])


def train_dask(
    parquet: Path | str,
    key: bytes,
    rounds: int = 200,
    scheduler: str | None = None,
    workers: int = 2,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    params: dict[str, Any] | None = None,
) -> tuple[TriageModel, dict[str, Any]]:
    """Train both heads with ``lightgbm.dask`` on the distributed features; ``rounds``
    trees per class (``lightgbm.dask`` has no early stopping). Calibration and the tier
    policy are fitted on the driver from the calibration window, as in ``fit``. Returns
    the model and, per head, the test window's log loss and the training rows."""
    import dask
    import dask.dataframe as dd
    from lightgbm.dask import DaskLGBMClassifier

    from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
    from models import safety
    from models.calibration import fit_vector_scaling
    from models.conformal import fit_sets, split_in_time
    from models.heads import DEFAULT_PARAMS
    from models.manifest import Manifest
    from models.operating_policy import load_policy
    from training.data import class_index
    from training.fit import calibration_scores, fit_tiers
    from training.metrics import head_metrics
    from training.splits import time_split

    classes = {"urgency": URGENCY_CLASSES, "viability": VIABILITY_CLASSES}
    p = {k: v for k, v in {**DEFAULT_PARAMS, **(params or {})}.items() if k != "num_class"}
    with cluster(scheduler, workers) as client:
        parsed, feats = feature_graph(parquet, key, labels=True)
        feats = client.persist(feats)
        lab = dask.compute(*[dask.delayed(_labels)(items) for items in parsed])
        sizes = [len(x) for x in lab]
        y_all = pd.concat(lab, ignore_index=True)
        split = time_split(y_all["received_at"], y_all["decided_at"], fractions)
        cuts = np.cumsum([0, *sizes])
        masks = {
            w: [getattr(split, w)[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
            for w in ("train", "calibrate", "test")
        }
        used = [i for i, m in enumerate(masks["train"]) if m.any()]  # no empty parts
        X_meta = dask.compute(dask.delayed(_rows)(feats[0], np.zeros(sizes[0], bool)))[0]
        X_tr = dd.from_delayed(
            [dask.delayed(_rows)(feats[i], masks["train"][i]) for i in used],
            meta=X_meta,
        )
        local = {
            w: pd.concat(
                dask.compute(
                    *[dask.delayed(_rows)(f, m) for f, m in zip(feats, masks[w], strict=True)]
                ),
                ignore_index=True,
            )
            for w in ("calibrate", "test")
        }
        # calibration on the window's earlier half, urgency sets on its later half (fit.py)
        cal_fit, cal_sets = split_in_time(
            split.calibrate, 0.5, pd.to_datetime(y_all["received_at"], utc=True).to_numpy()
        )
        in_sets = cal_sets[split.calibrate]
        boosters, cal, info = {}, {}, {}
        for head, names in classes.items():
            y = class_index(y_all[head].to_numpy(), names)
            ys = [y[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
            y_tr = dd.from_delayed(
                [
                    dask.delayed(_rows)(f, m, yy)
                    for f, m, yy in ((feats[i], masks["train"][i], ys[i]) for i in used)
                ],
                meta=pd.Series(dtype=np.int32),
            )
            clf = DaskLGBMClassifier(client=client, n_estimators=rounds, **p)
            clf.fit(X_tr, y_tr)
            boosters[head] = b = clf.booster_
            m = np.asarray(b.predict(local["calibrate"], raw_score=True))
            cal[head] = fit_vector_scaling(m[~in_sets], y[cal_fit])
            pt = cal[head](np.asarray(b.predict(local["test"], raw_score=True)))
            met = head_metrics(y_all[head].to_numpy()[split.test], pt, names)
            info[head] = {"test_log_loss": met["log_loss"], "train_rows": int(split.train.sum())}
    Xc = local["calibrate"]
    pu = cal["urgency"](np.asarray(boosters["urgency"].predict(Xc, raw_score=True)))
    floor = safety.floor_rank(safety.fired(Xc))
    received = y_all["received_at"].to_numpy()[split.calibrate]
    policy = fit_tiers(calibration_scores(pu, floor, received), load_policy())
    y_cal = y_all["urgency"].to_numpy()[split.calibrate]
    sets = fit_sets(pu[in_sets], class_index(y_cal[in_sets], URGENCY_CLASSES))
    manifest = Manifest(
        created_at=pd.Timestamp.now(tz="UTC").isoformat(),
        git_commit="dask",
        training={"engine": "dask", "rounds": rounds, "heads": info, "split": split.describe()},
    )
    return TriageModel(boosters, cal, policy, manifest, sets=sets), info
