"""The blind second review over HTTP on a real server (issue 12): the blinded routes
(reviewers only, no model output) and the safeguards' answers: a blind review of a
referral not drawn is 422, the same person making both reviews is 409, each naming
``review``; another person's blind review is recorded."""

from __future__ import annotations

import pytest
from service_support import KEY, shown, variant

from features.blind_draw import DEFAULT_SHARE, drawn_for_blind_review
from features.pseudonyms import Pseudonymiser
from serving.auth import create_token
from serving.store import Store

pytestmark = pytest.mark.timeout(300)
MODEL_OUTPUT = {"tier", "priority", "urgency", "viability", "reasons", "safety_rules", "scores"}


def _post(live, raw_referrals, *, drawn: bool) -> dict:
    """A fresh referral the keyed draw picks (or not), scored, with no safety rule."""
    p = Pseudonymiser(KEY.encode())
    for n, doc in enumerate(raw_referrals):
        for _ in range(300):
            doc = variant(doc, f"bhttp{n}")
            if drawn_for_blind_review(doc["referral_id"], p, DEFAULT_SHARE) == drawn:
                break
        with live.client("scorer") as c:
            r = c.post("/score", json=[doc])
        assert r.status_code == 200, r.text
        [score] = r.json()["scores"]
        if score["second_review"] == drawn:
            return score
    raise AssertionError("no referral found")


def _decision(c, score: dict, **kw) -> dict:
    return {
        "referral_id": score["referral_id"],
        "score_id": shown(c, score["referral_id"]),
        "decision": "confirm",
        "tier": score["tier"],
        "viability": "lead",
        "model_version": score["model_version"],
        "urgency_assessed": "high",
        **kw,
    }


def test_the_blind_routes_and_safeguards(live, raw_referrals):
    drawn = _post(live, raw_referrals, drawn=True)
    rid = drawn["referral_id"]
    for role, status in (("scorer", 403), ("admin", 403), (None, 401)):
        with live.client(role) as c:
            assert c.get(f"/second-review/{rid}").status_code == status, role
            assert c.get("/second-review").status_code == status, role
    with live.client("reviewer") as c:
        listed = c.get("/second-review").json()["items"]
        assert rid in {i["referral_id"] for i in listed}
        view = c.get(f"/second-review/{rid}")
        assert view.status_code == 200, view.text
        body = view.json()
        assert set(body) == {
            "referral",
            "score_id",
            "model_version",
            "second_review",
            "blind_review_done",
        }
        assert body["second_review"] and not MODEL_OUTPUT & set(body["referral"])
        assert c.get("/second-review/NEVER-SCORED-1").status_code == 404
        first = c.post("/feedback", json=_decision(c, drawn))
        assert first.status_code == 201, first.text
        same = c.post("/feedback", json=_decision(c, drawn, review="second_blind"))
        assert same.status_code == 409, same.text
        assert same.json()["errors"][0]["path"] == "review"
    with Store(live.settings.store_url()) as store:
        other = create_token(store, "reviewer", "test-reviewer-blind")
    with live.client(token=other) as c:
        blind = c.post("/feedback", json=_decision(c, drawn, review="second_blind"))
        assert blind.status_code == 201, blind.text
        assert blind.json()["decision"]["review"] == "second_blind"
        assert rid not in {i["referral_id"] for i in c.get("/second-review").json()["items"]}
        plain = _post(live, raw_referrals, drawn=False)
        refused = c.post("/feedback", json=_decision(c, plain, review="second_blind"))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["path"] == "review"
