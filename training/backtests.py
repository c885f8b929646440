"""Rolling-origin backtests and the audition of model configurations across folds.

Each fold refits on everything before its origin (labels decided by then), calibrates on
the next window and is judged on the one after: immediate ROC-AUC, recall at the top 5 %
and, at the operating point (the model's immediate tier), recall and precision of
immediate referrals per week of the test window. The spread across folds (mean, standard
deviation, min, max) says how much one test window's figure can be trusted.

Labels as in the evaluation and the gate: a fold is judged only on labels made without a
model's output on screen (``training.data.independent``; its ``labels`` block counts them
by provenance), and the logistic candidate learns from the labels the model learns from,
weighted by ``TrainConfig.label_weights``.

The audition (after dssg/triage's) refits other configurations on the same folds and
scores them the same way: ``logistic`` (:mod:`training.baselines`), ``shallow`` (the
product's LightGBM with 7-leaf trees of depth 3). The product configuration is always in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from training.baselines import fit_logistic, predict_logistic, scores_row
from training.data import Dataset, independent, label_summary
from training.evaluate import IMMEDIATE_RANK, window
from training.fit import TrainConfig, fit, label_weights
from training.metrics import capacity_metrics, k_for_staffing
from training.splits import Split, maturity, rolling_origins

Progress = Callable[[str], None]
AUDITION: dict[str, dict[str, Any]] = {
    "shallow": {"params": {"num_leaves": 7, "max_depth": 3}},
}
CANDIDATES = ("product", "logistic", *AUDITION)
SPREAD_KEYS = ("immediate_roc_auc", "immediate_recall_top_5pct", "recall_at_operating_point")


def folds(ds: Dataset, n: int) -> list[Split]:
    """``n`` rolling origins; windows of 1/(n+4) of the span (1/8 for up to 4 folds, as
    before), so eight folds fit with a training window of at least four."""
    t = pd.to_datetime(ds.feats.meta["received_at"], utc=True)
    span = t.max() - t.min() + pd.Timedelta(seconds=1)
    # windows end where the labels of every class have had time to arrive
    mature = None if ds.decided_at is None else maturity(t, ds.decided_at, ds.y_urgency)
    return rolling_origins(t, ds.decided_at, n, span / max(8, n + 4), mature=mature)


def weekly(
    received_at: pd.Series, positive: np.ndarray, flagged: np.ndarray
) -> list[dict[str, Any]]:
    """Recall and precision of immediate at the operating point, per week of the window."""
    week = pd.to_datetime(received_at, utc=True).dt.tz_convert(None).dt.to_period("W")
    frame = pd.DataFrame({"week": week.astype(str), "pos": positive, "flag": flagged})
    rows = []
    for w, g in frame.groupby("week", sort=True):
        tp = int((g.pos & g.flag).sum())
        rows.append(
            {
                "week": str(w),
                "n": len(g),
                "n_immediate": int(g.pos.sum()),
                "n_flagged": int(g.flag.sum()),
                "recall": tp / int(g.pos.sum()) if g.pos.any() else None,
                "precision": tp / int(g.flag.sum()) if g.flag.any() else None,
            }
        )
    return rows


def _judge(
    score: np.ndarray,
    flagged: np.ndarray | None,
    ds: Dataset,
    test: np.ndarray,
    priority: np.ndarray | None = None,
) -> dict[str, Any]:
    meta = ds.feats.meta[test]
    y = ds.y_urgency[test]
    pos = y == "immediate"
    ids = meta["referral_id"].to_numpy()
    row = {"n": len(y), **scores_row(score, pos, meta["received_at"], ids)}
    if priority is not None:  # the queue order the unit works (tiers, safety floor)
        k = k_for_staffing(len(y), 1.0, len(y) / 5.0)
        cap = capacity_metrics(y, priority, k, received_at=meta["received_at"], ids=ids)
        row["immediate_recall_at_capacity"] = cap["at_k"][0]["immediate_recall"]
    if flagged is not None:
        tp = int((pos & flagged).sum())
        row["recall_at_operating_point"] = tp / int(pos.sum()) if pos.any() else None
        row["precision_at_operating_point"] = tp / int(flagged.sum()) if flagged.any() else None
        row["weeks"] = weekly(meta["received_at"], pos, flagged)
    return row


def _candidate(
    name: str, ds: Dataset, split: Split, cfg: TrainConfig, progress: Progress
) -> dict[str, Any]:
    judged = split.test & independent(ds)  # as the evaluation and the gate judge
    feats = window(ds, judged)
    if name == "logistic":  # learns from the labels the model learns from, as weighted
        w = label_weights(ds, cfg)
        train = split.train & (w > 0)
        pipe = fit_logistic(ds.feats.X[train], ds.y_urgency[train], w[train])
        return _judge(predict_logistic(pipe, feats.X)[:, 0], None, ds, judged)
    c = (
        cfg
        if name == "product"
        else cfg.model_copy(update={"params": {**cfg.params, **AUDITION[name]["params"]}})
    )
    model, _ = fit(ds, split, c, progress=progress)
    pred = model.predict(feats)
    return _judge(pred.p_urgency[:, 0], pred.rank == IMMEDIATE_RANK, ds, judged, pred.priority)


def _prefixed(progress: Progress, prefix: str) -> Progress:
    return lambda msg: progress(prefix + msg)


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    v = np.array([x for x in values if x is not None], dtype=float)
    if not len(v):
        return {"mean": None, "sd": None, "min": None, "max": None}
    return {
        "mean": float(v.mean()),
        "sd": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
        "min": float(v.min()),
        "max": float(v.max()),
    }


def run(
    ds: Dataset,
    cfg: TrainConfig,
    n_folds: int,
    candidates: Sequence[str] = ("product",),
    progress: Progress = lambda _m: None,
) -> dict[str, Any]:
    """The report's ``backtest`` block: per fold and candidate, then spreads and audition."""
    unknown = set(candidates) - set(CANDIDATES)
    if unknown:
        raise ValueError(f"audition: unknown configurations {sorted(unknown)}; known: {CANDIDATES}")
    names = ["product", *[c for c in candidates if c != "product"]]
    rows = []
    for i, split in enumerate(folds(ds, n_folds), 1):
        lo, hi = split.bounds[2], split.bounds[3]
        progress(f"backtest {i}/{n_folds}: test window {lo:%Y-%m-%d} to {hi:%Y-%m-%d}")
        row = {
            "fold": i,
            "test_from": lo.isoformat(),
            "test_to": hi.isoformat(),
            "n_train": int(split.train.sum()),
            "n_test": int(split.test.sum()),
            # judged on labels made without a model on screen, as evaluation and the gate
            "labels": label_summary(ds, split.test, split.test & independent(ds)),
        }
        say: Progress = _prefixed(progress, f"  [fold {i}] ")
        row["candidates"] = {name: _candidate(name, ds, split, cfg, say) for name in names}
        rows.append(row)
        prod = row["candidates"]["product"]
        progress(f"  [fold {i}] immediate ROC-AUC {prod['immediate_roc_auc'] or float('nan'):.4f}")
    audition: dict[str, dict[str, Any]] = {
        name: {
            k: spread([r["candidates"][name].get(k) for r in rows])
            for k in SPREAD_KEYS
            if k in rows[0]["candidates"][name]
        }
        if rows
        else {}
        for name in names
    }
    for name in names:
        audition[name]["wins_on_immediate_roc_auc"] = sum(
            1
            for r in rows
            if max(names, key=lambda m: r["candidates"][m]["immediate_roc_auc"] or 0.0) == name
        )
    return {"n_folds": len(rows), "candidates": names, "folds": rows, "audition": audition}


