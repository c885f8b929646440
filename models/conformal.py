"""The doubt flag: a class-conditional (Mondrian) split-conformal prediction set for urgency.

A calibrated P(immediate) of 0.4 % does not say whether the model can *exclude*
"immediate". The prediction set does: it holds every urgency class the referral cannot
be ruled out of at the target level, and ``cannot_rule_out_immediate`` says whether
"immediate" is among them. Class-conditional means the guarantee holds *per true class*:
of the referrals that truly are immediate, at least ``target`` (95 %) get a set holding
"immediate", whatever the class balance (a plain split-conformal set would spend its 5 %
of misses on the rare class).

How. Non-conformity of class ``c`` for a referral is ``1 - P(c)`` (calibrated). For each
class, take the calibration referrals truly of that class (``q`` of them) and their
scores; class ``c`` enters a new referral's set when its p-value
``(#{calibration scores >= its score} + 1) / (q + 1)`` is at least ``1 - target``. That is
one threshold per class (the ``k``-th largest calibration score, ``k = ceil((1 - target)
(q + 1)) - 1``), which is all the artefact stores. Sets may be empty (a referral unlike
the calibration examples of every class) or hold all three.

Data. The sets are fitted on the *later half* of the calibration window, which the
probability calibration (vector scaling, fitted on the earlier half) never saw; the
boosters never saw either half. The later half is the one nearest the test window in
time. The guarantee assumes the new referrals are exchangeable with those calibration
referrals: arrivals drift (new platforms, surges, policy changes), so coverage is
*measured* on the test window (evaluation report key ``conformal``) and gated on at
promotion, not taken on trust.

Library. crepes (``ConformalClassifier`` with the true class as Mondrian category,
non-smoothed p-values) computes exactly these sets, and ``tests/unit/test_conformal.py``
holds our sets to crepes' answer. Scoring does not call it: its ``predict_set`` loops in
Python over rows x classes x calibration scores (0.4 s per 1,000 rows against 6,000
calibration scores here), where batch scoring handles 100,000 rows at a time; three
stored thresholds give the same sets in one comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.contract import URGENCY_CLASSES, Urgency

TARGET = 0.95
ALWAYS = 1.0  # a threshold that admits every score (1 - P >= 0 ... <= 1)


@dataclass(frozen=True)
class UrgencySets:
    """Per-class thresholds on ``1 - P(class)``, in ``URGENCY_CLASSES`` order."""

    target: float
    thresholds: tuple[float, ...]
    calibration_counts: tuple[int, ...]

    def members(self, p_urgency: np.ndarray) -> np.ndarray:
        """Boolean (n, 3): which classes are in each referral's set."""
        alphas = 1.0 - np.asarray(p_urgency, dtype=float)
        return alphas <= np.asarray(self.thresholds)[None, :]

    def as_dict(self) -> dict[str, object]:
        return {
            "target": self.target,
            "thresholds": list(self.thresholds),
            "calibration_counts": list(self.calibration_counts),
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> UrgencySets:
        return cls(
            float(d["target"]),  # type: ignore[arg-type]
            tuple(float(x) for x in d["thresholds"]),  # type: ignore[attr-defined]
            tuple(int(x) for x in d["calibration_counts"]),  # type: ignore[attr-defined]
        )


def class_threshold(alphas: np.ndarray, target: float) -> float:
    """The largest score whose non-smoothed p-value among ``alphas`` is >= 1 - target.

    The p-value of a score is ``(m + 1) / (q + 1)`` with ``m`` the calibration scores at
    least as large, so it passes once ``m >= k``; ``k`` is found with the same floating
    comparison crepes makes (``1 - 0.95`` is a hair above 0.05), so the sets agree with
    crepes' exactly, boundary cases included.
    """
    q, eps = len(alphas), 1.0 - target
    need = max(1, math.ceil(eps * (q + 1)))  # smallest m + 1 with (m + 1) / (q + 1) >= eps
    while need > 1 and (need - 1) / (q + 1) >= eps:
        need -= 1
    while need / (q + 1) < eps:
        need += 1
    k = need - 1
    if k <= 0:  # too few examples to exclude anything at this level
        return ALWAYS
    return float(np.sort(alphas)[::-1][k - 1])


def fit_sets(p_urgency: np.ndarray, y_index: np.ndarray, target: float = TARGET) -> UrgencySets:
    """Fit on calibrated probabilities (n, 3) and true class indices of calibration rows
    that neither the boosters nor the probability calibration were fitted on."""
    p = np.asarray(p_urgency, dtype=float)
    y = np.asarray(y_index)
    if p.ndim != 2 or p.shape[1] != len(URGENCY_CLASSES):
        raise ValueError(f"p_urgency: must have one column per urgency class, got {p.shape}")
    if len(y) != len(p):
        raise ValueError(f"y_index: {len(y)} labels for {len(p)} rows of probabilities")
    if not 0 < target < 1:
        raise ValueError("target: must be between 0 and 1")
    thresholds, counts = [], []
    for c in range(len(URGENCY_CLASSES)):
        alphas = 1.0 - p[y == c, c]
        thresholds.append(class_threshold(alphas, target))
        counts.append(len(alphas))
    return UrgencySets(target, tuple(thresholds), tuple(counts))


def split_in_time(
    mask: np.ndarray, later_share: float = 0.5, times: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(earlier, later)``: the rows of ``mask`` split in time, the last ``later_share``
    of them in ``later``. Rows are taken to be in time order unless ``times`` is given."""
    idx = np.flatnonzero(mask)
    if times is not None:
        idx = idx[np.argsort(np.asarray(times)[idx], kind="stable")]
    cut = len(idx) - max(1, int(round(len(idx) * later_share)))
    earlier, later = np.zeros(len(mask), dtype=bool), np.zeros(len(mask), dtype=bool)
    earlier[idx[:cut]] = True
    later[idx[cut:]] = True
    return earlier, later


def set_lists(members: np.ndarray) -> list[list[Urgency]]:
    """Boolean (n, 3) membership as lists of class names, most urgent first."""
    return [[c for c, m in zip(URGENCY_CLASSES, row, strict=True) if m] for row in members]


def degraded_members(floor_rank: np.ndarray) -> np.ndarray:
    """Sets without a model: every class at or above the safety floor's tier.

    With no model nothing can be ruled out statistically, so the set is all three
    classes; a safety rule that fired asserts the referral is at least that urgent, so
    the classes below its floor are left out (floor ``high``: immediate and high; floor
    ``immediate``: immediate alone). "immediate" is always in a degraded set.
    """
    rank_of_class = np.array([2, 1, 0])  # URGENCY_CLASSES order: immediate, high, routine
    return rank_of_class[None, :] >= np.asarray(floor_rank)[:, None]


def coverage_summary(members: np.ndarray, y_urgency: np.ndarray, target: float) -> dict[str, Any]:
    """What the evaluation report records under ``conformal``: per true class, the share
    whose set holds it (``None`` for a class absent from the window); the mean set size;
    the share of referrals flagged "cannot rule out immediate"."""
    y = np.asarray(y_urgency)
    coverage = {
        c: (float(members[y == c, j].mean()) if (y == c).any() else None)
        for j, c in enumerate(URGENCY_CLASSES)
    }
    return {
        "target": target,
        "coverage": coverage,
        "mean_set_size": float(members.sum(axis=1).mean()),
        "share_cannot_rule_out_immediate": float(members[:, 0].mean()),
    }
