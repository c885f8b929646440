"""The one score-or-rules function (``models.scoring_path``): its degraded policy, on
real features of synthetic referrals (the model-backed answers are compared across the
four paths in tests/service/test_one_scoring_path.py)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from features.ingest import parse_documents
from features.pipeline import build_features
from features.pseudonyms import Pseudonymiser
from features.routes import route_referral
from models.degraded import RULES_VERSION, default_policy_version, score_rules
from models.scoring_path import score_or_rules


@pytest.fixture(scope="module")
def batch() -> tuple[list[Any], Any]:
    from training.synthetic import generate

    docs = generate(80, 9, date(2024, 3, 1), 10, labels=False)
    refs = parse_documents(docs, Pseudonymiser(b"test-key-0123456789abcdef")).referrals
    return refs, build_features(refs)


class Failing:
    """A model that raises, carrying its policy as a loaded model does."""

    version = "7"
    policy = SimpleNamespace(policy_version="unit-policy-2")

    def score(self, feats: Any, **kw: Any) -> Any:
        raise MemoryError("simulated")


def _plain(scores: list[Any]) -> list[dict[str, Any]]:
    return [s.model_dump(mode="json", exclude={"scored_at", "route"}) for s in scores]


def test_no_model_means_the_rules_with_the_packaged_policy(batch):
    refs, feats = batch
    out = score_or_rules(None, feats, referrals=refs)
    assert out.degraded and out.degraded_reason == "no_model" and out.error_type is None
    assert len(out.scores) == len(refs)
    assert all(s.degraded and s.model_version == RULES_VERSION for s in out.scores)
    assert {s.policy_version for s in out.scores} == {default_policy_version()}
    assert _plain(out.scores) == _plain(score_rules(feats))
    assert [s.route for s in out.scores] == [route_referral(r) for r in refs]


def test_a_failing_model_means_the_rules_with_its_policy(batch):
    refs, feats = batch
    out = score_or_rules(Failing(), feats, referrals=refs)
    assert out.degraded_reason == "model_error" and out.error_type == "MemoryError"
    assert {s.policy_version for s in out.scores} == {"unit-policy-2"}
    assert all(s.degraded and s.model_version == RULES_VERSION for s in out.scores)
    assert all(s.route is not None for s in out.scores)


def test_a_working_model_answers_and_its_arguments_pass_through(batch):
    refs, feats = batch
    seen: dict[str, Any] = {}

    class Working:
        def score(self, f: Any, **kw: Any) -> Any:
            seen.update(kw)
            return score_rules(f)  # any answers: what matters is who gave them

    out = score_or_rules(Working(), feats, top_k=3)
    assert out.degraded_reason is None and not out.degraded
    assert seen == {"now": None, "top_k": 3}
    assert all(s.route is None for s in out.scores)  # no referrals: no routes


def test_referrals_must_match_the_feature_rows(batch):
    refs, feats = batch
    with pytest.raises(ValueError, match="referrals: 79 given for 80"):
        score_or_rules(None, feats, referrals=refs[:-1])
