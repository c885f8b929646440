"""Issue 17's defects, each tried over HTTP on a real server with SQLite and with
PostgreSQL: impersonation, a swallowed decision, a decision on a superseded score, a
rewritten referral, an unchecked model version, control characters in a name, reads
and refusals missing from the access log.

The SQLite server is the session's shared one (``live``); the PostgreSQL one runs on a
fresh database made for this module (PostgreSQL unreachable is a failure, not a skip).
"""

from __future__ import annotations

import copy
import shutil
import uuid
from collections.abc import Iterator

import pytest
from conftest import copy_home
from pg_databases import fresh_database
from service_support import Server, shown, variant

from serving.store import Store

pytestmark = pytest.mark.timeout(
    900
)  # the first test also pays for the session fixtures (a trained model, a server), minutes on a loaded host


@pytest.fixture(scope="module")
def pg_server(trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings, *_ = trained
    with fresh_database("triage_svc") as db:
        url = db.render_as_string(hide_password=False)
        home = copy_home(settings.home, tmp_path_factory.mktemp("pg") / "home")
        server = Server(home, env_extra={"TRIAGE_DATABASE_URL": url})
        try:
            server.make_tokens()
            server.start()
            yield server
        finally:
            server.stop()
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest) -> Server:
    return request.getfixturevalue("live" if request.param == "sqlite" else "pg_server")


def score(server: Server, doc: dict) -> dict:
    with server.client("scorer") as c:
        r = c.post("/score", json=doc)
    assert r.status_code == 200, r.text
    return r.json()


def decision(body: dict, score_id: int, **changes) -> dict:
    return {
        "referral_id": body["referral_id"],
        "score_id": score_id,
        "decision": "confirm",
        "tier": body["tier"],
        "viability": "lead",
        "model_version": body["model_version"],
        **changes,
    }


def test_impersonation_is_refused_and_nobody_swallows_a_decision(server, raw_referrals):
    doc = variant(raw_referrals[20], "imp")
    body = score(server, doc)
    a = server.person_token("reviewer", f"Reviewer A {uuid.uuid4().hex[:6]}")
    b = server.person_token("reviewer", f"Reviewer B {uuid.uuid4().hex[:6]}")
    with server.client(token=a) as ca, server.client(token=b) as cb:
        sid = shown(cb, doc["referral_id"])
        name_a = _name(server, a)
        r = cb.post("/feedback", json=decision(body, sid, reviewer=name_a))
        assert r.status_code == 403, "B may not decide under A's name"
        assert "reviewer" in r.json()["error"]
        r = cb.post("/feedback", json=decision(body, sid))
        assert r.status_code == 201 and r.json()["decision"]["reviewer"] == _name(server, b)
        r = ca.post("/feedback", json=decision(body, sid))
        assert r.status_code == 201, "A's own identical decision is A's, not B's retry"
        assert r.json()["created"] is True
        assert r.json()["decision"]["reviewer"] == name_a
        again = ca.post("/feedback", json=decision(body, sid, reviewer=name_a))
        assert again.status_code == 200 and again.json()["created"] is False
        record = ca.get(f"/referrals/{doc['referral_id']}").json()
    assert sorted(d["reviewer"] for d in record["decisions"]) == sorted([name_a, _name(server, b)])


def _name(server: Server, token: str) -> str:
    from serving.auth import authenticate

    with Store(server.settings.store_url()) as store:
        principal = authenticate(store, token)
    assert principal is not None
    return principal.name


def test_a_decision_on_a_superseded_score_is_refused_with_the_current_one(server, raw_referrals):
    doc = variant(raw_referrals[21], "sup")
    body = score(server, doc)
    with server.client("reviewer") as c:
        seen = shown(c, doc["referral_id"])
    other = copy.deepcopy(doc)
    other["victims"] = [{"age": 6, "age_band": "prepubescent", "identified": False}]
    body2 = score(server, other)  # the scorer re-posts the id with other victims
    with server.client("reviewer") as c:
        r = c.post("/feedback", json=decision(body, seen))
        assert r.status_code == 409, r.text
        current = r.json()["current_score_id"]
        assert current > seen and r.json()["current"]["referral_id"] == doc["referral_id"]
        record = c.get(f"/referrals/{doc['referral_id']}").json()
        assert record["decisions"] == [], "nothing was recorded on the superseded score"
        r = c.post("/feedback", json=decision(body2, current))
        assert r.status_code == 201 and r.json()["decision"]["score_id"] == current
    with Store(server.settings.store_url()) as store:
        reads = [a for a in store.access_for(doc["referral_id"]) if a.status == 409]
    assert [(a.action, a.role) for a in reads] == [("read_superseded_score", "reviewer")], (
        "the 409 showed the current score: that read is in the access log"
    )
    with server.client("reviewer") as c:
        r = c.post("/feedback", json=decision(body, 10**12))
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "score_id"
        fb = decision(body2, current)
        del fb["score_id"]
        r = c.post("/feedback", json=fb)
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "score_id"


