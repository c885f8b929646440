"""Dask scale-out: the same scoring job (validate, features, both heads, reasons) on a
LocalCluster of 1 worker vs 2 workers, one single-threaded process each, against the
single-machine path in this process. Cluster start-up is outside the timing; the first
job on each cluster warms the workers (numba kernels, TreeSHAP tables) and is discarded.
"""

from __future__ import annotations

import time
from pathlib import Path

from bench.common import KEY, Corpus, Row, say
from models.triage_model import TriageModel
from training import distributed as dist


def run(model: TriageModel, data: Corpus, tmp: Path, n: int = 20_000, parts: int = 8) -> list[Row]:
    docs = data.raw[:n]
    path = tmp / "dask-input"
    dist.write_partitions(docs, path, -(-len(docs) // parts))
    warm = tmp / "dask-warm"
    dist.write_partitions(docs[:400], warm, 200)
    t0 = time.perf_counter()
    dist.score_local(path, model, KEY)
    local = len(docs) / (time.perf_counter() - t0)
    rates: dict[int, float] = {}
    for workers in (1, 2):
        with dist.cluster(workers=workers) as client:
            address = client.scheduler.address
            dist.score_dask(warm, model, KEY, scheduler=address)
            t0 = time.perf_counter()
            dist.score_dask(path, model, KEY, scheduler=address)
            rates[workers] = len(docs) / (time.perf_counter() - t0)
        say(f"dask {workers} worker(s): {rates[workers]:,.0f} referrals/s (local {local:,.0f})")
    size = f"{len(docs) // 1000}k"
    return [
        Row(
            "dask score: 1 worker vs local",
            size,
            rates[1],
            local,
            "referrals/s",
            f"{parts} partitions; validate+features+heads+reasons",
        ),
        Row(
            "dask score: 2 workers vs 1",
            size,
            rates[2],
            rates[1],
            "referrals/s",
            "scaling 1 -> 2 workers on this 2-core machine",
        ),
    ]
