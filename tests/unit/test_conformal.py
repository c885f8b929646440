"""The urgency prediction set: the thresholds on hand-built arrays, the sets against
crepes (a maintained conformal library) as reference, coverage by construction, the
degraded sets and the time split."""

from __future__ import annotations

import numpy as np
import pytest
from crepes import ConformalClassifier
from hypothesis import given, settings
from hypothesis import strategies as st

from models.conformal import (
    ALWAYS,
    UrgencySets,
    class_threshold,
    degraded_members,
    fit_sets,
    set_lists,
    split_in_time,
)


def test_threshold_on_hand_built_scores() -> None:
    # 40 scores 0.01..0.40: a new score's p-value is (m + 1) / 41 with m the scores at
    # least as large; 0.39 has m = 2: 3/41 = 0.073 >= 0.05 (in); 0.395 has m = 1:
    # 2/41 = 0.049 (out). So the limit is the second largest score.
    alphas = np.arange(1, 41) / 100
    assert class_threshold(alphas, 0.95) == 0.39
    assert fit_sets(_one_hot_scores(alphas), np.zeros(40, int)).thresholds[0] == 0.39
    # 60 scores: 4/61 >= 0.05 > 3/61, so the third largest
    assert class_threshold(np.arange(1, 61) / 100, 0.95) == 0.58
    # at 90 %: 5/41 >= 0.10 > 4/41, the fourth largest of the 40
    assert class_threshold(alphas, 0.90) == 0.37
    # 18 scores cannot exclude anything at 95 %: (0 + 1) / 19 > 0.05
    assert class_threshold(np.arange(1, 19) / 100, 0.95) == ALWAYS
    assert class_threshold(np.array([]), 0.95) == ALWAYS


def _one_hot_scores(alphas: np.ndarray) -> np.ndarray:
    """Probabilities whose class-0 score (1 - P) is ``alphas``."""
    p0 = 1 - alphas
    return np.column_stack([p0, (1 - p0) / 2, (1 - p0) / 2])


def _crepes_sets(p_cal: np.ndarray, y_cal: np.ndarray, p_new: np.ndarray) -> np.ndarray:
    """What crepes' class-conditional conformal classifier answers (non-smoothed)."""
    cc = ConformalClassifier().fit(1 - p_cal[np.arange(len(y_cal)), y_cal], bins=y_cal)
    alphas = 1 - p_new
    return np.array(
        [
            cc.predict_set(alphas, np.full(len(p_new), c), confidence=0.95, smoothing=False)[:, c]
            for c in range(3)
        ]
    ).T.astype(bool)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(30, 400))
def test_sets_equal_crepes(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    p_cal = rng.dirichlet((0.3, 1, 3), size=n)
    y_cal = np.array([rng.choice(3, p=row) for row in p_cal])
    y_cal[:3] = [0, 1, 2]  # every class present
    p_new = np.round(rng.dirichlet((0.3, 1, 3), size=200), 3)  # ties with calibration
    p_new[:20] = np.round(p_cal[:20], 3)
    p_cal = np.round(p_cal, 3)
    ours = fit_sets(p_cal, y_cal).members(p_new)
    assert np.array_equal(ours, _crepes_sets(p_cal, y_cal, p_new))


def test_each_class_is_covered_by_construction() -> None:
    """On data drawn like the calibration data, each class's coverage is >= 95 % (up to
    sampling noise on 200,000 draws) and not far above: the guarantee is per class."""
    rng = np.random.default_rng(7)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        p = rng.dirichlet((0.2, 1, 4), size=n)
        return p, np.array([rng.choice(3, p=row) for row in p])

    sets = fit_sets(*draw(20_000))
    p, y = draw(200_000)
    members = sets.members(p)
    for c in range(3):
        coverage = members[y == c, c].mean()
        assert 0.94 < coverage < 0.96, (c, coverage)


def test_round_trip_and_lists() -> None:
    sets = UrgencySets(0.95, (0.9, 0.5, 1.0), (12, 80, 900))
    assert UrgencySets.from_dict(sets.as_dict()) == sets
    members = sets.members(np.array([[0.2, 0.5, 0.3], [0.05, 0.1, 0.85]]))
    assert set_lists(members) == [["immediate", "high", "routine"], ["routine"]]


def test_degraded_sets_hold_every_class_at_or_above_the_floor() -> None:
    assert set_lists(degraded_members(np.array([0, 1, 2]))) == [
        ["immediate", "high", "routine"],
        ["immediate", "high"],
        ["immediate"],
    ]


def test_split_in_time() -> None:
    mask = np.array([True, False, True, True, True, False, True])
    early, late = split_in_time(mask, 0.4)
    assert np.flatnonzero(early).tolist() == [0, 2, 3]
    assert np.flatnonzero(late).tolist() == [4, 6]
    times = np.array([5, 0, 4, 3, 2, 0, 1])  # rows out of time order
    early, late = split_in_time(mask, 0.4, times)
    assert np.flatnonzero(late).tolist() == [0, 2]
    with pytest.raises(ValueError):
        fit_sets(np.ones((2, 2)), np.array([0, 1]))
