"""``triage audit``: verify the hash chains, anchor them outside the database, answer "who
saw this referral", and apply the access log's retention.

``verify`` checks the decision log, the outcome reports, the access log and the case
events log and prints ``OK`` with each chain's length and head hash (exit 0), or the first
bad record and why (exit 1); with
``--anchor FILE`` it also compares the chains with the signed heads in that file, which
catches a tail cut off with the head reset. Exit 2: the store has no (current) schema or
an argument is wrong, so a database that is not a store never looks like a clean result.
``anchor`` appends the signed heads to the anchor file (key: ``TRIAGE_ANCHOR_KEY_FILE``,
outside ``TRIAGE_HOME``). ``access --referral ID`` lists every read of a referral (and
every queue page that showed it, every refusal naming it): when, who, role, from where.
``prune`` deletes access records older than ``TRIAGE_ACCESS_LOG_DAYS``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from features.config import Settings
from serving import anchor, case_log
from serving.database import safe_url
from serving.records import StoreError
from serving.store import Store
from triage.common import settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    v = sub.add_parser("verify", help="recompute the hash chains (and compare with anchors)")
    v.add_argument("--anchor", type=Path, help="anchor file to compare the chains with")
    v.add_argument("--key", type=Path, help="anchor key file (default TRIAGE_ANCHOR_KEY_FILE)")
    a = sub.add_parser("anchor", help="append the chains' signed heads to the anchor file")
    a.add_argument("--file", type=Path, help="anchor file (default TRIAGE_ANCHOR_FILE)")
    a.add_argument("--key", type=Path, help="anchor key file (default TRIAGE_ANCHOR_KEY_FILE)")
    r = sub.add_parser("access", help="who read a referral: every recorded access to it")
    r.add_argument("--referral", required=True, help="the referral id")
    sub.add_parser("prune", help="delete access records older than TRIAGE_ACCESS_LOG_DAYS")


def _key(s: Settings, given: Path | None) -> bytes:
    path = given or s.anchor_key_file
    if path is None:
        raise StoreError("anchor_key_file", "set TRIAGE_ANCHOR_KEY_FILE or pass --key")
    return anchor.load_key(path, s.home)


def run(args: argparse.Namespace) -> int:
    s = settings()
    url = s.store_url()
    with Store(url) as store:
        if not store.is_current():
            print(f"error: no current store schema at {safe_url(url)}", file=sys.stderr)
            return 2
        try:
            return _act(args, s, store)
        except StoreError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2


def _act(args: argparse.Namespace, s: Settings, store: Store) -> int:
    if args.action == "verify":
        results = [
            store.verify_chain(),
            store.verify_outcomes(),
            store.verify_access(),
            case_log.verify_store(store),
        ]
        for result in results:
            print(result)
        ok = all(r.ok for r in results)
        if args.anchor is not None:
            problems = anchor.check(store, _key(s, args.key), args.anchor)
            for problem in problems:
                print(f"ANCHOR MISMATCH: {problem}")
            if not problems:
                print(f"OK: the chains hold every record anchored in {args.anchor.name}")
            ok = ok and not problems
        return 0 if ok else 1
    if args.action == "anchor":
        path = args.file or s.anchor_file
        if path is None:
            raise StoreError("anchor_file", "set TRIAGE_ANCHOR_FILE or pass --file")
        line = anchor.write_anchor(store, _key(s, args.key), path)
        print(
            f"anchored decisions {line['decisions']['id']}, outcomes "
            f"{line['outcomes']['id']}, access {line['access']['id']}"
        )
        return 0
    if args.action == "access":
        records = store.access_for(args.referral)
        print(f"{'when (UTC)':<19}  {'action':<14}  {'status':>6}  {'role':<8}  {'from':<15}  who")
        for r in records:
            when = r.at.strftime("%Y-%m-%d %H:%M:%S")
            print(
                f"{when:<19}  {r.action:<14}  {r.status:>6}  {r.role or '-':<8}  "
                f"{r.client or '-':<15}  {r.actor or '(no valid token)'}"
            )
        print(f"{len(records)} access records", file=sys.stderr)
        return 0
    n = store.prune_access(timedelta(days=s.access_log_days))
    print(f"pruned {n} access records older than {s.access_log_days} days", file=sys.stderr)
    return 0
