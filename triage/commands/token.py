"""``triage token``: create, list, rotate and revoke the service's bearer tokens.

``create`` and ``rotate`` print the token and nothing else on stdout, so a script can
capture it (``TOKEN=$(triage token create --role scorer --name queue-system)``); it is
shown only this once. Every token names its holder (a person, or the system for the
scorer) and expires (``TRIAGE_TOKEN_HOURS``, default 12 h for reviewers and admins).
Who ran the command (``--by``, default the operating-system user) is recorded in the
access log with the token's creation, rotation or revocation. ``list`` never shows tokens
or their hashes.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from features.contract import Role
from serving.auth import DEFAULT_TOKEN_HOURS, ROLES, create_token, revoke_token, rotate_token
from serving.records import StoreError
from serving.store import Store
from triage.common import settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = sub.add_parser("create", help="make a token and print it (once)")
    c.add_argument("--role", required=True, choices=ROLES, help="what the token may do")
    c.add_argument("--name", required=True, help="the person (or system) who holds it")
    c.add_argument("--hours", type=float, help="lifetime (default by role, TRIAGE_TOKEN_HOURS)")
    sub.add_parser("list", help="ids, holders, roles, expiry, who made them (never the tokens)")
    o = sub.add_parser("rotate", help="a fresh token for the same holder; the old one revoked")
    o.add_argument("token_id", type=int, help="the id shown by `triage token list`")
    o.add_argument("--hours", type=float, help="lifetime of the new token")
    r = sub.add_parser("revoke", help="revoke a token by id")
    r.add_argument("token_id", type=int, help="the id shown by `triage token list`")
    for q in (c, o, r):
        q.add_argument("--by", help="who is doing this (default: the operating-system user)")


def _hours(role: Role, given: float | None) -> float:
    if given is not None:
        return given
    return float(settings().token_hours.get(role, DEFAULT_TOKEN_HOURS[role]))


def _by(args: argparse.Namespace) -> str:
    return args.by or f"os:{getpass.getuser()}"


def run(args: argparse.Namespace) -> int:
    with Store(settings().store_url()) as store:
        store.migrate()
        try:
            return _act(args, store)
        except StoreError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2


def _act(args: argparse.Namespace, store: Store) -> int:
    if args.action == "create":
        role: Role = args.role
        hours = _hours(role, args.hours)
        print(create_token(store, role, args.name, hours=hours, by=_by(args)))
        return 0
    if args.action == "list":
        now = store.now()
        print(f"{'id':>4}  {'role':<8}  {'expires (UTC)':<16}  {'state':<7}  {'by':<16}  holder")
        for t in store.tokens():
            expires = t.expires_at.strftime("%Y-%m-%d %H:%M") if t.expires_at else "never"
            print(
                f"{t.id:>4}  {t.role:<8}  {expires:<16}  {t.state(now):<7}  "
                f"{(t.created_by or '-')[:16]:<16}  {t.name}"
            )
        return 0
    if args.action == "rotate":
        old = next((t for t in store.tokens() if t.id == args.token_id), None)
        lifetime = _hours(old.role, args.hours) if old is not None else None
        print(rotate_token(store, args.token_id, hours=lifetime, by=_by(args)))
        return 0
    if revoke_token(store, args.token_id, _by(args)):
        print(f"revoked token {args.token_id}", file=sys.stderr)
        return 0
    print(f"token_id: no active token {args.token_id}", file=sys.stderr)
    return 1
