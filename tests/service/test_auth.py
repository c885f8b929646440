"""The permission matrix on a real server: every route × every role × no token, with
exact statuses from the tests' own table (``tests/roles.py``, written from the contract,
not from ``serving.auth``): 2xx for a role the table allows, 403 for any other valid
token, 401 without one. Also: expired, revoked and unknown tokens, and the alarm that
repeated failures raise.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from service_support import shown, variant

from serving.auth import hash_token
from serving.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from roles import OPEN, ROLE_TABLE, ROLES  # noqa: E402

pytestmark = pytest.mark.timeout(
    900
)  # the first test also pays for the session fixtures (a trained model, a server), minutes on a loaded host


@pytest.fixture(scope="module")
def scored(live, raw_referrals) -> dict:
    """A referral scored for the matrix's reads and decisions."""
    doc = variant(raw_referrals[5], "matrix")
    with live.client("scorer") as c:
        score = c.post("/score", json=doc).json()
    with live.client("reviewer") as c:
        score["score_id"] = shown(c, doc["referral_id"])
        stored = c.get(f"/referrals/{doc['referral_id']}").json()["scores"][-1]["score"]
    return {"doc": doc, "score": score, "case_id": stored["case_id"], "live": live}


def call(client, key: str, scored: dict):
    """A request to ``key`` that succeeds (2xx) for a role allowed to make it."""
    method, _, template = key.partition(" ")
    score = scored["score"]
    ident = scored["case_id"] if template.startswith("/cases/") else score["referral_id"]
    path = template.replace("{id}", ident)
    if key == "POST /score":
        return client.post(path, json=variant(scored["doc"], "matrix"))
    if key == "POST /feedback":
        fb = {
            "referral_id": score["referral_id"],
            "score_id": score["score_id"],
            "decision": "confirm",
            "tier": score["tier"],
            "viability": "lead",
            "model_version": score["model_version"],
        }
        return client.post(path, json=fb)
    if key == "POST /outcomes":
        report = {
            "referral_id": score["referral_id"],
            "reported_at": "2024-06-01T12:00:00+00:00",
            "agency": "Example Police Service",
            "finding": "not_investigated",
        }
        return client.post(path, json=report)
    if key == "POST /cases/{id}/decision":
        with scored["live"].client("reviewer") as c:  # the members now (the matrix adds some)
            members = c.get(path.removesuffix("/decision")).json()["referral_ids"]
        body = {"referral_ids": members, "viability": "lead", "route": "confirm"}
        return client.post(path, json=body)
    assert method == "GET", f"{key}: the matrix needs a request for it"
    return client.get(path)


def succeeded(r) -> bool:
    if r.status_code == 404 and "no drift report" in r.text:
        return True  # /drift before any `triage monitor`: the route itself answered
    return 200 <= r.status_code < 300


@pytest.mark.parametrize("key", sorted({*ROLE_TABLE, *OPEN}))
def test_every_endpoint_for_every_role_and_no_token(live, scored, key):
    with live.client() as anonymous:
        r = call(anonymous, key, scored)
    if key in OPEN:
        assert r.status_code == 200, f"{key} is open"
    else:
        assert r.status_code == 401, f"{key} without a token: {r.status_code}"
    for role in ROLES:
        with live.client(role) as c:
            r = call(c, key, scored)
        if key in OPEN or role in ROLE_TABLE[key]:
            assert succeeded(r), f"{key} as {role}: {r.status_code} {r.text[:200]}"
        else:
            assert r.status_code == 403, f"{key} as {role}: {r.status_code}"


def test_an_expired_token_is_refused(live):
    with Store(live.settings.store_url()) as store:
        raw = "trg_expired-" + "x" * 30
        past = store.now() - timedelta(minutes=1)
        store.insert_token("Reviewer Expired", "reviewer", hash_token(raw), expires_at=past)
    with live.client(token=raw) as c:
        r = c.get("/queue")
    assert r.status_code == 401 and "expired" in r.json()["error"]


def test_repeated_failures_raise_a_metric_and_a_log_event(live):
    with live.client() as c:
        for i in range(25):
            c.get("/queue", headers={"Authorization": f"Bearer trg_wrong-{i}"})
    with live.client("admin") as c:
        metrics = c.get("/metrics").text
    failures = re.search(r"^triage_auth_failures_total (\S+)$", metrics, re.M)
    alarms = re.search(r"^triage_auth_failure_alarms_total (\S+)$", metrics, re.M)
    assert failures and float(failures.group(1)) >= 25
    assert alarms and float(alarms.group(1)) >= 1
    for _ in range(50):  # the server's log lines reach its file a moment later
        if '"event":"auth_failures_repeated"' in live.logs():
            break
        time.sleep(0.2)
    assert '"event":"auth_failures_repeated"' in live.logs()


@pytest.mark.parametrize(
    "header", ["Bearer trg_not-a-token", "Bearer", "Basic dXNlcjpwdw==", "trg_no-scheme"]
)
def test_bad_credentials_are_401(live, header):
    with live.client() as c:
        r = c.post("/score", json={}, headers={"Authorization": header})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_routes_outside_the_table_are_closed(live):
    with live.client("admin") as c:
        for path in ("/schema.json", "/static_content/index.css", "/nope"):
            assert c.get(path).status_code == 404, path
        assert c.get("/score").status_code == 404, "GET on a POST route is not in the table"
    with live.client() as c:
        assert c.get("/schema.json").status_code == 401


def test_a_revoked_token_stops_working_at_once(live):
    from serving.auth import create_token, revoke_token

    with Store(live.settings.store_url()) as store:
        token = create_token(store, "reviewer", "to-revoke")
        with live.client(token=token) as c:
            assert c.get("/queue").status_code == 200
            token_id = next(t.id for t in store.tokens() if t.name == "to-revoke")
            assert revoke_token(store, token_id)
            assert c.get("/queue").status_code == 401


def test_openapi_is_published_with_every_contract_route(live):
    with live.client("scorer") as c:
        spec = c.get("/docs.json").json()
    for path in ("/score", "/feedback", "/queue", "/referrals/{referral_id}", "/model"):
        assert path in spec["paths"], path
    body = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    assert "referral_id" in body["schema"]["oneOf"][0]["properties"]
