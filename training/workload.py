"""The workload–recall curve: what a tier of a given size buys, with its uncertainty.

A unit lead chooses how many arrivals a tier may hold (``models/operating_policy.toml``);
this module answers what that buys: of the truly urgent referrals, the share that land in
the top ``share`` of arrivals under an ordering. The same function measures the model,
the oracle and the baselines, so the curves compare like for like.

Conventions (pinned by ``tests/unit/test_workload.py``):

* rows are in **arrival order**; ties in the ordering go to the earlier arrival (a stable
  sort), so equal scores never reorder by chance;
* the top ``share`` holds ``floor(share × n)`` rows (a tier never holds more than its cap);
* recall is NaN when the window has no positives (nothing to recall, not zero);
* intervals are percentile bootstraps over referrals; every ordering is resampled with the
  *same* draws (a paired bootstrap), so the difference between two orderings has an honest
  interval of its own (:func:`paired_difference`, used by the promotion gate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

SHARES: tuple[float, ...] = tuple(round(i / 100, 2) for i in range(1, 31))
HEADLINE_SHARES: tuple[float, ...] = (0.02, 0.05, 0.10, 0.20)
TARGETS: dict[str, tuple[str, ...]] = {
    "immediate": ("immediate",),
    "immediate_or_high": ("immediate", "high"),
}
DEFAULT_BOOT = 200
LEVEL = 0.95


def top_count(n: int, share: float) -> int:
    """Rows in the top ``share`` of ``n`` (floor; a tiny tolerance absorbs 0.29 × 100 =
    28.999…, which would otherwise lose a row to floating point)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share: must be within [0, 1], got {share}")
    return int(np.floor(share * n + 1e-9))


def arrival_order(order_score: Any) -> np.ndarray:
    """Row indices, highest score first, ties to the earlier row (stable)."""
    s = np.asarray(order_score, dtype=np.float64)
    if not np.isfinite(s).all():
        raise ValueError("order_score: has missing or infinite values; score every referral")
    return np.argsort(-s, kind="stable")


def recall_at_share(order_score: Any, positive: Any, share: float) -> float:
    """Fraction of the positives that fall in the top ``share`` of rows by ``order_score``
    (rows in arrival order; ties broken by arrival order)."""
    pos = np.asarray(positive, dtype=bool)
    order = arrival_order(order_score)
    if len(order) != len(pos):
        raise ValueError("order_score and positive differ in length")
    n_pos = int(pos.sum())
    if n_pos == 0:
        return float("nan")
    k = top_count(len(pos), share)
    return float(pos[order[:k]].sum() / n_pos)


def _boot_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n) multiplicities of a bootstrap over rows (one draw shared by all
    orderings: the pairing)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, n), dtype=np.int32)
    for b in range(n_boot):
        out[b] = np.bincount(rng.integers(0, n, n), minlength=n)
    return out


def _boot_recalls(
    order: np.ndarray, pos: np.ndarray, counts: np.ndarray, shares: Sequence[float]
) -> np.ndarray:
    """(n_boot, len(shares)) recall on each resample: the resample's rows keep the ordering's
    order, so its top ``share`` is a prefix of the cumulated multiplicities (the last row
    that straddles the cut counts with the copies that still fit)."""
    pos_o = pos[order].astype(np.int64)
    share_arr = np.asarray(shares, dtype=np.float64)
    out = np.full((len(counts), len(shares)), np.nan)
    for b in range(len(counts)):
        c = counts[b, order].astype(np.int64)
        cum = np.cumsum(c)
        hits = np.cumsum(c * pos_o)
        if hits[-1] == 0:
            continue
        k = np.floor(share_arr * cum[-1] + 1e-9).astype(np.int64)
        idx = np.searchsorted(cum, k, side="right")  # rows wholly inside the top k
        inside = np.where(idx > 0, hits[np.maximum(idx - 1, 0)], 0)
        before = np.where(idx > 0, cum[np.maximum(idx - 1, 0)], 0)
        nxt = np.minimum(idx, len(order) - 1)
        partial = np.where(idx < len(order), (k - before) * pos_o[nxt], 0)
        out[b] = (inside + partial) / hits[-1]
    return out


def _interval(draws: np.ndarray, level: float = LEVEL) -> tuple[float | None, float | None]:
    d = draws[np.isfinite(draws)]
    if len(d) == 0:
        return None, None
    a = (1 - level) / 2
    return float(np.quantile(d, a)), float(np.quantile(d, 1 - a))


def positives(y_urgency: Any, target: str) -> np.ndarray:
    if target not in TARGETS:
        raise ValueError(f"target: one of {sorted(TARGETS)}, got {target!r}")
    return np.isin(np.asarray(y_urgency, dtype=object), TARGETS[target])


