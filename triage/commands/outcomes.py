"""``triage outcomes``: outcome reports from the police of jurisdiction (contract §5b).

``import FILE`` records a JSON Lines file of reports into the store, the same way
``POST /outcomes`` does (idempotent per referral, agency and finding, so a file may be
imported again). A bad line is listed by line number, field and reason (never its values)
and changes nothing; the good lines are recorded. Exit 0 when every line was recorded or
already there, 1 when some line was bad or names a referral the store never scored, 2 on
a usage error. ``verify`` recomputes the reports' hash chain (exit 0 intact, 1 broken).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = sub.add_parser("import", help="record a JSON Lines file of outcome reports")
    imp.add_argument("file", type=Path)
    sub.add_parser("verify", help="recompute the outcome reports' hash chain")


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from features.contract import OutcomeReport
    from features.ingest import iter_jsonl, problems_from
    from serving.database import safe_url
    from serving.records import UnknownReferral
    from serving.store import Store
    from triage.common import settings

    url = settings().store_url()
    if args.action == "import" and not args.file.exists():
        print(f"error: FILE: {args.file} does not exist", file=sys.stderr)
        return 2
    with Store(url) as store:
        if not store.is_current():
            print(f"error: no current store schema at {safe_url(url)}", file=sys.stderr)
            return 2
        if args.action == "verify":
            result = store.verify_outcomes()
            print(str(result).replace("decisions", "outcome reports"))
            return 0 if result.ok else 1
        created = again = bad = 0
        for n, value in enumerate(iter_jsonl(args.file), 1):
            try:
                report = OutcomeReport.model_validate(value)
                _, new = store.add_outcome(report)
            except ValidationError as e:
                bad += 1
                for p in problems_from(e):
                    print(f"line {n}: {p}", file=sys.stderr)
                continue
            except UnknownReferral as e:
                bad += 1
                print(f"line {n}: {e}", file=sys.stderr)
                continue
            created += new
            again += not new
    print(f"recorded {created:,} outcome reports ({again:,} already recorded, {bad:,} refused)")
    return 1 if bad else 0
