"""``POST /feedback``, ``GET /queue`` and ``GET /referrals/{id}`` on a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from service_support import at, shown, uid, variant

from features.contract import TIERS

pytestmark = pytest.mark.timeout(300)


def decision(score: dict, score_id: int, **changes) -> dict:
    body = {
        "referral_id": score["referral_id"],
        "score_id": score_id,
        "decision": "confirm",
        "tier": score["tier"],
        "viability": max(score["viability"], key=score["viability"].get),
        "model_version": score["model_version"],
    }
    return {**body, **changes}


def queue_ids(client, **params) -> list[str]:
    r = client.get("/queue", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return [i["referral_id"] for i in r.json()["items"]]


def test_feedback_round_trip(live, raw_referrals):
    doc = variant(raw_referrals[10], "fb")
    with live.client("scorer") as c:
        score = c.post("/score", json=doc).json()
    with live.client("reviewer") as c:
        assert doc["referral_id"] in queue_ids(c)
        sid = shown(c, doc["referral_id"])
        fb = decision(score, sid, decision="override", tier="immediate", reason="victim at risk")
        first = c.post("/feedback", json=fb)
        assert first.status_code == 201, first.text
        again = c.post("/feedback", json=fb)
        assert again.status_code == 200, "the same decision twice is stored once"
        assert again.json()["decision"]["id"] == first.json()["decision"]["id"]
        assert again.json()["created"] is False
        record = c.get(f"/referrals/{doc['referral_id']}").json()
        assert doc["referral_id"] not in queue_ids(c)
    assert [d["decision"] for d in record["decisions"]] == ["override"]
    assert record["decisions"][0]["tier"] == "immediate"
    # who: the token's person, recorded as the reviewer and as the recording token
    assert record["decisions"][0]["reviewer"] == "test-reviewer"
    assert record["decisions"][0]["recorded_by"] == "test-reviewer"
    assert isinstance(record["decisions"][0]["recorded_by_token"], int)
    assert record["decisions"][0]["score_id"] == record["scores"][-1]["id"]
    assert record["referral"]["narrative"] is None


def test_feedback_errors(live, raw_referrals):
    doc = variant(raw_referrals[11], "fberr")
    with live.client("scorer") as c:
        score = c.post("/score", json=doc).json()
    with live.client("reviewer") as c:
        sid = shown(c, doc["referral_id"])
        r = c.post("/feedback", json=decision(score, sid, decision="override", tier="immediate"))
        assert r.status_code == 422
        assert r.json()["errors"] == [
            {"path": "reason", "reason": "required when decision is 'override'"}
        ]
        r = c.post("/feedback", json=decision(score, sid, referral_id=uid("never-scored")))
        assert r.status_code == 404
        r = c.post("/feedback", json=decision(score, sid, tier="soon", reviewer=""))
        assert r.status_code == 422
        assert {e["path"] for e in r.json()["errors"]} == {"tier", "reviewer"}
        assert c.post("/feedback", content=b"[1]").status_code == 422
        assert c.post("/feedback", content=b"{").status_code == 400
        assert doc["referral_id"] in queue_ids(c), "no decision was recorded"


def test_queue_is_highest_priority_first_and_filters(live, raw_referrals):
    docs = [variant(d, "queue") for d in raw_referrals[100:180]]
    with live.client("scorer") as c:
        assert c.post("/score", json=docs).status_code == 200
    with live.client("reviewer") as c:
        items = c.get("/queue", params={"limit": 1000}).json()["items"]
        now = [i["priority_now"] for i in items]
        assert now == sorted(now, reverse=True)
        ranks = [TIERS.index(i["score"]["tier"]) for i in items]
        assert ranks == sorted(ranks), "ageing moved a referral out of its tier's band"
        assert all(i["priority"] == i["score"]["priority"] <= i["priority_now"] for i in items)
        page = c.get("/queue", params={"limit": 5, "offset": 5}).json()
        assert [i["referral_id"] for i in page["items"]] == [i["referral_id"] for i in items[5:10]]
        for tier in ("immediate", "high", "routine"):
            got = c.get("/queue", params={"tier": tier, "limit": 1000}).json()["items"]
            assert all(i["score"]["tier"] == tier for i in got)
        got = c.get("/queue", params={"source": "industry", "limit": 1000}).json()["items"]
        assert all(i["source"] == "industry" for i in got)
        r = c.get("/queue", params={"limit": 0, "tier": "soon"})
        assert r.status_code == 422
        assert {e["path"] for e in r.json()["errors"]} == {"query.limit", "query.tier"}


def test_queue_ages_by_the_preservation_deadline(live, raw_referrals):
    """An industry referral received 490 h ago (deadline 14 h away) is aged at the read:
    its priority now is above its priority at scoring, still in its tier's band, and the
    item says why; a referral received now has not moved out of its place."""
    now = datetime.now(UTC)
    old = at(variant(raw_referrals[200], "aged", source="industry"), now - timedelta(hours=490))
    fresh = at(variant(raw_referrals[201], "fresh", source="public"), now)
    with live.client("scorer") as c:
        assert c.post("/score", json=[old, fresh]).status_code == 200
    with live.client("reviewer") as c:
        items = {
            i["referral_id"]: i for i in c.get("/queue", params={"limit": 1000}).json()["items"]
        }
    aged, new = items[old["referral_id"]], items[fresh["referral_id"]]
    band = TIERS[::-1].index(aged["score"]["tier"]) * 100 / 3
    assert aged["priority"] < aged["priority_now"] < band + 100 / 3
    assert aged["aged_because"].startswith("waited 490 h against a ")
    assert aged["aged_because"].endswith("; preservation deadline in 14 h")
    assert new["priority_now"] >= new["priority"]
    for item in (aged, new):  # every Score from the service carries the doubt flag
        assert item["score"]["cannot_rule_out_immediate"] == (
            "immediate" in item["score"]["urgency_set"]
        )
    assert new["score"]["retention_deadline"] is None


def test_unknown_referral_is_404(live):
    with live.client("reviewer") as c:
        r = c.get(f"/referrals/{uid('nobody')}")
    assert r.status_code == 404
    assert "no scored referral" in r.json()["error"]
