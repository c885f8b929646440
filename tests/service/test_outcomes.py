"""Contract v1.1 on a real server (issue 12): ``POST /outcomes`` (contract §5b) for every
role and bad input, and the decision's new fields ``urgency_assessed`` and ``review``."""

from __future__ import annotations

import pytest
from service_support import shown, variant

pytestmark = pytest.mark.timeout(300)
REPORTED = "2025-01-10T09:00:00+00:00"


def report(rid: str, **changes) -> dict:
    body = {
        "referral_id": rid,
        "reported_at": REPORTED,
        "agency": "Fake Provincial Police (test)",
        "finding": "child_at_risk_confirmed",
        "urgency_in_hindsight": "immediate",
    }
    return {**body, **changes}


@pytest.fixture(scope="module")
def scored(live, raw_referrals) -> dict:
    doc = variant(raw_referrals[21], "outc")
    with live.client("scorer") as c:
        r = c.post("/score", json=doc)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    ("role", "status"),
    [("reviewer", 201), ("reviewer", 200), ("admin", 403), ("scorer", 403), (None, 401)],
)
def test_outcomes_for_every_role(live, scored, role, status):
    # the reviewer records it (201), and the same report again is a retry (200); least
    # privilege: neither admin nor the queue system (scorer) writes labels
    with live.client(role) as c:
        r = c.post("/outcomes", json=report(scored["referral_id"]))
    assert r.status_code == status, r.text
    if status in (200, 201):
        out = r.json()["outcome"]
        assert out["id"] >= 1 and out["urgency_in_hindsight"] == "immediate"
        assert r.json()["created"] is (status == 201)


def test_outcome_bad_input_changes_nothing(live, scored):
    rid = scored["referral_id"]
    bad = [
        (report(rid, finding="solved"), "finding"),
        (report(rid, urgency_in_hindsight="urgent"), "urgency_in_hindsight"),
        (report(rid, reported_at="2025-01-10T09:00:00"), "reported_at"),
        (report(rid, reported_at="2999-01-01T00:00:00+00:00"), "reported_at"),
        (report(rid, agency=""), "agency"),
        ({k: v for k, v in report(rid).items() if k != "finding"}, "finding"),
        (report("bad id with spaces"), "referral_id"),
    ]
    with live.client("reviewer") as c:
        for body, field in bad:
            r = c.post("/outcomes", json=body)
            assert r.status_code == 422, (field, r.text)
            assert field in r.text
        r = c.post("/outcomes", json=report("NEVER-SCORED-0001"))
        assert r.status_code == 404
        r = c.post("/outcomes", content=b"[1, 2]", headers={"Content-Type": "application/json"})
        assert r.status_code == 422


def test_decisions_carry_the_assessment_and_the_review(live, raw_referrals):
    doc = variant(raw_referrals[22], "assess")
    with live.client("scorer") as c:
        score = c.post("/score", json=doc).json()
    with live.client("reviewer") as c:
        body = {
            "referral_id": doc["referral_id"],
            "score_id": shown(c, doc["referral_id"]),
            "decision": "confirm",
            "tier": score["tier"],
            "viability": "lead",
            "model_version": score["model_version"],
        }
        r = c.post("/feedback", json={**body, "review": "second_blind"})
        assert r.status_code == 422 and "urgency_assessed" in r.text  # blind: must assess
        r = c.post("/feedback", json={**body, "urgency_assessed": "high"})
        assert r.status_code == 201, r.text
        rec = r.json()["decision"]
        assert (rec["urgency_assessed"], rec["review"]) == ("high", "first")
