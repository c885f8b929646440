"""The contract's rules: each row of contract.md §1 is enforced, errors name path + reason,
raw identifiers never survive validation and never appear in error messages."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from features.contract import Feedback, Referral, referral_json_schema
from features.ingest import parse_documents, parse_referral
from features.pseudonyms import Pseudonymiser, is_pseudonym

RAW_EMAIL = "someone.raw@example.com"
RAW_IP = "203.0.113.77"


def full_doc() -> dict:
    return {
        "referral_id": "T-0001",
        "received_at": "2024-03-01T12:00:00-05:00",
        "source": "ncmec",
        "source_priority": "2",
        "escalation_reason": None,
        "incident": {
            "type": "online_enticement",
            "occurred_at": "2024-02-28T10:00:00Z",
            "platform": "Example Chat",
            "channel": "chat",
            "annotations": ["sextortion"],
        },
        "subjects": [
            {
                "identifiers": [
                    {"kind": "email", "value": RAW_EMAIL, "verified": True},
                    {"kind": "phone", "value": "+1-555-0100"},
                ],
                "ip_events": [
                    {
                        "ip": RAW_IP,
                        "event": "login",
                        "at": "2024-02-27T09:00:00+00:00",
                        "possible_proxy": False,
                    }
                ],
                "age": 30,
                "location": {"country": "ca", "region": "on", "verified": True},
                "prior_reports": 2,
                "group_identifier": "group-raw-1",
            }
        ],
        "victims": [{"age": 13, "age_band": "pubescent", "identified": False}],
        "recipients": [{"age": 13}],
        "files": [
            {
                "kind": "image",
                "hash_match": "none",
                "annotations": ["generative_ai"],
                "classification": "B2",
                "uploaded_at": "2024-02-28T10:05:00+01:00",
            }
        ],
        "bsi_included": True,
        "narrative": "Synthetic placeholder text.",
    }


def paths(doc, p):
    with pytest.raises(ValidationError) as e:
        parse_referral(doc, p)
    return {".".join(map(str, x["loc"])): x["msg"] for x in e.value.errors()}


def test_full_document_validates_and_is_pseudonymised(pseudonymiser):
    ref = parse_referral(full_doc(), pseudonymiser)
    dumped = ref.model_dump_json()
    assert RAW_EMAIL not in dumped and RAW_IP not in dumped and "group-raw-1" not in dumped
    s = ref.subjects[0]
    assert all(is_pseudonym(i.value) for i in s.identifiers)
    assert is_pseudonym(s.ip_events[0].ip) and is_pseudonym(s.group_identifier)
    assert s.location.country == "CA" and s.location.region == "ON"


def test_optional_fields_may_be_left_out(pseudonymiser):
    ref = parse_referral(
        {
            "referral_id": "x",
            "received_at": "2024-01-01T00:00:00Z",
            "source": "public",
            "incident": {"type": "csam"},
        },
        pseudonymiser,
    )
    assert ref.incident.channel == "unknown" and ref.files == [] and ref.bsi_included is False


def test_same_value_same_pseudonym_across_instances_and_spellings():
    a, b = Pseudonymiser(b"k" * 32), Pseudonymiser(b"k" * 32)
    assert a.pseudonym("email", "X@Example.com ") == b.pseudonym("email", "x@example.com")
    assert a.pseudonym("ip", "2001:db8:0:0::1") == a.pseudonym("ip", "2001:db8::1")
    assert a.pseudonym("email", "x") != a.pseudonym("screen_name", "x")
    assert Pseudonymiser(b"j" * 32).pseudonym("email", "x") != a.pseudonym("email", "x")


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d.update(referral_id="has space"), "referral_id"),
        (lambda d: d.update(referral_id="x" * 65), "referral_id"),
        (lambda d: d.update(received_at="2024-03-01T12:00:00"), "received_at"),
        (lambda d: d.update(source="fax"), "source"),
        (lambda d: d.update(escalation_reason="x" * 3001), "escalation_reason"),
        (lambda d: d.update(narrative="x" * 10_001), "narrative"),
        (lambda d: d["incident"].update(type="other"), "incident.type"),
        (lambda d: d["incident"].update(channel="fax"), "incident.channel"),
        (lambda d: d["incident"].update(annotations=["nope"]), "incident.annotations.0"),
        (
            lambda d: d.update(batched={"reason": "viral_potential_meme", "accounts": 0}),
            "batched.accounts",
        ),
        (lambda d: d.update(subjects=[{}] * 201), "subjects"),
        (
            lambda d: d["subjects"][0]["identifiers"][0].update(kind="fax"),
            "subjects.0.identifiers.0.kind",
        ),
        (
            lambda d: d["subjects"][0]["ip_events"][0].update(ip="999.1.1.1"),
            "subjects.0.ip_events.0.ip",
        ),
        (
            lambda d: d["subjects"][0]["ip_events"][0].update(event="logout"),
            "subjects.0.ip_events.0.event",
        ),
        (
            lambda d: d["subjects"][0]["location"].update(country="XX"),
            "subjects.0.location.country",
        ),
        (lambda d: d["subjects"][0].update(prior_reports=-1), "subjects.0.prior_reports"),
        (lambda d: d["victims"][0].update(age=18), "victims.0.age"),
        (lambda d: d["victims"][0].update(age_band="adult"), "victims.0.age_band"),
        (lambda d: d["files"][0].update(hash_match="maybe"), "files.0.hash_match"),
        (lambda d: d["files"][0].update(classification="C1"), "files.0.classification"),
        (lambda d: d["files"][0].update(annotations=["unknown_tag"]), "files.0.annotations.0"),
        (lambda d: d.update(unexpected=1), "unexpected"),
    ],
)
def test_each_rule_is_enforced_with_its_path(pseudonymiser, mutate, path):
    doc = full_doc()
    mutate(doc)
    assert path in paths(doc, pseudonymiser)


def test_future_receipt_rejected_but_five_minutes_tolerated(pseudonymiser):
    doc = full_doc()
    doc["received_at"] = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert "received_at" in paths(doc, pseudonymiser)
    doc["received_at"] = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    parse_referral(doc, pseudonymiser)


def test_every_problem_listed_and_no_raw_value_in_errors(pseudonymiser):
    doc = full_doc()
    doc["source"] = "fax"
    doc["subjects"][0]["ip_events"][0]["ip"] = "not-an-ip-" + RAW_EMAIL
    doc["incident"]["type"] = RAW_EMAIL
    batch = parse_documents([doc, full_doc()], pseudonymiser)
    assert len(batch.good) == 1 and len(batch.rejected) == 1
    rej = batch.rejected[0]
    assert {p.path for p in rej.problems} >= {
        "source",
        "incident.type",
        "subjects.0.ip_events.0.ip",
    }
    assert RAW_EMAIL not in json.dumps(rej.as_dict())


def test_batch_keeps_good_lists_bad_and_duplicates(pseudonymiser):
    a, b = full_doc(), full_doc()
    bad = copy.deepcopy(a)
    bad["source"] = "?"
    batch = parse_documents([a, bad, b, "not an object"], pseudonymiser)
    assert [g.referral.referral_id for g in batch.good] == ["T-0001"]
    assert [r.index for r in batch.rejected] == [1, 2, 3]
    assert batch.rejected[1].problems[0].reason.startswith("duplicate")


def test_validation_without_pseudonymiser_refuses_raw_identifiers():
    with pytest.raises(ValidationError, match="pseudonymiser"):
        Referral.model_validate(full_doc())


def test_feedback_override_needs_reason():
    base = {
        "referral_id": "r",
        "reviewer": "rev",
        "decision": "override",
        "tier": "high",
        "viability": "lead",
        "model_version": "3",
    }
    with pytest.raises(ValidationError, match="reason"):
        Feedback.model_validate(base)
    Feedback.model_validate(base | {"reason": "seen before"})


def test_schema_names_the_binding_fields():
    props = referral_json_schema()["properties"]
    for name in (
        "referral_id",
        "received_at",
        "source",
        "source_priority",
        "escalation_reason",
        "incident",
        "batched",
        "subjects",
        "victims",
        "recipients",
        "files",
        "bsi_included",
        "narrative",
    ):
        assert name in props


def test_stored_referral_reloads_as_trusted(pseudonymiser):
    from features.ingest import load_trusted

    ref = parse_referral(full_doc(), pseudonymiser)
    again = load_trusted(ref.model_dump(mode="json"))
    assert again == ref
