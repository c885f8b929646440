"""Every safety rule on the rules-only path (degraded mode, models/degraded.py): the tier
written in tests/unit/safety_cases.py from the domain, never read from ``RULES``."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from safety_cases import CASES, NOT_FLOOR, with_change

from features.ingest import parse_referral
from features.pipeline import build_features
from models import safety
from models.degraded import RULES_VERSION, score_rules

NOW = datetime(2024, 3, 2, tzinfo=UTC)
BAND = 100 / 3  # priority bands: routine [0, 33.3), high [33.3, 66.7), immediate [66.7, 100]
LOWEST = {"routine": 0.0, "high": BAND, "immediate": 2 * BAND}


def rules_score(docs, pseudonymiser):
    refs = [parse_referral(d, pseudonymiser) for d in docs]
    return score_rules(build_features(refs), now=NOW)


@pytest.mark.parametrize(("case", "change", "tier", "rule"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_lifts_the_tier_it_promises(case, change, tier, rule, pseudonymiser) -> None:
    (s,) = rules_score([with_change(f"SR-{case}", change)], pseudonymiser)
    assert s.tier == tier
    assert s.safety_rules == [rule]
    assert s.degraded is True and s.model_version == RULES_VERSION
    assert LOWEST[tier] <= s.priority < LOWEST[tier] + BAND + 1e-9
    assert [r.head for r in s.reasons] == ["rules"] and rule in s.reasons[0].text


@pytest.mark.parametrize(("case", "change"), NOT_FLOOR, ids=[c[0] for c in NOT_FLOOR])
def test_signals_off_the_floor_leave_a_plain_referral_routine(case, change, pseudonymiser):
    (s,) = rules_score([with_change(f"NF-{case}", change)], pseudonymiser)
    assert s.tier == "routine" and s.safety_rules == [] and s.reasons == []
    assert 0 <= s.priority < BAND


def test_the_highest_floor_wins_and_every_fired_rule_is_named(pseudonymiser) -> None:
    change = {
        "files": [{"annotations": ["infant", "physical_harm"]}],
        "incident.annotations": ["sextortion"],
    }
    (s,) = rules_score([with_change("SR-both", change)], pseudonymiser)
    assert s.tier == "immediate"
    assert sorted(s.safety_rules) == ["infant", "physical_harm", "sextortion"]
    (h,) = rules_score(
        [with_change("SR-high", {"files": [{"annotations": ["infant", "physical_harm"]}]})],
        pseudonymiser,
    )
    assert h.tier == "high" and sorted(h.safety_rules) == ["infant", "physical_harm"]


def test_a_batch_keeps_each_referrals_own_floor(pseudonymiser) -> None:
    docs = [with_change(f"SRB-{c[0]}", c[1]) for c in CASES] + [with_change("SRB-plain", {})]
    scores = rules_score(docs, pseudonymiser)
    assert [s.tier for s in scores] == [c[2] for c in CASES] + ["routine"]
    assert [s.safety_rules for s in scores] == [[c[3]] for c in CASES] + [[]]


def test_floor_rank_and_rule_names_on_a_hand_built_matrix() -> None:
    """The matrix functions alone: columns in the order of ``RULES``, ranks 2/1/0."""
    names = [r.name for r in safety.RULES]
    expected_rank = {
        "explicit_escalation": 2,
        "sextortion": 2,
        "live_streaming": 2,
        "sadistic_exploitation": 2,
        "physical_harm": 1,
        "infant": 1,
    }
    assert sorted(names) == sorted(expected_rank)
    eye = np.eye(len(names), dtype=bool)
    assert safety.floor_rank(eye).tolist() == [expected_rank[n] for n in names]
    none = np.zeros((2, len(names)), dtype=bool)
    assert safety.floor_rank(none).tolist() == [0, 0]
    assert safety.rule_names(eye) == [[n] for n in names]
    raised = np.zeros(len(names), dtype=bool)
    raised[0] = True
    assert safety.rule_names(eye, raised) == [[names[0]]] + [[] for _ in names[1:]]
    assert safety.TIER_RANK == {"routine": 0, "high": 1, "immediate": 2}


def test_fired_reads_each_rules_feature_as_a_flag() -> None:
    cols = {r.feature: [0.0, 0.49, 0.5, 1.0, np.nan] for r in safety.RULES}
    fired = safety.fired(pd.DataFrame(cols))
    assert fired.shape == (5, len(safety.RULES))
    assert fired.tolist() == [[v] * len(safety.RULES) for v in (False, False, True, True, False)]
    one = pd.DataFrame({r.feature: [0.0] for r in safety.RULES})
    one[safety.RULES[2].feature] = 1.0
    assert safety.fired(one)[0].tolist() == [j == 2 for j in range(len(safety.RULES))]


def test_with_no_rules_nothing_fires_and_the_floor_is_routine(monkeypatch) -> None:
    """The functions must also hold for an empty rule table (a deployment may disable
    rules while one is reviewed): an (n, 0) matrix and rank 0, not an error."""
    monkeypatch.setattr(safety, "RULES", ())
    X = pd.DataFrame({"escalated": [1.0, 0.0, np.nan]})
    fired = safety.fired(X)
    assert fired.shape == (3, 0) and fired.dtype == bool
    assert safety.floor_rank(fired).tolist() == [0, 0, 0]
    assert safety.rule_names(fired) == [[], [], []]
