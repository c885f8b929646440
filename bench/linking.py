"""Point-in-time linking cost vs history length: it must not grow quadratically.

Two views. Service: one referral's linking against a history of H referrals' events,
through the hash index (``History``) vs a scan that sort-merges the whole history for
every query (``cum_before`` on all events, what an unindexed join does). Batch: the
vectorised sort + cumulative-sum linking over n referrals, per referral, as n grows.
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import Corpus, Row, say
from features.history import History
from features.linking import NS, WEIGHTS, cum_before, events_for, linking_features


def _scan(hist_events, ev, t_q) -> None:  # type: ignore[no-untyped-def]
    """The unindexed lookup: merge the query with every history event of its family."""
    fam = hist_events["family"].to_numpy(object)
    for f in np.unique(ev["family"].to_numpy(object)):
        m = fam == f
        q = ev[ev["family"] == f]
        cum_before(
            q["key"].to_numpy(object),
            np.full(len(q), t_q, dtype=NS),
            hist_events["key"].to_numpy(object)[m],
            hist_events["t"].to_numpy(NS)[m],
            hist_events[list(WEIGHTS)].to_numpy(np.int64)[m],
        )


def run(data: Corpus, lengths: list[int], batch_sizes: list[int], m: int = 300) -> list[Row]:
    refs = data.referrals
    rows: list[Row] = []
    first: float | None = None
    for h in lengths:
        if h + m > len(refs):
            continue
        hist = History.of(refs[:h], buffer_limit=0)
        all_ev = hist.events()
        queries = refs[h : h + m]
        t0 = time.perf_counter()
        for r in queries:
            linking_features([r], events_for([r], None), hist)
        idx_us = (time.perf_counter() - t0) / m * 1e6
        t0 = time.perf_counter()
        k = max(20, m // 10)
        for r in queries[:k]:
            _scan(all_ev, events_for([r], None), int(r.received_at.timestamp() * 1e9))
        scan_us = (time.perf_counter() - t0) / k * 1e6
        first = first or idx_us
        rows.append(
            Row(
                "linking 1 referral: index vs scan",
                f"H={h // 1000}k",
                idx_us,
                scan_us,
                "us/referral",
                f"{len(all_ev):,} events; index cost x{idx_us / first:.1f} of the smallest H",
                False,
            )
        )
        say(f"linking H={h:,}: index {idx_us:,.0f} us, scan {scan_us:,.0f} us")
    base: tuple[int, float] | None = None
    for n in batch_sizes:
        if n > len(refs):
            continue
        batch = refs[:n]
        ev = events_for(batch, None)
        t0 = time.perf_counter()
        linking_features(batch, ev, None)
        us = (time.perf_counter() - t0) / n * 1e6
        base = base or (n, us)
        growth = (us * n) / (base[1] * base[0])
        rows.append(
            Row(
                "linking batch, per referral",
                f"{n // 1000}k",
                us,
                None,
                "us/referral",
                f"total x{growth:.1f} for x{n / base[0]:.0f} rows (quadratic: x{(n / base[0]) ** 2:.0f})",
                False,
            )
        )
    return rows
