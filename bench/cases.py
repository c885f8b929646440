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
    # (profiled: all in allocation, none in the grouping). Freeze it (a long-running
    # service's history sits in the oldest generation), so the rows measure placing.
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
    gc.unfreeze()  # the benches after this one see the collector as before
    return rows


def events_share(n: int = 3_000, per_request: int = 100) -> str:
    """The service's cost of recording case events: the share of scoring time (rules, no
    model; a SQLite store) spent appending them, in requests of ``per_request``."""
    import tempfile
    from datetime import date

    from serving import case_log
    from serving.scoring import Scorer
    from serving.store import Store
    from training.synthetic import generate

    docs = generate(n, 7, date(2024, 2, 1), 30, labels=False)
    for d in docs:
        d.pop("_truth", None)
    spent = [0.0, 0]
    append = case_log.append

    def timed(s: object, events: list[case_log.CaseEvent], now: object) -> list[int]:
        t0 = time.perf_counter()
        out = append(s, events, now)  # type: ignore[arg-type]
        spent[0] += time.perf_counter() - t0
        spent[1] += len(events)
        return out

    case_log.append = timed  # type: ignore[assignment]
    try:
        with tempfile.TemporaryDirectory() as tmp, Store(f"sqlite:///{tmp}/s.db") as st:
            st.migrate()
            scorer = Scorer(st, Pseudonymiser(b"bench-key-0123456789abcdef"), None)
            scorer.score(docs[:per_request], "warm-up")
            spent[:] = [0.0, 0]
            t0 = time.perf_counter()
            for i in range(per_request, n, per_request):
                scorer.score(docs[i : i + per_request], f"r{i}")
            total = time.perf_counter() - t0
    finally:
        case_log.append = append
    m = n - per_request
    return (
        f"{m} referrals scored in requests of {per_request}: {total / m * 1e3:.2f} ms each; "
        f"{spent[1]} case events: {spent[0] / spent[1] * 1e6:.0f} us each, "
        f"{spent[0] / total:.1%} of the scoring time"
    )
