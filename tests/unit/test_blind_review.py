# ruff: noqa: F811  (the store fixtures come from test_store)
"""The blind second review in the store (issue 12): its queue, a view without model output,
the safeguards (drawn only; two different people), and labels: the strongest provenance
per referral, the same in the store, at a restart and live. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from test_store import (  # noqa: F401  (fixtures)
    feedback,
    pg_database,
    referral,
    score,
    store,
    store_url,
)

from features.contract import OutcomeReport
from features.history import History
from features.linking import events_for
from features.pipeline import build_features
from serving.blind_review import NotDrawn, SameReviewer
from serving.scoring import Scorer, load_history
from serving.store import Store

NO_EVENTS = Path("/nonexistent/history.parquet")


def drawn(store: Store, p, *rids: str, second_review: bool = True) -> None:
    store.record_scores(
        [
            (referral(p, r), score(r).model_copy(update={"second_review": second_review}), {})
            for r in rids
        ],
        "rq",
    )


def blind(rid: str, reviewer: str, urgency: str = "immediate", **kw):
    return feedback(rid, reviewer=reviewer, review="second_blind", urgency_assessed=urgency, **kw)


def test_a_blind_review_only_of_a_drawn_referral(store: Store, pseudonymiser):
    drawn(store, pseudonymiser, "R-1", second_review=False)
    with pytest.raises(NotDrawn) as e:
        store.add_decision(blind("R-1", "reviewer-2"))
    assert e.value.field == "review"
    assert store.decisions() == []


def test_the_two_reviews_are_made_by_two_people_whichever_comes_first(store: Store, pseudonymiser):
    drawn(store, pseudonymiser, "R-1", "R-2")
    store.add_decision(feedback("R-1", reviewer="ada", urgency_assessed="high"))
    with pytest.raises(SameReviewer, match="first review"):
        store.add_decision(blind("R-1", "ada"))
    store.add_decision(blind("R-1", "bob"))
    # blind first: the first reviewer must be someone else
    store.add_decision(blind("R-2", "bob"))
    with pytest.raises(SameReviewer, match="blind second review"):
        store.add_decision(feedback("R-2", reviewer="bob", urgency_assessed="high"))
    store.add_decision(feedback("R-2", reviewer="ada", urgency_assessed="high"))
    assert [d.reviewer for d in store.decisions()] == ["ada", "bob", "bob", "ada"]
    assert store.verify_chain().ok


def test_a_blind_review_first_leaves_the_referral_on_the_first_queue(store: Store, pseudonymiser):
    drawn(store, pseudonymiser, "R-1", "R-2")
    drawn(store, pseudonymiser, "R-3", second_review=False)
    assert [i.referral_id for i in store.blind_queue()] == ["R-1", "R-2"]
    store.add_decision(blind("R-1", "bob"))
    assert {i.referral_id for i in store.queue()} == {"R-1", "R-2", "R-3"}
    assert store.counts().awaiting_review == 3
    assert [i.referral_id for i in store.blind_queue()] == ["R-2"]
    store.add_decision(feedback("R-1", reviewer="ada", urgency_assessed="high"))
    assert {i.referral_id for i in store.queue()} == {"R-2", "R-3"}
    # a first review does not take a referral off the blind queue
    store.add_decision(feedback("R-2", reviewer="ada", urgency_assessed="high"))
    assert [i.referral_id for i in store.blind_queue()] == ["R-2"]


def test_the_blind_view_holds_nothing_the_model_said(store: Store, pseudonymiser):
    drawn(store, pseudonymiser, "R-1")
    store.add_decision(feedback("R-1", reviewer="ada", urgency_assessed="high"))
    view = store.blind_view("R-1")
    assert view is not None and view.second_review and not view.blind_review_done
    body = view.model_dump(mode="json")
    assert set(body) == {
        "referral",
        "score_id",
        "model_version",
        "second_review",
        "blind_review_done",
    }
    # the referral is the input document alone, exactly as stored; the rest holds no output
    assert view.referral == store.referral("R-1").referral
    text = view.model_dump_json(exclude={"referral"})
    for said in ("tier", "priority", "urgency", "viability", "reasons", "seen before", "0.6"):
        assert said not in text, said
    assert store.blind_view("NEVER") is None


def _outcome(rid: str, urgency: str | None, finding: str = "child_safe_identified"):
    return OutcomeReport(
        referral_id=rid,
        reported_at=datetime(2025, 2, 1, 12, tzinfo=UTC),
        agency="Fake City Police (test)",
        finding=finding,
        urgency_in_hindsight=urgency,
    )


def test_labels_keep_the_strongest_provenance_not_the_last_decision(store: Store, pseudonymiser):
    drawn(store, pseudonymiser, "R-1", "R-2", "R-3", "R-4")
    store.add_decision(blind("R-1", "bob", "routine", viability="unactionable"))
    store.add_decision(feedback("R-1", reviewer="ada", urgency_assessed="immediate"))
    store.add_decision(feedback("R-2", reviewer="ada", urgency_assessed="high"))
    store.add_decision(
        feedback("R-2", reviewer="ada", decision="override", reason="x", tier="routine")
    )
    store.add_decision(feedback("R-3", reviewer="ada", urgency_assessed="high"))
    store.add_outcome(_outcome("R-3", "immediate"))
    store.add_outcome(_outcome("R-3", None, finding="no_offence_found"))
    store.add_decision(feedback("R-4", reviewer="ada"))  # a tier alone: no label
    labels = {lab.referral.referral_id: lab for lab in store.confirmed_labels()}
    assert set(labels) == {"R-1", "R-2", "R-3"}
    got = {
        rid: (lab.provenance, lab.outcome.urgency, lab.outcome.viability)
        for rid, lab in labels.items()
    }
    assert got == {
        "R-1": ("blind_review", "routine", "unactionable"),
        "R-2": ("shown_review", "high", "lead"),  # the later decision gave no assessment
        "R-3": ("outcome", "immediate", "lead"),
    }
    history = dict((r.referral_id, o) for r, o in store.history_referrals())
    assert {rid: (o.urgency if o else None) for rid, o in history.items()} == {
        "R-1": "routine",
        "R-2": "high",
        "R-3": "immediate",
        "R-4": None,
    }


def _seeded_afresh(store: Store) -> History:
    """The history a store seeded now would hold: every referral's sightings and its one
    best label's events (``serving.sightings.seed`` on a new table)."""
    pairs = list(store.history_referrals())
    refs = [r for r, _ in pairs]
    decided = events_for(refs, [o for _, o in pairs])
    history = History()
    history.add_events(
        pd.concat([events_for(refs, None), decided[decided["decided"] == 1]], ignore_index=True)
    )
    return history


