"""Training time and peak memory vs rows, each size in its own process.

A child process per size reads the benchmark's feature frame (Parquet), resamples it to
the requested number of rows, and trains both heads as ``triage train`` does (the
monotone urgency head with its own objective, the viability head) for a fixed number of
iterations (no early stopping, so the work per row is the same at every size). Peak memory is the
child's peak resident set above what it held once its data was loaded: the training's
own working set, sampled every 20 ms while it trains. Rows are resampled from the
generated corpus (generating and validating 3M referrals would take longer than the
whole benchmark budget); tree learning cost depends on rows and bins, not on their being
distinct. Sizes past the largest measured one can be extrapolated from the fitted line
(``--extrapolate``), and are then marked so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from bench.common import Row, say

ITERATIONS = 30


def child(data: Path, rows: int, threads: int, iterations: int) -> dict[str, float]:
    import pandas as pd
    import psutil

    from bench.common import train_fixed

    df = pd.read_parquet(data)
    idx = np.random.default_rng(0).integers(0, len(df), rows)
    X = df.iloc[idx].reset_index(drop=True)
    y = {h: X.pop(f"_y_{h}").to_numpy() for h in ("urgency", "viability")}
    del df
    proc = psutil.Process()
    base = peak = proc.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, proc.memory_info().rss)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    for head in ("urgency", "viability"):  # the urgency objective is Python: it costs more
        train_fixed(head, X, y[head], X.iloc[:2000], y[head][:2000], iterations, threads)
    seconds = time.perf_counter() - t0
    done.set()
    watcher.join()
    peak = max(peak, proc.memory_info().rss)
    return {"seconds": seconds, "peak_mb": (peak - base) / 2**20, "base_mb": base / 2**20}


def run(data: Path, sizes: list[int], extrapolate: list[int], threads: int) -> list[Row]:
    rows: list[Row] = []
    pts: list[tuple[int, float, float]] = []
    for n in sizes:
        cmd = [sys.executable, "-m", "bench.training", str(data), str(n), str(threads)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        pts.append((n, r["seconds"], r["peak_mb"]))
        say(f"training {n:,} rows: {r['seconds']:.1f} s, peak +{r['peak_mb']:.0f} MB")
        note = f"{ITERATIONS} iterations x 3 classes x 2 heads, {threads} thread(s)"
        if len(pts) > 1:
            (n0, s0, _), (n1, s1, _) = pts[0], pts[-1]
            note += f"; x{s1 / s0:.1f} time for x{n1 / n0:.0f} rows"
        size = f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n // 1000}k"
        rows.append(Row("training time", size, r["seconds"], None, "s", note, False))
        rows.append(Row("training peak memory", size, r["peak_mb"], None, "MB", "", False))
    if len(pts) >= 2:
        xs, secs, mb = (np.array(v, dtype=float) for v in zip(*pts, strict=True))
        ts, tm = np.polyfit(xs, secs, 1), np.polyfit(xs, mb, 1)
        for e in (e for e in extrapolate if e > xs.max()):
            if ts[0] <= 0:
                break  # the measured curve does not grow: nothing honest to extrapolate
            rows.append(
                Row(
                    "training time (extrapolated)",
                    f"{e / 1e6:g}M",
                    float(np.polyval(ts, e)),
                    None,
                    "s",
                    f"linear fit of the measured sizes; peak memory ~{max(np.polyval(tm, e), 0):,.0f} MB",
                    False,
                )
            )
    return rows


if __name__ == "__main__":
    path, n, threads = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(child(path, n, threads, ITERATIONS)))
