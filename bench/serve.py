"""The cost of the HTTP layer: the running service against the same model in-process.

Drives a service on this machine (127.0.0.1 only) with concurrent clients (threads, one
``httpx.Client`` each) and prints single-referral latency (p50/p99) and batch throughput
(referrals/s), next to the same scoring path called in-process — the same ``champion``
version, the same history, validation, features, explanations and store writes (to a
scratch SQLite file) — as ratios. Counts are bounded; referrals are synthetic, received in
the last weeks, with ids unique to the run.

    .venv/bin/python -m bench.serve --spawn              # start `triage serve`, bench, stop
    .venv/bin/python -m bench.serve --url http://127.0.0.1:3000 --token "$SCORER_TOKEN"

Both need ``TRIAGE_HOME`` (and ``TRIAGE_PSEUDONYM_KEY``) to be the server's, to load the
same model for the in-process side.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import numpy as np

from features.config import Settings
from features.history import history_file
from features.pseudonyms import Pseudonymiser
from serving.runtime import load_model
from serving.scoring import Scorer, load_history
from serving.store import Store
from training.synthetic import generate

LOCAL = {"127.0.0.1", "localhost", "::1"}


def referrals(n: int, seed: int) -> list[dict[str, Any]]:
    start = date.today() - timedelta(days=40)
    tag = uuid.uuid4().hex[:8]
    docs = list(generate(n, seed, start, 30))
    for i, d in enumerate(docs):
        d["referral_id"] = f"bench-{tag}-{i}"
    return docs


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def http_run(url: str, token: str, bodies: list[Any], clients: int) -> tuple[np.ndarray, float]:
    """Post every body from ``clients`` threads, each with its own connection; returns the
    per-request seconds and the wall time."""
    headers = {"Authorization": f"Bearer {token}"}
    local = threading.local()
    opened: list[httpx.Client] = []

    def post(body: Any) -> float:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, headers=headers, timeout=120)
            opened.append(local.client)
        t = time.perf_counter()
        r = local.client.post("/score", json=body)
        if r.status_code != 200:
            raise SystemExit(f"POST /score answered {r.status_code}: {r.text[:200]}")
        return time.perf_counter() - t

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = np.array(list(pool.map(post, bodies)))
    wall = time.perf_counter() - t0
    for c in opened:
        c.close()
    return lat, wall


def in_process(settings: Settings, singles: list[Any], batches: list[list[Any]]) -> dict[str, Any]:
    model, _dir, why = load_model(settings)
    if model is None:
        raise SystemExit(f"no model in-process ({why}): set TRIAGE_HOME to the server's home")
    with tempfile.TemporaryDirectory() as tmp, Store(f"sqlite:///{tmp}/bench.db") as scratch:
        scratch.migrate()
        history, seen, seq = load_history(history_file(settings.home), scratch)
        key = Pseudonymiser(settings.resolve_pseudonym_key())
        scorer = Scorer(scratch, key, model, history, seen, seq=seq)
        scorer.score(singles[:5], "warm-up")
        lat = np.array([timed(lambda d=d: scorer.score([d], "s")) for d in singles[5:]])
        wall = sum(timed(lambda b=b: scorer.score(b, "b")) for b in batches)
    rate = sum(map(len, batches)) / wall if batches else float("nan")
    return {"version": model.version, "lat": lat, "batch_rate": rate}


def spawn(settings: Settings, workers: int = 1) -> tuple[subprocess.Popen[bytes], str, str]:
    """``triage serve --workers N`` on a free loopback port, with a fresh scorer token."""
    from serving.auth import create_token

    with Store(settings.store_url()) as store:
        store.migrate()
        token = create_token(store, "scorer", "bench")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "triage", "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    log = Path(tempfile.mkdtemp(prefix="bench-serve-")) / "server.log"
    proc = subprocess.Popen(
        cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited; see {log}")
        try:
            ready = httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            ready = False
        # one worker answering is not all of them: a worker still loading takes its share
        # of the connections and makes them wait (each logs service_started when up)
        if ready and log.read_text(errors="replace").count("service_started") >= workers:
            return proc, url, token
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit(f"the server did not become ready; see {log}")


def pct(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q) * 1000)


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:3000")
    ap.add_argument("--token", default=os.environ.get("TRIAGE_TOKEN"), help="a scorer token")
    ap.add_argument("--spawn", action="store_true", help="start `triage serve` for the run")
    ap.add_argument("--singles", type=int, default=300, help="single-referral requests (≤ 5,000)")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients (≤ 32)")
    ap.add_argument("--batch-size", type=int, default=200, help="referrals per batch (≤ 1,000)")
    ap.add_argument("--batches", type=int, default=10, help="batch requests (≤ 100)")
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args(argv)
    if not (0 < a.singles <= 5000 and 0 < a.clients <= 32 and 0 < a.batches <= 100):
        ap.error("counts out of bounds")
    if not 0 < a.batch_size <= 1000:
        ap.error("--batch-size: 1 to 1,000")
    settings = Settings()
    proc = None
    if a.spawn:
        proc, a.url, a.token = spawn(settings)
    if urlparse(a.url).hostname not in LOCAL:
        ap.error("--url: this benchmark only drives a service on this machine")
    if not a.token:
        ap.error("--token (or TRIAGE_TOKEN): a scorer token is needed")
    try:
        return run(a, settings)
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def run(a: argparse.Namespace, settings: Settings) -> dict[str, float]:
    n_single = a.singles + 5
    docs = referrals(2 * n_single + a.batches * a.batch_size, a.seed)
    http_singles, local_singles = docs[:n_single], docs[n_single : 2 * n_single]
    rest = docs[2 * n_single :]
    batches = [rest[i * a.batch_size : (i + 1) * a.batch_size] for i in range(a.batches)]
    http_batches = [[{**d, "referral_id": d["referral_id"] + "-h"} for d in b] for b in batches]

    version = httpx.get(f"{a.url}/readyz", timeout=10).json()["model_version"]
    http_run(a.url, a.token, http_singles[:5], 1)  # warm-up
    seq, _ = http_run(a.url, a.token, http_singles[5 : 5 + a.singles // 2], 1)
    conc, conc_wall = http_run(a.url, a.token, http_singles[5 + a.singles // 2 :], a.clients)
    _, batch_wall = http_run(a.url, a.token, http_batches, min(a.clients, a.batches))
    local = in_process(settings, local_singles, batches)
    if str(local["version"]) != str(version):
        raise SystemExit(f"the server answers with {version}, in-process loaded {local['version']}")

    http_rate = a.batches * a.batch_size / batch_wall
    out = {
        "p50_ms_http": pct(seq, 50),
        "p99_ms_http": pct(seq, 99),
        "p50_ms_local": pct(local["lat"], 50),
        "p99_ms_local": pct(local["lat"], 99),
        "p50_ms_http_concurrent": pct(conc, 50),
        "p99_ms_http_concurrent": pct(conc, 99),
        "singles_per_s_http_concurrent": len(conc) / conc_wall,
        "singles_per_s_local": 1 / float(np.mean(local["lat"])),
        "batch_rate_http": http_rate,
        "batch_rate_local": local["batch_rate"],
    }
    print(f"model {version} · {a.url} · {os.cpu_count()} CPUs · {a.clients} clients")
    print(f"{'':34}{'HTTP':>10}{'in-process':>12}{'ratio':>8}")
    rows = [
        ("single p50 ms (1 client)", out["p50_ms_http"], out["p50_ms_local"]),
        ("single p99 ms (1 client)", out["p99_ms_http"], out["p99_ms_local"]),
        (
            f"single p50 ms ({a.clients} clients)",
            out["p50_ms_http_concurrent"],
            out["p50_ms_local"],
        ),
        (
            f"single p99 ms ({a.clients} clients)",
            out["p99_ms_http_concurrent"],
            out["p99_ms_local"],
        ),
        ("singles/s", out["singles_per_s_http_concurrent"], out["singles_per_s_local"]),
        (f"referrals/s (batches of {a.batch_size})", http_rate, local["batch_rate"]),
    ]
    for name, h, loc in rows:
        print(f"{name:34}{h:>10.1f}{loc:>12.1f}{h / loc:>8.2f}")
    return out


if __name__ == "__main__":
    main()
