"""The service near its limit, and the history in the store.

Two measurements, one run:

* **History length**: one referral scored in process (``Scorer.score``: validation,
  catch-up from the store, features, model, the store's transaction) against a store
  holding ``small`` vs ``large`` sightings, on SQLite and on PostgreSQL. The cost must not
  grow with the history: the catch-up reads only new rows, the cache is indexed.
* **Workers**: the in-process cost per referral and, against ``triage serve --workers N``
  on this machine, the HTTP throughput of single referrals from 16 clients and their
  p50/p99, for each N; the target is ``0.8 × cores ÷ in-process cost``.

    .venv/bin/python -m bench.replicas [--workers 1,2] [--pg URL] [--large 500000]
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, make_url

from bench.common import KEY, Row, corpus, fixed_model, say
from features.linking import events_for
from features.pipeline import Features
from features.pseudonyms import Pseudonymiser
from models.triage_model import TriageModel
from serving.scoring import Scorer, load_history
from serving.store import Store

PG_URL = os.environ.get("TRIAGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_database(admin_url: str) -> tuple[str, Any]:
    admin = make_url(admin_url)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with engine.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()

    return admin.set(database=name).render_as_string(hide_password=False), drop


def _costs(
    urls: list[str], model: TriageModel, seeds: list[pd.DataFrame], docs: list[Any], tmp: Path
) -> list[float]:
    """Median ms of one referral through ``Scorer.score`` on stores seeded with ``seeds``,
    the stores taking turns (ABBA), so a busy machine's drift weighs on both alike."""
    stores, scorers = [], []
    try:
        for url, seed in zip(urls, seeds, strict=True):
            path = tmp / f"seed-{uuid.uuid4().hex[:6]}.parquet"
            seed.to_parquet(path)
            store = Store(url)
            stores.append(store)
            store.migrate()
            t = time.perf_counter()
            history, seen, seq = load_history(path, store)
            took = time.perf_counter() - t
            say(f"  seeded and loaded {len(history):,} sightings in {took:.1f} s")
            scorers.append(Scorer(store, Pseudonymiser(KEY), model, history, seen, seq=seq))
        lat: list[list[float]] = [[] for _ in scorers]
        for i, d in enumerate(docs):
            turn = range(len(scorers)) if i % 2 == 0 else reversed(range(len(scorers)))
            for k in turn:
                t = time.perf_counter()
                answer = scorers[k].score([d], "bench")
                if i >= 5:  # the first few warm up
                    lat[k].append(time.perf_counter() - t)
                if len(answer.scores) != 1:
                    raise SystemExit("bench.replicas: a benchmark referral was rejected")
    finally:
        for store in stores:
            store.close()
    return [float(np.median(x) * 1000) for x in lat]