def workload_recall_curve(
    orderings: Mapping[str, Any],
    y_urgency: Any,
    shares: Sequence[float] = SHARES,
    *,
    n_boot: int = DEFAULT_BOOT,
    seed: int = 0,
) -> dict[str, Any]:
    """Recall of each target at each share for each ordering, with paired-bootstrap 95 %
    intervals, and each ordering's ratio to the oracle's recall where an oracle is given.

    ``orderings``: name → order score per row (rows in arrival order, higher first), or
    name → {target: order score} when an ordering ranks each target its own way (the
    model fills ``immediate`` by P(immediate) and ``high`` by P(immediate) + P(high));
    ``y_urgency``: true urgency class names. Returns the ``workload_recall`` block of the
    evaluation report (``docs/evaluation.md``).
    """
    y = np.asarray(y_urgency, dtype=object)
    counts = _boot_counts(len(y), n_boot, seed) if n_boot > 0 else None
    curves: dict[str, Any] = {}
    for name, given in orderings.items():
        per_target: dict[str, Any] = {}
        for target in TARGETS:
            score = given[target] if isinstance(given, Mapping) else given
            order = arrival_order(score)
            if len(order) != len(y):
                raise ValueError(f"orderings[{name!r}]: {len(order)} rows, labels have {len(y)}")
            pos = positives(y, target)
            point = [recall_at_share(score, pos, s) for s in shares]
            boots = _boot_recalls(order, pos, counts, shares) if counts is not None else None
            rows = []
            for j, s in enumerate(shares):
                lo, hi = _interval(boots[:, j]) if boots is not None else (None, None)
                rows.append({"share": s, "recall": point[j], "low": lo, "high": hi})
            per_target[target] = rows
        curves[name] = per_target
    out: dict[str, Any] = {
        "shares": list(shares),
        "targets": {t: list(c) for t, c in TARGETS.items()},
        "n": len(y),
        "positives": {t: int(positives(y, t).sum()) for t in TARGETS},
        "bootstrap": {"n_boot": n_boot, "level": LEVEL, "seed": seed, "paired": True},
        "tie_break": "order score descending, then earlier arrival",
        "curves": curves,
    }
    if "oracle" in curves:
        out["ratio_to_oracle"] = {
            name: {
                t: {
                    str(round(r["share"] * 100)): _ratio(r["recall"], o["recall"])
                    for r, o in zip(c[t], curves["oracle"][t], strict=True)
                    if r["share"] in HEADLINE_SHARES
                }
                for t in TARGETS
            }
            for name, c in curves.items()
            if name != "oracle"
        }
    return out


def _ratio(a: float, b: float) -> float | None:
    if not (np.isfinite(a) and np.isfinite(b)) or b == 0:
        return None
    return float(a / b)


def paired_difference(
    in_tier_a: Any, in_tier_b: Any, positive: Any, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, float | None]:
    """Recall of tier membership ``a`` minus that of ``b`` on the same referrals, with a
    paired-bootstrap 95 % interval (both recalls computed on each resample)."""
    a, b = np.asarray(in_tier_a, dtype=bool), np.asarray(in_tier_b, dtype=bool)
    pos = np.asarray(positive, dtype=bool)
    if not (len(a) == len(b) == len(pos)):
        raise ValueError("in_tier_a, in_tier_b and positive differ in length")
    if not pos.any():
        return {"difference": None, "low": None, "high": None}
    diff = float((a & pos).sum() - (b & pos).sum()) / float(pos.sum())
    rng = np.random.default_rng(seed)
    draws = np.empty(n_boot)
    for i in range(n_boot):
        c = np.bincount(rng.integers(0, len(pos), len(pos)), minlength=len(pos)) * pos
        total = c.sum()
        draws[i] = np.nan if total == 0 else ((c * a).sum() - (c * b).sum()) / total
    lo, hi = _interval(draws)
    return {"difference": diff, "low": lo, "high": hi}


def curve_table(
    block: Mapping[str, Any], target: str = "immediate", shares: Sequence[float] | None = None
) -> pd.DataFrame:
    """The curve as a readable table: one row per share, per ordering "recall [low, high]"
    (what ``triage policy curve`` prints and the model card shows)."""
    rows: dict[str, dict[str, str]] = {}
    for name, per_target in block["curves"].items():
        for r in per_target[target]:
            if shares is not None and r["share"] not in shares:
                continue
            cell = "-" if r["recall"] is None else f"{r['recall']:.3f}"
            if r.get("low") is not None and r.get("high") is not None:
                cell += f" [{r['low']:.2f}, {r['high']:.2f}]"
            rows.setdefault(f"{r['share']:.0%}", {})[name] = cell
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("tier share")
