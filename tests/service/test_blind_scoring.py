"""The blind second review's draw in the scoring path (contract §5, issue 12): each
Score says whether it was drawn; the draw is the keyed one, repeats for a re-scored
referral, and never takes a referral the safety rules lifted."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.blind_draw import drawn_for_blind_review
from serving.scoring import Scorer
from serving.store import Store

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def store(tmp_path: Path):
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        s.migrate()
        yield s


def test_scores_carry_the_keyed_draw_and_never_a_safety_floor_referral(
    raw_referrals, store, pseudonymiser
):
    batch = [{**d, "referral_id": f"blind-{i}"} for i, d in enumerate(raw_referrals[:300])]
    rules_only = Scorer(store, pseudonymiser, None, blind_share=0.5)
    first = rules_only.score(batch, "req-b1").scores
    again = rules_only.score(batch, "req-b2").scores
    assert [s.second_review for s in first] == [s.second_review for s in again]
    lifted = [s for s in first if s.safety_rules]
    assert lifted and not any(s.second_review for s in lifted)
    for s in first:
        if not s.safety_rules:
            assert s.second_review == drawn_for_blind_review(s.referral_id, pseudonymiser, 0.5)
    assert 0 < sum(s.second_review for s in first) < len(first)
    none = Scorer(store, pseudonymiser, None, blind_share=0.0).score(batch[:50], "req-b3")
    assert not any(s.second_review for s in none.scores)
