"""serving/auth.py without a server: bearer parsing, token hashing, route matching and
tokens on a real (SQLite) store. The role x route table itself is tested by branch
``oversight``'s table (issue 17); here only what the table cannot show."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from serving import auth
from serving.records import StoreError
from serving.store import Store


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer trg_abc", "trg_abc"),
        ("bearer   trg_abc  ", "trg_abc"),
        ("BEARER trg_abc", "trg_abc"),
        ("Bearer", None),
        ("Bearer    ", None),
        ("Basic dXNlcjpwdw==", None),
        ("trg_abc", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer(header, token) -> None:
    assert auth.bearer(header) == token


def test_tokens_are_stored_as_their_sha256() -> None:
    assert auth.hash_token("trg_x") == hashlib.sha256(b"trg_x").hexdigest()
    assert auth.TOKEN_PREFIX == "trg_"


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("POST", "/score", "POST /score"),
        ("post", "/score/", "POST /score"),
        ("GET", "/referrals/R-1", "GET /referrals/{id}"),
        ("GET", "/referrals/R-1/x", None),
        ("GET", "/referrals/", None),
        ("GET", "/queue?limit=5", "GET /queue"),
        ("GET", "/queue?a=b?c", "GET /queue"),
        ("GET", "/queueX", None),
        ("GET", "/score", None),
        ("GET", "/", "GET /"),
        ("GET", "/healthz", "GET /healthz"),
        ("GET", "/livez", "GET /livez"),
        ("GET", "/nope", None),
        ("DELETE", "/feedback", None),
    ],
)
def test_route_key(method: str, path: str, key: str | None) -> None:
    assert auth.route_key(method, path) == key


def test_route_templates_compile_to_exact_patterns() -> None:
    """Called here, not only at import, so a changed compiler is seen (mutmut too)."""
    pat = auth._pattern("GET /referrals/{id}")
    assert pat.match("GET /referrals/R-1.x:y")
    for other in (
        "GET /referrals/",
        "GET /referrals/a/b",
        "POST /referrals/a",
        "GET /referralsX/a",
    ):
        assert not pat.match(other), other
    assert not pat.match("xGET /referrals/a") and not pat.match("GET /referrals/a/")
    plain = auth._pattern("POST /score")
    assert plain.match("POST /score") and not plain.match("POST /scores")
    assert not plain.match("POST /score/x") and not plain.match("POST  /score")
    two = auth._pattern("GET /a/{x}/b/{y}")
    assert two.match("GET /a/1/b/2") and not two.match("GET /a/1/b/")
    # least privilege (docs/security.md): a route names exactly its roles, admin included
    assert auth._roles("scorer") == frozenset({"scorer"})
    assert auth._roles("reviewer", "admin") == frozenset({"reviewer", "admin"})


def test_is_allowed_beyond_the_table() -> None:
    assert auth.is_allowed(None, "GET", "/healthz"), "public routes need no token"
    assert auth.is_allowed(None, "GET", "/livez")
    assert not auth.is_allowed(None, "POST", "/score"), "no token, no route"
    assert not auth.is_allowed("admin", "GET", "/nope"), "unknown routes are closed to all"
    assert auth.is_allowed("scorer", "POST", "/score")
    assert not auth.is_allowed("scorer", "POST", "/feedback")
    assert not auth.is_allowed("scorer", "GET", "/drift"), "docs/service.md: reviewer, admin"
    assert not auth.is_allowed("scorer", "GET", "/queue")
    assert auth.is_allowed("reviewer", "GET", "/drift")
    assert not auth.is_allowed("admin", "POST", "/feedback"), "admin does not decide"
    assert auth.is_allowed("admin", "GET", "/metrics")
    assert not auth.is_allowed(None, "GET", "/metrics"), "metrics are not for anyone"


@pytest.fixture
def store(tmp_path: Path):
    with Store(f"sqlite:///{tmp_path / 'auth.db'}") as s:
        s.migrate()
        yield s


def test_token_life_cycle_on_a_real_store(store: Store) -> None:
    raw = auth.create_token(store, "reviewer", "desk-1")
    assert raw.startswith("trg_") and len(raw) > 40
    who = auth.authenticate(store, raw)
    assert who is not None and (who.name, who.role) == ("desk-1", "reviewer")
    assert auth.authenticate(store, raw + "x") is None
    assert auth.authenticate(store, raw[4:]) is None, "the prefix is required"
    assert auth.authenticate(store, "trg_" + "a" * 253) is None
    assert auth.authenticate(store, None) is None and auth.authenticate(store, "") is None
    unnamed = auth.create_token(store, "scorer")
    assert auth.authenticate(store, unnamed).name == "scorer"  # type: ignore[union-attr]
    assert auth.revoke_token(store, who.token_id) is True
    assert auth.authenticate(store, raw) is None
    assert auth.revoke_token(store, who.token_id) is False
    with pytest.raises(StoreError) as e:
        auth.create_token(store, "root")  # type: ignore[arg-type]
    assert (e.value.field, e.value.reason) == ("role", "must be one of scorer, reviewer, admin")
    assert len(raw) == len("trg_") + 43, "32 random bytes, base64url"


def test_tokens_longer_than_256_characters_are_refused_unlooked(store: Store) -> None:
    longest, too_long, bare = "trg_" + "a" * 252, "trg_" + "b" * 253, "no-prefix-token"
    for raw in (longest, too_long, bare):
        store.insert_token("planted", "reviewer", auth.hash_token(raw))
    assert auth.authenticate(store, longest) is not None
    assert auth.authenticate(store, too_long) is None
    assert auth.authenticate(store, bare) is None
