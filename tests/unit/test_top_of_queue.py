"""Choosing the urgency head for the top of the queue: hand-built records with a known
choice (training/top_of_queue.py)."""

from __future__ import annotations

import numpy as np
import pytest

from training.top_of_queue import (
    METRIC,
    Candidate,
    best_round,
    candidate,
    choose,
    class_weights,
    recall_feval,
)


class _Data:
    def __init__(self, y):
        self.y = np.asarray(y, dtype=float)

    def get_label(self):
        return self.y


def test_recall_feval_counts_immediate_in_the_top_share():
    # 10 rows, share 0.2 -> the top 2 by P(immediate); 2 immediate rows (class 0), one on top
    margins = np.zeros((10, 3))
    margins[:, 0] = [5, 4, 0, 0, 0, 0, 0, 0, 0, 3]
    y = [1, 0, 2, 2, 2, 2, 2, 2, 2, 0]
    name, value, higher = recall_feval(0.2)(margins, _Data(y))
    assert (name, value, higher) == (METRIC, 0.5, True)
    name, value, _ = recall_feval(0.3)(margins, _Data(y))
    assert value == 1.0


def test_best_round_smooths_a_single_lucky_round():
    r = [0.5, 0.5, 0.9, 0.5, 0.5, 0.7, 0.7, 0.7, 0.7, 0.7]
    assert best_round(r, window=1) == 3  # unsmoothed: the lucky round
    assert best_round(r, window=3) == 7  # smoothed: the plateau (first centre with 0.7 x3)
    with pytest.raises(ValueError):
        best_round([])


def test_candidate_and_choice():
    rec = {METRIC: [0.1, 0.2, 0.3, 0.3, 0.2], "multi_logloss": [0.5, 0.4, 0.35, 0.34, 0.36]}
    c = candidate(2.0, rec)
    assert c.rounds >= 3 and c.log_loss == rec["multi_logloss"][c.rounds - 1]
    a = Candidate(1.0, 100, 0.80, 0.30)
    b = Candidate(3.0, 80, 0.82, 0.31)
    assert choose([a, b]) is b  # better recall wins despite worse log loss
    tie = Candidate(3.0, 90, 0.80, 0.29)
    assert choose([a, tie]) is tie  # equal recall: lower log loss
    with pytest.raises(ValueError):
        choose([])


def test_class_weights_weight_only_immediate_rows():
    assert class_weights(np.array([0, 1, 2, 0]), 3.0).tolist() == [3.0, 1.0, 1.0, 3.0]
