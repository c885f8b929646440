"""``triage agreement``: how far first reviews (the model shown) agree with blind second
reviews, and each with the tier shown: the anchoring measure, with 95 % Wilson intervals
(``reports/agreement.py``). Prints JSON; exit 2 when the store has no current schema."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    return None


def run(args: argparse.Namespace) -> int:
    from reports.agreement import agreement, review_pairs
    from serving.database import safe_url
    from serving.store import Store
    from triage.common import settings

    url = settings().store_url()
    with Store(url) as store:
        if not store.is_current():
            print(f"error: no current store schema at {safe_url(url)}", file=sys.stderr)
            return 2
        report = agreement(review_pairs(store))
    print(json.dumps(report, indent=1))
    return 0
