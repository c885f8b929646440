"""Placing one referral in a case as the history grows: the cost must stay flat.

The service places each new referral in the same :class:`~features.case_index.CaseIndex`
that holds every earlier one; in time order only the new referral's own keys' recent
sightings are read. Measured per referral for the ``m`` referrals after a history of H,
with the service's keyed case ids (``serving/case_ids.py``).
"""

from __future__ import annotations

import gc
import time

from bench.common import Corpus, Row, say
from features.case_index import CaseIndex
from features.pseudonyms import Pseudonymiser
from serving.case_ids import case_namer

#: The service's opaque case ids cost one keyed digest per placed referral: measured too.
NAMER = case_namer(Pseudonymiser(b"bench-key-0123456789abcdef"))


def run(data: Corpus, lengths: list[int], m: int = 1_000) -> list[Row]:
    refs = sorted(data.referrals, key=lambda r: (r.received_at, r.referral_id))
    rows: list[Row] = []
    first: float | None = None
    # The corpus just built (30k pydantic referrals) is young to the garbage collector: the
    # first thousand placements after it paid ~4 ms each for full collections scanning it
    # (profiled: all in allocation, none in the grouping). Freeze it, as a long-running
    # service's history is, so the rows measure placing.
    gc.collect()
    gc.freeze()
    for h in lengths:
        if h + m > len(refs):
            continue
        index = CaseIndex(NAMER)
        index.extend(refs[:h])
        t0 = time.perf_counter()
        index.extend(refs[h : h + m])
        us = (time.perf_counter() - t0) / m * 1e6
        first = first or us
        rows.append(
            Row(
                "placing 1 referral in a case",
                f"H={h // 1000}k",
                us,
                None,
                "us/referral",
                f"{len(index.edges):,} links; cost x{us / first:.1f} of the smallest H",
                False,
            )
        )
        say(f"cases H={h:,}: {us:,.0f} us per referral")
    return rows
