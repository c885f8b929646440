"""The hard world's properties: valid documents, an exact oracle, drift, MNAR, label noise."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from features.ingest import parse_documents
from features.pseudonyms import Pseudonymiser
from training.synthetic import generate, simulate
from training.synthetic import hard_world as hw

START, DAYS = date(2023, 1, 1), 730


@pytest.fixture(scope="module")
def sim():
    return simulate(40_000, 3, START, DAYS, "history", world="hard")


def test_documents_validate_are_reproducible_and_named_hard():
    a = generate(300, 5, START, DAYS, "history", labels=True, world="hard")
    b = generate(300, 5, START, DAYS, "history", labels=True, world="hard")
    assert a == b
    batch = parse_documents(a, Pseudonymiser(b"k" * 32), labels=True)
    assert not batch.rejected and len(batch.good) == 300
    assert all("-hard-" in d["referral_id"] for d in a)
    embedded = generate(300, 5, START, DAYS, "history", labels=True)
    assert not any("-hard-" in d["referral_id"] for d in embedded)


def test_unknown_world_is_refused():
    with pytest.raises(ValueError, match="unknown world"):
        simulate(10, 1, START, 10, world="harder")


def test_oracle_is_calibrated_against_the_recorded_labels(sim):
    """Exact Bayes given the observables: within each decile of P(immediate) the recorded
    share matches the oracle's mean (4 binomial standard errors)."""
    p, y = sim.p_urgency[:, 0], sim.urgency == 0
    edges = np.quantile(p, np.linspace(0, 1, 11))
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 9)
    for b in range(10):
        m = bins == b
        mean = p[m].mean()
        se = np.sqrt(max(mean * (1 - mean), 1e-6) / m.sum())
        assert abs(y[m].mean() - mean) < 4 * se + 1e-3, (b, y[m].mean(), mean)


def test_the_oracle_sums_over_the_states_it_sampled_from(sim):
    p = sim.p_true_urgency @ hw.LABEL_NOISE
    assert np.allclose(p, sim.p_urgency)
    assert np.allclose(sim.p_urgency.sum(1), 1.0)
    truth = hw.truth_table()
    assert np.allclose(truth.sum(1), 1.0) and np.allclose(hw.LABEL_NOISE.sum(1), 1.0)


def test_reviewer_noise_changes_some_labels(sim):
    changed = sim.urgency != sim.true_urgency
    assert 0.005 < changed.mean() < 0.2


def test_escalation_means_less_after_the_change_date(sim):
    after = sim.c["t"] >= (START.toordinal() - date(1970, 1, 1).toordinal() + 365) * 86400
    esc = sim.c["escalated"]
    at_risk = sim.state >= 9

    def share_at_risk(m):
        return at_risk[m & esc].mean()

    assert share_at_risk(after) < share_at_risk(~after)


def test_victim_age_is_missing_not_at_random(sim):
    v = sim.victims
    first = np.r_[True, v["v_ref"][1:] != v["v_ref"][:-1]]
    ref = v["v_ref"][first]
    missing = v["v_age"][first] < 0
    age_class = hw.A[sim.state[ref]]
    assert missing[age_class < 2].mean() > missing[age_class == 2].mean() + 0.1
