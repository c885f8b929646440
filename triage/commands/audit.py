"""``triage audit verify``: check the decision log's hash chain.

Prints ``OK`` with the number of decisions and the head hash (record it elsewhere: a
chain rewritten wholesale would have a different head) and exits 0, or names the first
bad record and why and exits 1. Exits 2 if the store has no (current) schema: verifying
a database that is not a store must not look like a clean result.
"""

from __future__ import annotations

import argparse
import sys

from serving.database import safe_url
from serving.store import Store
from triage.common import settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("verify", help="recompute the hash chain and report the first break")


def run(args: argparse.Namespace) -> int:
    url = settings().store_url()
    with Store(url) as store:
        if not store.is_current():
            print(f"error: no current store schema at {safe_url(url)}", file=sys.stderr)
            return 2
        result = store.verify_chain()
    print(result)
    return 0 if result.ok else 1
