"""The permission matrix on a real server: every endpoint × every role × no token.

Expectations come from :data:`serving.auth.PERMISSIONS` and :data:`serving.auth.PUBLIC`, the
table the service enforces, so a route added there is tested here without a new test.
"""

from __future__ import annotations

import pytest

from serving.auth import PERMISSIONS, PUBLIC, ROLES
from serving.store import Store

pytestmark = pytest.mark.timeout(300)

ROUTES = sorted({*PERMISSIONS, *PUBLIC})


def call(client, key: str):
    method, _, template = key.partition(" ")
    path = template.replace("{id}", "R-does-not-exist")
    if method == "POST":
        return client.post(path, content=b"{}", headers={"Content-Type": "application/json"})
    return client.get(path)


@pytest.mark.parametrize("key", ROUTES)
def test_every_endpoint_for_every_role_and_no_token(live, key):
    with live.client() as anonymous:
        status = call(anonymous, key).status_code
    if key in PUBLIC:
        assert status == 200, f"{key} is open"
    else:
        assert status == 401, f"{key} without a token"
    for role in ROLES:
        with live.client(role) as c:
            status = call(c, key).status_code
        if key in PUBLIC or role in PERMISSIONS[key]:
            assert status not in (401, 403) and status < 500, f"{key} as {role}: {status}"
        else:
            assert status == 403, f"{key} as {role}: {status}"


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