def test_a_rescored_referral_keeps_every_version(server, raw_referrals):
    doc = variant(raw_referrals[22], "ver")
    doc["victims"] = [{"age": 15, "age_band": "pubescent", "identified": True}]
    first = score(server, doc)
    with server.client("reviewer") as c:
        sid = shown(c, doc["referral_id"])
        assert c.post("/feedback", json=decision(first, sid)).status_code == 201
    rewritten = copy.deepcopy(doc)
    rewritten["victims"] = [{"age": 3, "age_band": "infant", "identified": False}]
    score(server, rewritten)  # a decided referral re-posted: a visible new version
    with server.client("reviewer") as c:
        record = c.get(f"/referrals/{doc['referral_id']}").json()
        queue = [i["referral_id"] for i in c.get("/queue", params={"limit": 1000}).json()["items"]]
    v1, v2 = record["scores"]
    assert v1["referral"]["victims"][0]["age"] == 15, "what the first reviewer saw is kept"
    assert v2["referral"]["victims"][0]["age"] == 3
    assert record["referral"]["victims"][0]["age"] == 3
    [d] = record["decisions"]
    assert d["score_id"] == v1["id"], "the decision stays bound to the version decided"
    assert doc["referral_id"] in queue, "the new version awaits its own review"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"model_version": "999-not-a-model"}, "model_version"),
        ({"model_version": "<b>1</b>"}, "model_version"),
        ({"reviewer": "\u202eevil\u0000"}, "reviewer"),
        ({"reviewer": "tab\there"}, "reviewer"),
        ({"decision": "override", "reason": "why\u202e"}, "reason"),
    ],
)
def test_bad_feedback_is_refused_by_field(server, raw_referrals, changes, path):
    doc = variant(raw_referrals[23], "bad")
    body = score(server, doc)
    with server.client("reviewer") as c:
        sid = shown(c, doc["referral_id"])
        r = c.post("/feedback", json=decision(body, sid, **changes))
        assert r.status_code == 422, r.text
        assert path in {e["path"] for e in r.json()["errors"]}
        assert "evil" not in r.text
        assert c.get(f"/referrals/{doc['referral_id']}").json()["decisions"] == []


def test_identifiers_in_an_override_reason_are_redacted(server, raw_referrals):
    doc = variant(raw_referrals[24], "red")
    body = score(server, doc)
    with server.client("reviewer") as c:
        sid = shown(c, doc["referral_id"])
        reason = "same person as fake.person@example.com, call +1 555 010 9999"
        r = c.post("/feedback", json=decision(body, sid, decision="override", reason=reason))
    assert r.status_code == 201
    stored = r.json()["decision"]["reason"]
    assert "example.com" not in stored and "555" not in stored
    assert "[email]" in stored and "[phone]" in stored


def test_reads_and_refusals_are_in_the_access_log(server, raw_referrals):
    doc = variant(raw_referrals[25], "acc")
    score(server, doc)
    rid = doc["referral_id"]
    with server.client("reviewer") as c:
        assert c.get(f"/referrals/{rid}").status_code == 200
        assert c.get("/queue", params={"limit": 1000}).status_code == 200
    with server.client("scorer") as c:
        assert c.get(f"/referrals/{rid}").status_code == 403
    with server.client() as c:
        assert c.get(f"/referrals/{rid}").status_code == 401
    with Store(server.settings.store_url()) as store:
        records = store.access_for(rid)
        assert store.verify_access().ok
    got = {(r.action, r.status, r.role, r.actor) for r in records}
    assert ("read_referral", 200, "reviewer", "test-reviewer") in got
    assert ("read_queue", 200, "reviewer", "test-reviewer") in got
    assert ("refused", 403, "scorer", "test-scorer") in got
    assert ("refused", 401, None, None) in got
    assert all(r.client == "127.0.0.1" for r in records)
