"""Disparities, Aequitas style: error rates per group relative to a reference group.

At the operating point (a referral is *flagged* when the model puts it in the immediate
tier), for each grouping (source, jurisdiction, incident type, new platform, and the
generative-AI, minor-to-minor and possible-self-production annotations) and each group:
false-negative rate (urgent referrals not flagged), false-positive rate (others flagged)
and flagged share, each with a bootstrap interval, and each as a ratio to the reference
group (the largest group, Aequitas' default) with a bootstrap interval.

Every fairlearn import is in this module (:func:`_metric_frame`): fairlearn's
``MetricFrame`` computes the per-group rates. Two things it does not do are done here:
a disparity against a chosen reference group (its ratios are between the extreme groups
or against the overall value), and cheap intervals: its own bootstrap rebuilds the whole
frame per resample (about a minute per grouping at 10k referrals on a busy 2-core host),
so the intervals of the rates and of the ratios come from one bootstrap of group counts,
the same resampled referrals for a group and its reference.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

GROUPINGS = (
    "source",
    "jurisdiction",
    "incident_type",
    "new_platform",
    "generative_ai",
    "minor_to_minor",
    "possible_self_production",
)
METRICS = ("fnr", "fpr", "flagged_share")
MIN_GROUP = 30  # referrals; below this a group's rates are reported as too few
CI = (0.025, 0.975)


def group_columns(X: pd.DataFrame) -> dict[str, np.ndarray]:
    """The group of each referral for each grouping, from the feature frame."""

    def yes_no(col: str) -> np.ndarray:
        return np.where(X[col].to_numpy(dtype=float) >= 0.5, "yes", "no")

    seen = X["platform_seen"].to_numpy(dtype=float)
    return {
        "source": X["source"].astype(object).fillna("missing").to_numpy(dtype=object),
        "jurisdiction": X["jurisdiction"].astype(object).fillna("missing").to_numpy(dtype=object),
        "incident_type": X["incident_type"].astype(object).fillna("missing").to_numpy(dtype=object),
        "new_platform": np.where(seen >= 0.5, "seen_before", "new_or_none"),
        "generative_ai": yes_no("fa_generative_ai"),
        "minor_to_minor": yes_no("ann_minor_to_minor"),
        "possible_self_production": yes_no("fa_possible_self_production"),
    }


def _metric_frame(positive: np.ndarray, flagged: np.ndarray, groups: np.ndarray) -> Any:
    from fairlearn.metrics import (
        MetricFrame,
        false_negative_rate,
        false_positive_rate,
        selection_rate,
    )

    return MetricFrame(
        metrics={
            "fnr": lambda t, p: false_negative_rate(t, p, pos_label=1) if t.sum() else np.nan,
            "fpr": lambda t, p: false_positive_rate(t, p, pos_label=1) if (1 - t).sum() else np.nan,
            "flagged_share": lambda t, p: selection_rate(t, p, pos_label=1),
        },
        y_true=positive.astype(int),
        y_pred=flagged.astype(int),
        sensitive_features=pd.Series(groups, name="group"),
    )


def _rates(pos: np.ndarray, flag: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """(k, 3) FNR, FPR, flagged share per group code (NaN where undefined)."""
    n = np.bincount(codes, minlength=k).astype(float)
    p = np.bincount(codes, weights=pos, minlength=k)
    fn = np.bincount(codes, weights=pos & ~flag, minlength=k)
    fp = np.bincount(codes, weights=~pos & flag, minlength=k)
    f = np.bincount(codes, weights=flag, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([fn / p, fp / (n - p), f / n], axis=1)


def _intervals(
    pos: np.ndarray, flag: np.ndarray, codes: np.ndarray, k: int, ref: int, n_boot: int
) -> tuple[np.ndarray, np.ndarray]:
    """(k, 3, 2) bootstrap intervals of each group's rates and of their ratios to the
    reference group's, from the same resamples (group counts, so 200 resamples are cheap)."""
    rng = np.random.default_rng(0)
    rates, ratios = [], []
    for _ in range(n_boot):
        i = rng.integers(0, len(pos), len(pos))
        r = _rates(pos[i], flag[i], codes[i], k)
        rates.append(r)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios.append(r / r[ref])
    with warnings.catch_warnings():  # a group without positives has no FNR: NaN, not noise
        warnings.simplefilter("ignore", RuntimeWarning)
        return tuple(  # type: ignore[return-value]
            np.moveaxis(np.nanquantile(np.array(d), CI, axis=0), 0, -1) for d in (rates, ratios)
        )


def _num(v: Any) -> float | None:
    v = float(v)
    return v if np.isfinite(v) else None


def disparity_table(
    positive: np.ndarray, flagged: np.ndarray, groups: np.ndarray, n_boot: int = 200
) -> dict[str, Any]:
    """One grouping's table: per group the rates, their intervals and the ratios to the
    reference group (the largest), with intervals."""
    positive, flagged = np.asarray(positive, bool), np.asarray(flagged, bool)
    levels, codes = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    counts = np.bincount(codes, minlength=len(levels))
    ref = int(np.argmax(counts))
    mf = _metric_frame(positive, flagged, np.asarray(groups, dtype=str))
    point = _rates(positive, flagged, codes, len(levels))
    rate_ci, ratio_ci = _intervals(positive, flagged, codes, len(levels), ref, n_boot)
    rows = []
    for j, g in enumerate(levels):
        row: dict[str, Any] = {
            "group": str(g),
            "n": int(counts[j]),
            "n_immediate": int(positive[codes == j].sum()),
            "status": "too_few" if counts[j] < MIN_GROUP else "ok",
        }
        for m_i, m in enumerate(METRICS):
            val = point[j, m_i]
            row[m] = _num(mf.by_group[m][g])
            row[f"{m}_ci95"] = [_num(rate_ci[j, m_i, 0]), _num(rate_ci[j, m_i, 1])]
            with np.errstate(invalid="ignore", divide="ignore"):
                row[f"{m}_ratio"] = _num(val / point[ref, m_i])
            row[f"{m}_ratio_ci95"] = [_num(ratio_ci[j, m_i, 0]), _num(ratio_ci[j, m_i, 1])]
        rows.append(row)
    return {"reference": str(levels[ref]), "groups": rows}


def disparities(
    X: pd.DataFrame, positive: np.ndarray, flagged: np.ndarray, n_boot: int = 200
) -> dict[str, Any]:
    """The report's ``disparities`` block: one table per grouping of :data:`GROUPINGS`."""
    cols = group_columns(X)
    return {
        "flagged": "the model's tier is immediate",
        "positive": "the recorded urgency is immediate",
        "n_boot": n_boot,
        "min_group": MIN_GROUP,
        "groupings": {g: disparity_table(positive, flagged, cols[g], n_boot) for g in GROUPINGS},
    }
