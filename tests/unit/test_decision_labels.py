"""Decisions per contract v1.1 (issue 12): the reviewer's own ``urgency_assessed`` is the
urgency label (never the tier), ``review`` says whether the model was on screen, both are
hashed into the chain when present, and records made before them keep verifying."""

# ruff: noqa: F811  (the store fixtures come from test_store)
from __future__ import annotations

import pytest
from pydantic import ValidationError
from test_store import (  # noqa: F401  (fixtures)
    drop_append_only_triggers,
    feedback,
    pg_database,
    raw_sql,
    referral,
    score,
    scored,
    store,
    store_url,
)

from serving import chain
from serving.store import Store


def test_the_assessment_is_the_label_and_the_review_its_provenance(store: Store, pseudonymiser):
    scored(store, pseudonymiser, "R-1", "R-2", "R-4")
    drawn = score("R-3").model_copy(update={"second_review": True})  # blind only if drawn
    store.record_scores([(referral(pseudonymiser, "R-3"), drawn, {})], "rq")
    store.add_decision(feedback("R-1", tier="immediate"))  # a tier alone: no label
    store.add_decision(feedback("R-2", tier="immediate", urgency_assessed="routine"))
    store.add_decision(
        feedback("R-3", tier="routine", urgency_assessed="high", review="second_blind")
    )
    labels = {lab.referral.referral_id: lab for lab in store.confirmed_labels()}
    assert set(labels) == {"R-2", "R-3"}
    assert (labels["R-2"].outcome.urgency, labels["R-2"].provenance) == ("routine", "shown_review")
    assert (labels["R-3"].outcome.urgency, labels["R-3"].provenance) == ("high", "blind_review")
    history = {ref.referral_id: out for ref, out in store.history_referrals()}
    assert history["R-1"] is None and history["R-4"] is None
    assert history["R-2"].urgency == "routine"  # the history features count the assessment


def test_new_fields_are_hashed_and_earlier_records_keep_verifying(
    store: Store, store_url, pseudonymiser
):
    scored(store, pseudonymiser, "R-1", "R-2")
    old, _ = store.add_decision(feedback("R-1"))  # as made before 0004: no assessment
    new, _ = store.add_decision(feedback("R-2", urgency_assessed="high"))
    assert (old.urgency_assessed, new.urgency_assessed, new.review) == (None, "high", "first")
    # a record from before 0004 (both columns null) hashes exactly as it did then
    before = {f: getattr(old, f) for f in chain.HASHED_FIELDS}
    nulls = {**before, "urgency_assessed": None, "review": None}
    assert chain.record_hash(nulls, "x" * 64) == chain.record_hash(before, "x" * 64)
    assert store.verify_chain().ok
    drop_append_only_triggers(store_url)
    raw_sql(store_url, "UPDATE decisions SET urgency_assessed = 'immediate' WHERE id = 2")
    check = store.verify_chain()
    assert not check.ok and check.first_bad_id == 2


def test_retries_keep_their_idempotency_key():
    plain = feedback("R-1").model_dump()
    before = {k: plain[k] for k in chain.IDEMPOTENCY_FIELDS}  # a pre-0004 client's body
    assert chain.idempotency_key(plain, 7) == chain.idempotency_key(before, 7)
    assessed = feedback("R-1", urgency_assessed="high").model_dump()
    assert chain.idempotency_key(assessed, 7) != chain.idempotency_key(plain, 7)


def test_a_blind_review_must_give_its_assessment():
    with pytest.raises(ValidationError, match="urgency_assessed"):
        feedback("R-1", review="second_blind")
    with pytest.raises(ValidationError, match="review"):
        feedback("R-1", review="third")
    with pytest.raises(ValidationError, match="urgency_assessed"):
        feedback("R-1", urgency_assessed="urgent")
