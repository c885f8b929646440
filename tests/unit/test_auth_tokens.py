"""Token rules of ``serving/auth.py`` on a real (SQLite) store, beyond the life cycle in
``test_auth_rules.py`` and the oversight tests: lifetimes and their bounds, rotation with
its own lifetime, who revoked, refusals that name the field and the reason (contract
§6, ``docs/security.md``), and the role x route table from the tests' own copy of the
contract (``tests/roles.py``), every role and no token, exactly."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import pytest

from features.contract import Role
from serving import auth
from serving.records import StoreError
from serving.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from roles import OPEN, ROLE_TABLE, ROLES  # noqa: E402  (the tests' own copy of contract §6)

YEAR_HOURS = 24 * 366


@pytest.fixture
def store(tmp_path: Path):
    with Store(f"sqlite:///{tmp_path / 'tokens.db'}") as s:
        s.migrate()
        yield s


def _lifetime(store: Store, token_id: int) -> timedelta:
    [t] = [t for t in store.tokens() if t.id == token_id]
    assert t.expires_at is not None
    return t.expires_at - t.created_at


def _refusal(call) -> tuple[str, str]:
    with pytest.raises(StoreError) as e:
        call()
    return e.value.field, e.value.reason


def test_default_lifetimes_a_shift_for_people_a_quarter_for_the_queue_system(store) -> None:
    cases: list[tuple[Role, str | None, int]] = [
        ("reviewer", "Ada", 12),
        ("admin", "Ops", 12),
        ("scorer", None, 2160),  # 90 days
    ]
    for role, name, hours in cases:
        who = auth.authenticate(store, auth.create_token(store, role, name))
        assert who is not None
        assert _lifetime(store, who.token_id) == timedelta(hours=hours), role


def test_a_lifetime_is_more_than_nothing_and_at_most_a_year(store) -> None:
    year = auth.authenticate(store, auth.create_token(store, "scorer", hours=YEAR_HOURS))
    assert year is not None and _lifetime(store, year.token_id) == timedelta(days=366)
    minute = auth.authenticate(store, auth.create_token(store, "reviewer", "Ada", hours=1 / 60))
    assert minute is not None and _lifetime(store, minute.token_id) == timedelta(minutes=1)
    for hours in (0, -1, YEAR_HOURS + 1, YEAR_HOURS * 2):
        refusal = _refusal(lambda h=hours: auth.create_token(store, "scorer", hours=h))
        assert refusal == ("hours", "must be more than 0 and at most a year"), hours
    assert len(store.tokens()) == 2, "a refused token is not stored"


def test_people_tokens_name_their_holder(store) -> None:
    people: tuple[Role, ...] = ("reviewer", "admin")
    for role in people:
        refusal = _refusal(lambda r=role: auth.create_token(store, r))
        assert refusal == ("name", f"a {role} token names the person who holds it")
    assert store.tokens() == []


def test_rotation_keeps_person_and_role_with_its_own_lifetime(store) -> None:
    old = auth.authenticate(store, auth.create_token(store, "reviewer", "Ada", hours=1))
    assert old is not None
    new = auth.authenticate(store, auth.rotate_token(store, old.token_id, hours=3, by="lead"))
    assert new is not None and (new.name, new.role) == ("Ada", "reviewer")
    assert new.token_id != old.token_id
    assert _lifetime(store, new.token_id) == timedelta(hours=3)
    again = auth.authenticate(store, auth.rotate_token(store, new.token_id))
    assert again is not None and _lifetime(store, again.token_id) == timedelta(hours=12)


def test_only_an_active_token_rotates(store) -> None:
    who = auth.authenticate(store, auth.create_token(store, "reviewer", "Ada"))
    assert who is not None
    assert auth.revoke_token(store, who.token_id)
    for token_id in (who.token_id, who.token_id + 100):
        refusal = _refusal(lambda t=token_id: auth.rotate_token(store, t))
        assert refusal == ("token_id", "no active token with this id")
    assert len(store.tokens()) == 1


def test_revocation_records_who_revoked(store) -> None:
    who = auth.authenticate(store, auth.create_token(store, "reviewer", "Ada", by="lead"))
    assert who is not None
    assert auth.revoke_token(store, who.token_id, by="os:security")
    [t] = store.tokens()
    assert t.revoked and t.revoked_by == "os:security"
    assert [(r.action, r.actor) for r in store.access_recent()] == [
        ("token_created", "lead"),
        ("token_revoked", "os:security"),
    ]


def _concrete(route: str) -> tuple[str, str]:
    method, path = route.split(" ", 1)
    return method, path.replace("{id}", "R-1")


@pytest.mark.parametrize("route", sorted(ROLE_TABLE))
def test_the_role_table_exactly(route: str) -> None:
    method, path = _concrete(route)
    allowed = {role for role in ROLES if auth.is_allowed(role, method, path)}  # type: ignore[arg-type]
    assert allowed == set(ROLE_TABLE[route])
    assert not auth.is_allowed(None, method, path), "no token, no route"


@pytest.mark.parametrize("route", sorted(OPEN))
def test_open_routes_need_no_token(route: str) -> None:
    method, path = _concrete(route)
    assert auth.is_allowed(None, method, path)
    assert all(auth.is_allowed(role, method, path) for role in ROLES)  # type: ignore[arg-type]
