# ruff: noqa: F811  (the store fixtures come from test_store)
"""The agreement report between blind and shown reviews (issue 12): the anchoring measure
with Wilson intervals, from the store's decisions."""

from __future__ import annotations

import json

import pytest
from test_store import (  # noqa: F401
    feedback,
    pg_database,
    referral,
    score,
    scored,
    store,
    store_url,
)

from reports.agreement import agreement, review_pairs, wilson
from serving.store import Store
from triage.cli import main


def test_wilson_interval_holds_the_rate_and_narrows_with_n():
    assert wilson(0, 0) == (None, None)
    lo, hi = wilson(5, 10)
    assert lo < 0.5 < hi and hi - lo > 0.5 - 0.3
    lo2, hi2 = wilson(500, 1000)
    assert lo2 < 0.5 < hi2 and hi2 - lo2 < (hi - lo) / 5
    assert wilson(0, 7)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson(7, 7)[1] == pytest.approx(1.0)
    assert wilson(1, 20)[0] == pytest.approx(0.00889, abs=1e-4)  # textbook value


def test_anchored_first_reviews_show_as_agreement_with_the_tier():
    # shown reviewers always repeat the tier; blind ones say what they see
    pairs = [("immediate", "immediate", "routine")] * 6 + [("high", "high", "high")] * 4
    rep = agreement(pairs)
    assert rep["pairs"] == 10
    assert rep["first_agrees_with_tier"]["rate"] == 1.0
    assert rep["blind_agrees_with_tier"]["rate"] == 0.4
    assert rep["anchoring"] == pytest.approx(0.6)
    assert rep["first_agrees_with_blind"]["k"] == 4
    assert agreement([])["anchoring"] is None


def test_pairs_come_from_the_store_and_the_command_prints_them(
    store: Store, store_url, pseudonymiser, monkeypatch, capsys
):
    drawn = score("R-1", tier="immediate").model_copy(update={"second_review": True})
    store.record_scores([(referral(pseudonymiser, "R-1"), drawn, {})], "rq")
    scored(store, pseudonymiser, "R-2", tier="immediate")
    store.add_decision(feedback("R-1", tier="immediate", urgency_assessed="immediate"))
    blind = feedback(
        "R-1",
        reviewer="reviewer-2",
        tier="immediate",
        urgency_assessed="high",
        review="second_blind",
    )
    store.add_decision(blind)  # drawn, and by another person (serving/blind_review.py)
    store.add_decision(feedback("R-2", tier="immediate", urgency_assessed="immediate"))
    assert review_pairs(store) == [("immediate", "immediate", "high")]  # no blind one
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    assert main(["agreement"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["pairs"] == 1 and rep["anchoring"] == 1.0
