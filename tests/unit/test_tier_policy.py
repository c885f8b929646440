"""models/policy.py on hand-built arrays (main's version; branch ``policy`` rewrites the
module and owns its threshold tests: the lead keeps theirs when they differ). Written so
`make mutation` has focused tests for it; every expected number is worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from models.policy import TierPolicy, _threshold_for_recall, fit_policy

P = np.array(
    [  # P(immediate), P(high), P(routine)
        [0.50, 0.30, 0.20],
        [0.20, 0.50, 0.30],
        [0.10, 0.20, 0.70],
        [0.30, 0.10, 0.60],
    ]
)


def test_ranks_from_thresholds_and_the_floor() -> None:
    policy = TierPolicy(0.30, 0.40)
    # 0.50 >= .30 -> 2; .20 < .30 but .70 >= .40 -> 1; .30 < .40 -> 0; .30 >= .30 -> 2
    assert policy.ranks(P).tolist() == [2, 1, 0, 2]
    assert policy.ranks(P, np.array([0, 2, 1, 0])).tolist() == [2, 2, 1, 2]
    assert TierPolicy(0.31, 0.41).ranks(P).tolist() == [2, 1, 0, 0]
    assert policy.as_dict() == {
        "t_immediate": 0.30,
        "t_high": 0.40,
        "recall_immediate": 0.95,
        "recall_high": 0.90,
    }


def test_threshold_is_the_largest_that_reaches_the_recall() -> None:
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.1])
    positive = np.array([True, True, True, True, False, False])
    none = np.zeros(6, dtype=bool)
    assert _threshold_for_recall(score, positive, none, 0.5) == 0.8  # 2 of 4
    assert _threshold_for_recall(score, positive, none, 0.51) == 0.7  # ceil(2.04) = 3
    assert _threshold_for_recall(score, positive, none, 1.0) == 0.6
    covered = np.array([True, False, False, False, False, False])  # the floor holds one
    assert _threshold_for_recall(score, positive, covered, 0.75) == 0.7  # 3 - 1 more: .8, .7
    # the floor is enough: the smallest number above 1, which no probability reaches
    assert _threshold_for_recall(score, positive, positive, 0.9) == np.nextafter(1.0, 2.0)
    assert _threshold_for_recall(score, none, none, 0.9) == 1.0  # no positives


def test_fit_policy_on_a_hand_built_window() -> None:
    p = np.array(
        [
            [0.90, 0.00, 0.10],  # immediate                P(imm)+P(high) .90
            [0.60, 0.35, 0.05],  # immediate                .95
            [0.40, 0.10, 0.50],  # immediate, floor immediate
            [0.20, 0.78, 0.02],  # high                     .98
            [0.10, 0.86, 0.04],  # high                     .96
            [0.05, 0.10, 0.85],  # routine
        ]
    )
    y = np.array(["immediate", "immediate", "immediate", "high", "high", "routine"])
    floor = np.array([0, 0, 2, 0, 0, 0])
    policy = fit_policy(p, y, floor, recall_immediate=2 / 3, recall_high=0.8)
    # immediate: need ceil(2/3 * 3) = 2, the floor covers 1 -> the best uncovered, .90
    assert policy.t_immediate == pytest.approx(0.9)
    # urgent = 5; covered: rows 0 (P(imm) >= .9) and 2 (floor); need ceil(.8 * 5) - 2 = 2
    # of rows 1, 3, 4 by P(imm)+P(high) = .95, .98, .96 -> the 2nd largest, .96
    assert policy.t_high == pytest.approx(0.96)
    assert (policy.recall_immediate, policy.recall_high) == (2 / 3, 0.8)
    assert policy.ranks(p, floor).tolist() == [2, 0, 2, 1, 1, 0]


def test_fit_policy_defaults_are_the_documented_recalls() -> None:
    p = np.array([[0.9, 0.0, 0.1], [0.6, 0.35, 0.05], [0.2, 0.78, 0.02], [0.1, 0.1, 0.8]])
    y = np.array(["immediate", "immediate", "high", "routine"])
    policy = fit_policy(p, y, np.zeros(4, dtype=int))
    assert (policy.recall_immediate, policy.recall_high) == (0.95, 0.90)
    # immediate: ceil(.95 * 2) = 2 -> .6; high: ceil(.9 * 3) = 3, 2 covered -> row 2, .98
    assert policy.t_immediate == pytest.approx(0.6) and policy.t_high == pytest.approx(0.98)