def history_rows(
    model: TriageModel, data: Any, small: int, large: int, pg: str | None, m: int = 150
) -> list[Row]:
    """Per backend, one referral's cost with ``small`` vs ``large`` sightings stored."""
    n_hist = len(data.referrals) - m - 5
    events = events_for(data.referrals[:n_hist], None)
    if len(events) < large:  # repeat the corpus's events, shifted back in time, to reach it
        reps = -(-large // len(events))
        year = 365 * 86_400 * 10**9
        events = pd.concat(
            [events.assign(t=events["t"] - k * year) for k in range(reps)], ignore_index=True
        )
    big = events.sample(n=large, random_state=1).reset_index(drop=True)
    few = big.iloc[:small].reset_index(drop=True)
    from bench import serve

    docs = serve.referrals(m + 5, seed=13)  # raw documents, received in the last weeks
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        backends: list[tuple[str, str, Any]] = [("SQLite", f"sqlite:///{tmp}/{{}}.db", None)]
        if pg:
            backends.append(("PostgreSQL", pg, None))
        for name, url_t, _ in backends:
            say(f"{name}: {small:,} vs {large:,} sightings")
            if name == "SQLite":
                urls = [url_t.format("small"), url_t.format("large")]
                costs = _costs(urls, model, [few, big], docs, Path(tmp))
            else:
                (u1, drop1), (u2, drop2) = _pg_database(url_t), _pg_database(url_t)
                try:
                    costs = _costs([u1, u2], model, [few, big], docs, Path(tmp))
                finally:
                    drop1()
                    drop2()
            ratio = costs[1] / costs[0]
            verdict = "met" if ratio <= 1.5 else f"missed: x{ratio:.2f}"
            rows.append(
                Row(
                    f"score 1 referral in process, {name}",
                    f"{large // 1000}k vs {small // 1000}k",
                    costs[1],
                    costs[0],
                    "ms",
                    f"sightings in the store; target <= 1.5x: {verdict}",
                    False,
                )
            )
    return rows


def worker_rows(
    home: Path, workers: list[int], clients: int, singles: int, pg: str | None
) -> list[Row]:
    """In-process cost per referral, then HTTP singles/s and p50/p99 for each N workers
    (each server on a fresh PostgreSQL database when ``pg`` is given, else SQLite)."""
    from bench import serve
    from features.config import Settings

    settings = Settings(home=home, pseudonym_key=KEY.decode())
    docs = serve.referrals(singles * (len(workers) + 1) + 10, seed=11)
    local = serve.in_process(settings, docs[: singles + 5], [])
    cost_ms = float(np.median(local["lat"]) * 1000)
    cores = os.cpu_count() or 1
    target = 0.8 * cores / (cost_ms / 1000)
    rows = [Row("in process, 1 referral", f"{singles} refs", cost_ms, None, "ms", "median", False)]
    for i, n in enumerate(workers):
        url_db, drop = _pg_database(pg) if pg else (None, None)
        if url_db:
            os.environ["TRIAGE_DATABASE_URL"] = url_db
        try:
            proc, url, token = serve.spawn(Settings(), workers=n)
            try:
                body = docs[singles + 5 + i * singles : singles + 5 + (i + 1) * singles]
                serve.http_run(url, token, body[:10], 1)  # warm-up
                lat, wall = serve.http_run(url, token, body[10:], clients)
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=60)
        finally:
            os.environ.pop("TRIAGE_DATABASE_URL", None)
            if drop:
                drop()
        rate = len(lat) / wall
        p50, p99 = serve.pct(lat, 50), serve.pct(lat, 99)
        rows.append(
            Row(
                f"HTTP {clients} clients, {n} worker(s), {'PostgreSQL' if pg else 'SQLite'}",
                f"{len(lat)} refs",
                rate,
                target,
                "refs/s",
                f"vs 0.8 x {cores} cores / {cost_ms:.1f} ms; p50 {p50:.0f} ms, "
                f"p99 {p99:.0f} ms (x{p99 / p50:.1f})",
                True,
            )
        )
    return rows


def http_rows(
    model: TriageModel,
    events: pd.DataFrame,
    workers: list[int],
    clients: int,
    singles: int,
    pg: str | None,
) -> list[Row]:
    """:func:`worker_rows` on a scratch home whose champion is ``model``."""
    from bench.__main__ import _bench_home

    with tempfile.TemporaryDirectory() as tmp:
        home = _bench_home(model, events, Path(tmp))
        saved = os.environ.get("TRIAGE_HOME"), os.environ.get("TRIAGE_PSEUDONYM_KEY")
        os.environ["TRIAGE_HOME"], os.environ["TRIAGE_PSEUDONYM_KEY"] = str(home), KEY.decode()
        try:
            return worker_rows(home, workers, clients, singles, pg)
        finally:
            for k, v in zip(("TRIAGE_HOME", "TRIAGE_PSEUDONYM_KEY"), saved, strict=True):
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def for_make_bench(model: TriageModel, data: Any, events: pd.DataFrame, http: bool) -> list[Row]:
    """The rows ``make bench`` prints: history length on both stores, workers 1 and 2."""
    try:
        rows = history_rows(model, data, 5_000, 500_000, PG_URL)
        if http:
            rows += http_rows(model, events, [1, 2], 16, 200, PG_URL)
    except (Exception, SystemExit) as e:  # PostgreSQL unreachable, a server that failed...
        return [Row("bench.replicas", "-", 0.0, None, "ms", f"skipped: {str(e)[:60]}", False)]
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="referrals generated")
    ap.add_argument("--small", type=int, default=5_000)
    ap.add_argument("--large", type=int, default=500_000)
    ap.add_argument("--pg", default=PG_URL, help="PostgreSQL admin URL ('' to skip)")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--singles", type=int, default=300)
    ap.add_argument("--no-http", action="store_true")
    ap.add_argument("--no-history", action="store_true")
    a = ap.parse_args(argv)
    data = corpus(a.n)
    say("training the benchmark model")
    from bench.common import build

    feats: Features = build(data.labelled[: min(a.n, 10_000)])
    model = fixed_model(feats, data.labelled[: len(feats)], 60, threads=1)
    model.num_threads = 1
    rows = [] if a.no_history else history_rows(model, data, a.small, a.large, a.pg or None)
    if not a.no_http:
        ns = [int(x) for x in a.workers.split(",")]
        rows += http_rows(model, feats.events, ns, a.clients, a.singles, a.pg or None)
    from bench.common import print_table

    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
