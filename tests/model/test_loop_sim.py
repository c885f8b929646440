"""The learning loop, simulated (issue 12): with the safeguards the labels stay at the
truth; without them the tier confirmations come back as labels and the history features
drift. Small (CI-sized) run; the figures of docs/evaluation.md come from ``triage loop``."""

from __future__ import annotations

import numpy as np
import pytest

from training.loop_sim import LoopConfig, expected_auc, run_loop


@pytest.fixture(scope="module")
def tables():
    cfg = LoopConfig(n=6000, days=200, cycles=1, rounds=40, num_threads=1)
    return {on: run_loop(cfg.model_copy(update={"safeguards": on})) for on in (True, False)}


def test_the_safeguard_switch_decides_whether_the_loop_learns_its_echo(tables):
    on, off = tables[True].loc[1], tables[False].loc[1]
    # without: confirmations of the model's own tiers inflate the immediate labels
    assert off["prevalence_vs_truth"] > 1.5
    assert off["platform_urgent_rate_vs_truth"] > on["platform_urgent_rate_vs_truth"]
    # with: the labels used for training are the truth's (outcomes, blind reviews, history)
    assert 0.8 <= on["prevalence_vs_truth"] <= 1.2
    for table in tables.values():
        assert list(table.index) == [0, 1]
        assert (table["oracle_roc_auc_immediate"] > 0.5).all()
        assert table["labels_used"].min() > 0


def test_expected_auc_is_the_pairwise_count_over_soft_labels():
    rng = np.random.default_rng(3)
    score = np.round(rng.random(60), 1)  # ties on purpose
    p = rng.random(60)
    greater = (score[:, None] > score[None, :]) + 0.5 * (score[:, None] == score[None, :])
    brute = (p[:, None] * (1 - p)[None, :] * greater).sum() / (p.sum() * (1 - p).sum())
    assert expected_auc(score, p) == pytest.approx(brute)
    assert expected_auc(p, (p > 0.5).astype(float)) == pytest.approx(1.0)
