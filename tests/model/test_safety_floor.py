"""Every safety rule on the model path: under a policy where the model alone never says
"immediate" or "high", each rule still lifts its referral to the tier the domain demands
(tests/unit/safety_cases.py, written by hand), and names itself; under a policy where the
model says "immediate" for everything, no rule lowers it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "unit"))
from safety_cases import CASES, NOT_FLOOR, with_change  # noqa: E402

from features.ingest import parse_referral  # noqa: E402
from features.pipeline import build_features  # noqa: E402
from models.policy import TierPolicy  # noqa: E402
from models.triage_model import TriageModel  # noqa: E402

NOW = datetime(2024, 3, 2, tzinfo=UTC)


def with_policy(model: TriageModel, t_immediate: float, t_high: float) -> TriageModel:
    return TriageModel(
        model.boosters, model.calibrators, TierPolicy(t_immediate, t_high), model.manifest
    )


@pytest.fixture(scope="module")
def timid(trained) -> TriageModel:
    """The session's model under thresholds no probability reaches."""
    return with_policy(trained[1], 1.01, 1.01)


def score(model: TriageModel, docs, pseudonymiser):
    refs = [parse_referral(d, pseudonymiser) for d in docs]
    return model.score(build_features(refs), now=NOW, explain=False)


def test_each_rule_lifts_the_model_to_the_tier_it_promises(timid, pseudonymiser) -> None:
    docs = [with_change(f"SM-{c[0]}", c[1]) for c in CASES]
    scores = score(timid, docs, pseudonymiser)
    got = [(s.referral_id, s.tier, s.safety_rules) for s in scores]
    assert got == [(f"SM-{case}", tier, [rule]) for case, _, tier, rule in CASES]
    assert not any(s.degraded for s in scores)


def test_without_a_floor_signal_the_timid_model_stays_routine(timid, pseudonymiser) -> None:
    docs = [with_change(f"SMN-{c[0]}", c[1]) for c in NOT_FLOOR]
    scores = score(timid, docs, pseudonymiser)
    assert [(s.tier, s.safety_rules) for s in scores] == [("routine", [])] * len(NOT_FLOOR)


def test_a_rule_never_lowers_the_models_tier(trained, pseudonymiser) -> None:
    eager = with_policy(trained[1], 0.0, 0.0)  # the model alone says immediate for all
    docs = [with_change(f"SME-{c[0]}", c[1]) for c in CASES if c[2] == "high"]
    scores = score(eager, docs, pseudonymiser)
    assert [s.tier for s in scores] == ["immediate"] * len(docs)
    assert all(s.safety_rules == [] for s in scores), "a rule names itself only if it lifted"