def legacy_rows(block: dict[str, Any]) -> list[dict[str, Any]]:
    """The flat per-fold rows of the product configuration (``report["backtests"]``)."""
    out = []
    for r in block["folds"]:
        p = r["candidates"]["product"]
        out.append(
            {
                "fold": r["fold"],
                "test_from": r["test_from"],
                "test_to": r["test_to"],
                "n_train": r["n_train"],
                "n_test": r["n_test"],
                "immediate_roc_auc": p["immediate_roc_auc"],
                "immediate_recall_at_capacity": p["immediate_recall_at_capacity"],
                "immediate_recall_top_5pct": p["immediate_recall_top_5pct"],
                "recall_at_operating_point": p["recall_at_operating_point"],
                "precision_at_operating_point": p["precision_at_operating_point"],
            }
        )
    return out


def backtest_metrics(block: dict[str, Any]) -> dict[str, float]:
    """Flat MLflow metrics of the audition: ``audition_<config>_<metric>_<mean|sd>``."""
    out = {}
    for name, row in block["audition"].items():
        for key, stats in row.items():
            if isinstance(stats, dict):
                for s in ("mean", "sd"):
                    if stats.get(s) is not None:
                        out[f"audition_{name}_{key}_{s}"] = float(stats[s])
            else:
                out[f"audition_{name}_{key}"] = float(stats)
    return out