def test_the_live_history_equals_a_restart_from_the_store(store: Store, pseudonymiser):
    rids = [f"R-{i}" for i in range(1, 6)]
    drawn(store, pseudonymiser, *rids)
    history, seen, seq = load_history(NO_EVENTS, store)  # seeds the store's history
    scorer = Scorer(store, pseudonymiser, None, history=history, seen=seen, seq=seq)

    def decide(fb):  # the label moves in the store's history with the record
        store.add_decision(fb)

    def report(rep):
        store.add_outcome(rep)

    decide(feedback("R-1", reviewer="ada", urgency_assessed="immediate", viability="package"))
    report(_outcome("R-1", "routine"))  # the outcome replaces the assessment
    decide(feedback("R-2", reviewer="ada", urgency_assessed="routine"))
    decide(blind("R-2", "bob", "immediate"))  # the blind review replaces the shown one
    decide(blind("R-3", "bob", "high"))
    decide(feedback("R-3", reviewer="ada", urgency_assessed="immediate"))  # changes nothing
    report(_outcome("R-4", "immediate"))  # no decision yet: no label
    decide(feedback("R-4", reviewer="ada", urgency_assessed="routine"))  # now the outcome's
    decide(feedback("R-5", reviewer="ada"))  # no assessment: nothing

    scorer.catch_up()  # what a worker reads before its next batch
    restarted = _seeded_afresh(store)
    probes = [referral(pseudonymiser, f"P-{i}", hours=24 * 300 + i) for i in range(3)]
    live = build_features(probes, None, scorer.history).X
    again = build_features(probes, None, restarted).X
    assert live.equals(again)
    assert (
        live["platform_urgent_rate"].iloc[0]
        != build_features(probes, None, None).X["platform_urgent_rate"].iloc[0]
    ), "the labels must reach the features for this test to mean anything"


def test_override_rates_count_first_reviews_only(store: Store, pseudonymiser):
    from datetime import timedelta

    drawn(store, pseudonymiser, "R-1")
    store.add_decision(blind("R-1", "bob", viability="package"))
    assert store.override_rates(timedelta(days=1)) == []  # the blind reviewer saw no tier
    store.add_decision(feedback("R-1", reviewer="ada", urgency_assessed="high"))
    [rate] = store.override_rates(timedelta(days=1))
    assert (rate.decisions, rate.overrides) == (1, 0)
