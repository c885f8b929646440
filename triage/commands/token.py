"""``triage token``: create, list and revoke the service's bearer tokens.

``create`` prints the token and nothing else on stdout, so a script can capture it
(``TOKEN=$(triage token create --role scorer)``); it is shown only this once. ``list``
never shows tokens or their hashes.
"""

from __future__ import annotations

import argparse
import sys

from features.contract import Role
from serving.auth import ROLES, create_token, revoke_token
from serving.records import StoreError
from serving.store import Store
from triage.common import settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = sub.add_parser("create", help="make a token and print it (once)")
    c.add_argument("--role", required=True, choices=ROLES, help="what the token may do")
    c.add_argument("--name", help="who or what holds it (default: the role)")
    sub.add_parser("list", help="show tokens' ids, names, roles and dates (never the tokens)")
    r = sub.add_parser("revoke", help="revoke a token by id")
    r.add_argument("token_id", type=int, help="the id shown by `triage token list`")


def run(args: argparse.Namespace) -> int:
    with Store(settings().store_url()) as store:
        store.migrate()
        try:
            if args.action == "create":
                role: Role = args.role
                print(create_token(store, role, args.name))
                return 0
            if args.action == "list":
                print(f"{'id':>4}  {'role':<8}  {'created (UTC)':<19}  {'state':<7}  name")
                for t in store.tokens():
                    created = t.created_at.strftime("%Y-%m-%d %H:%M:%S")
                    state = "revoked" if t.revoked else "active"
                    print(f"{t.id:>4}  {t.role:<8}  {created:<19}  {state:<7}  {t.name}")
                return 0
            if revoke_token(store, args.token_id):
                print(f"revoked token {args.token_id}", file=sys.stderr)
                return 0
            print(f"token_id: no active token {args.token_id}", file=sys.stderr)
            return 1
        except StoreError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
