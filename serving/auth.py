"""Bearer tokens and the role → permission matrix (``contract.md`` §6).

A token belongs to one named person (or, for ``scorer``, one system), has one role and
expires (:data:`DEFAULT_TOKEN_HOURS`, configurable per role with ``TRIAGE_TOKEN_HOURS``);
``rotate_token`` replaces one with a fresh token for the same person. Who created,
rotated or revoked a token is recorded in the access log.

A token is shown once, when created; only its SHA-256 is stored. Authentication hashes the
presented token and looks the digest up, so the stored secret is never compared byte by
byte with attacker input (timing reveals nothing useful: finding a token from its digest's
prefix is a preimage search). Revoked tokens stop working at once (no cache here).

:data:`PERMISSIONS` is the one table of who may call what; the service reads it, and the
tests hold their own copy written from the contract (``tests/roles.py``). Routes not in it
are refused to everyone, admin included, so a new endpoint has to be added here before
anyone can use it. Least privilege: each role gets only its job. The scorer (the queue
system) posts referrals and cannot read them back; reviewers read and decide; admin is
the operator (model, drift, metrics) and neither scores nor decides: a person who is both
holds two tokens. Tokens and models are managed with the command line on the host.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import get_args

from features.contract import Role
from serving.records import StoreError, TokenInfo
from serving.store import Store

TOKEN_PREFIX = "trg_"
ROLES: tuple[Role, ...] = get_args(Role)


#: Hours a new token lives, by role, unless ``TRIAGE_TOKEN_HOURS`` says otherwise: a
#: reviewer's or admin's shift, the queue system's quarter.
DEFAULT_TOKEN_HOURS: dict[Role, float] = {"reviewer": 12.0, "admin": 12.0, "scorer": 24.0 * 90}


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


#: "METHOD /path-template" → roles allowed (nobody else, admin included).
PERMISSIONS: dict[str, frozenset[Role]] = {
    "POST /score": _roles("scorer"),
    "GET /model": _roles("scorer", "reviewer", "admin"),
    "GET /queue": _roles("reviewer"),
    "GET /referrals/{id}": _roles("reviewer"),
    "POST /feedback": _roles("reviewer"),
    "GET /second-review": _roles("reviewer"),  # the blind second review's queue
    "GET /second-review/{id}": _roles("reviewer"),  # a referral without model output
    # cases (issue 14): reviewers read them and make the package decision
    "GET /cases": _roles("reviewer"),
    "GET /cases/{id}": _roles("reviewer"),
    "POST /cases/{id}/decision": _roles("reviewer"),
    # the unit's staff record what the police of jurisdiction report back; the queue
    # system (scorer) has no business writing labels, nor admin (least privilege)
    "POST /outcomes": _roles("reviewer"),
    "GET /drift": _roles("reviewer", "admin"),
    "GET /docs.json": _roles("scorer", "reviewer", "admin"),  # the OpenAPI document
    "GET /metrics": _roles("admin"),  # volumes by tier, decisions, model: not for anyone
}
#: The reviewer page's static files (:mod:`serving.web_routes`). Open because a browser
#: cannot send a bearer token with a page load: the reviewer types the token into the page,
#: which sends it with every API call. The files hold no data.
PAGE: frozenset[str] = frozenset(
    {"GET /", "GET /web/app.js", "GET /web/app.css", "GET /web/blind.js", "GET /web/cases.js"}
)
#: Open to anyone, no token: liveness, readiness and the page's files. ``/livez`` is
#: BentoML's name for liveness, listed in its OpenAPI document: answered too.
PUBLIC: frozenset[str] = frozenset({"GET /healthz", "GET /livez", "GET /readyz"}) | PAGE


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id and name (for audit) and its role."""

    token_id: int
    name: str
    role: Role


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(
    store: Store,
    role: Role,
    name: str | None = None,
    *,
    hours: float | None = None,
    by: str | None = None,
    rotated_from: int | None = None,
) -> str:
    """Make a token for ``role`` held by ``name``; returns it. Show it once: it cannot be
    recovered. It expires after ``hours`` (default :data:`DEFAULT_TOKEN_HOURS`); ``by``
    (who made it) goes to the access log. Reviewer and admin tokens name a person."""
    if role not in ROLES:
        raise StoreError("role", f"must be one of {', '.join(ROLES)}")
    if name is None and role != "scorer":
        raise StoreError("name", f"a {role} token names the person who holds it")
    lifetime = DEFAULT_TOKEN_HOURS[role] if hours is None else hours
    if not 0 < lifetime <= 24 * 366:
        raise StoreError("hours", "must be more than 0 and at most a year")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    store.insert_token(
        name or role,
        role,
        hash_token(raw),
        lifetime=timedelta(hours=lifetime),
        by=by,
        rotated_from=rotated_from,
    )
    return raw


def rotate_token(
    store: Store, token_id: int, *, hours: float | None = None, by: str | None = None
) -> str:
    """A fresh token for the same person and role, then the old one revoked; returns the
    new token. Raises :class:`StoreError` if ``token_id`` is unknown or revoked."""
    old = next((t for t in store.tokens() if t.id == token_id and not t.revoked), None)
    if old is None:
        raise StoreError("token_id", "no active token with this id")
    raw = create_token(store, old.role, old.name, hours=hours, by=by, rotated_from=old.id)
    store.revoke_token(old.id, by)
    return raw


def authenticate(store: Store, raw: str | None) -> Principal | None:
    """The principal for a presented token, or None if missing, unknown, expired or revoked."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 256:
        return None
    info: TokenInfo | None = store.find_token(hash_token(raw))
    if info is None:
        return None
    return Principal(token_id=info.id, name=info.name, role=info.role)


def bearer(header: str | None) -> str | None:
    """The token from an ``Authorization: Bearer <token>`` header value, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def revoke_token(store: Store, token_id: int, by: str | None = None) -> bool:
    """Revoke by id (see ``triage token list``); False if unknown or already revoked."""
    return store.revoke_token(token_id, by)


def _pattern(template: str) -> re.Pattern[str]:
    method, _, path = template.partition(" ")
    parts = re.split(r"\{[^/{}]+\}", path)
    return re.compile("^" + re.escape(method + " ") + "[^/]+".join(map(re.escape, parts)) + "$")


_ROUTES = [(key, _pattern(key)) for key in (*PERMISSIONS, *PUBLIC)]


def route_key(method: str, path: str) -> str | None:
    """The table key a concrete request matches (``GET /referrals/R-1`` → ``GET /referrals/{id}``)."""
    request = f"{method.upper()} {path.split('?', 1)[0]}"
    if len(path) > 1:
        request = request.rstrip("/")
    return next((key for key, pat in _ROUTES if pat.match(request)), None)


def is_allowed(role: Role | None, method: str, path: str) -> bool:
    """Whether a caller with ``role`` (None: no valid token) may make this request."""
    key = route_key(method, path)
    if key is None:
        return False
    if key in PUBLIC:
        return True
    return role is not None and role in PERMISSIONS[key]
