"""``make bench``: every benchmark in one run, one table of side-by-side ratios.

    .venv/bin/python -m bench [--n 100000] [--threads 2] [--train-sizes 100000,...,3000000]
                              [--no-dask] [--no-http] [--no-worlds] [--worlds-n 40000]
                              [--json var/bench/results.json]

Sizes default to what fits the 15-minute budget on this 2-core machine (training is
measured at 100k, 300k, 1M and 3M rows; features at 10k and 100k referrals, 1M with
``--n 1000000 --feature-sizes 10000,100000,1000000`` on a machine with the memory).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from bench import cases, latency, linking, scoring, training
from bench import features as features_bench
from bench.common import KEY, Row, corpus, fixed_model, labels, print_table, say
from features.config import Settings
from features.history import history_file
from features.pipeline import Features
from models.triage_model import TriageModel


def _ints(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x]


def _bench_home(model: TriageModel, events: pd.DataFrame, root: Path) -> Path:
    """A throw-away ``TRIAGE_HOME`` whose registry's ``champion`` is the benchmark model
    (the same trees the in-process rows use) and whose service history is the bench
    corpus, so the HTTP row needs nothing trained beforehand."""
    from models import registry
    from training.artefacts import write_events

    home = root / "home"
    settings = Settings(home=home, pseudonym_key=KEY.decode())
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model.save(Path(tmp) / "model")
        with registry.run(settings, "bench") as mlflow:
            version = registry.register(settings, mlflow, model_dir)
    registry.set_alias(settings, "champion", version)
    write_events(history_file(home), events)
    return home


def _http(model: TriageModel, events: pd.DataFrame, root: Path) -> list[Row]:
    """The service helper's HTTP benchmark (``bench.serve``) against a spawned ``triage
    serve``: on ``TRIAGE_HOME``'s champion if the environment names a home, otherwise on
    the benchmark model registered in a scratch home. 16 concurrent clients, as the target."""
    saved = {k: os.environ.get(k) for k in ("TRIAGE_HOME", "TRIAGE_PSEUDONYM_KEY")}
    try:
        from bench import serve

        if not saved["TRIAGE_HOME"]:
            say("registering the benchmark model as champion in a scratch home for HTTP")
            os.environ["TRIAGE_HOME"] = str(_bench_home(model, events, root))
            os.environ["TRIAGE_PSEUDONYM_KEY"] = KEY.decode()
        out = serve.main(["--spawn", "--clients", "16", "--singles", "400"])
    except (Exception, SystemExit) as e:  # no port, a server that would not start...
        return [Row("HTTP (bench.serve)", "-", 0.0, None, "ms", f"skipped: {str(e)[:60]}", False)]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    p50, p99 = out["p50_ms_http_concurrent"], out["p99_ms_http_concurrent"]
    return [
        Row(
            "HTTP 16 clients p50 vs in-process",
            "400 refs",
            p50,
            out["p50_ms_local"],
            "ms",
            "target p50 <= 10 ms " + ("met" if p50 <= 10 else f"missed by {p50 / 10:.1f}x"),
            False,
        ),
        Row(
            "HTTP 16 clients p99 vs in-process",
            "400 refs",
            p99,
            out["p99_ms_local"],
            "ms",
            "target p99 <= 50 ms " + ("met" if p99 <= 50 else f"missed by {p99 / 50:.1f}x"),
            False,
        ),
    ]


def main(argv: list[str] | None = None) -> list[Row]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="referrals generated")
    ap.add_argument("--feature-sizes", type=_ints, default=[10_000, 100_000])
    ap.add_argument("--shap-max", type=int, default=10_000, help="largest size shap runs at")
    ap.add_argument("--iterations", type=int, default=100, help="boosting rounds per head")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-sizes", type=_ints, default=[100_000, 300_000, 1_000_000, 3_000_000])
    ap.add_argument(
        "--train-threads",
        type=int,
        default=1,
        help="LightGBM threads when training (2 on a busy 2-core box is erratic, see docs)",
    )
    ap.add_argument(
        "--extrapolate", type=_ints, default=[], help="sizes to extrapolate the training line to"
    )
    ap.add_argument("--no-dask", action="store_true", help="skip 1 vs 2 Dask workers")
    ap.add_argument("--no-http", action="store_true", help="skip bench.serve (HTTP)")
    ap.add_argument(
        "--no-replicas", action="store_true", help="skip bench.replicas (history, workers)"
    )
    ap.add_argument("--no-worlds", action="store_true", help="skip bench.worlds (both worlds)")
    ap.add_argument("--worlds-n", type=int, default=40_000, help="referrals per world")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    started = time.perf_counter()

    say(f"generating and validating {args.n:,} referrals")
    data = corpus(args.n)
    kept: dict[int, tuple[Features, float]] = {}
    rows = features_bench.run(data, args.feature_sizes, keep=kept)
    feats = {n: f for n, (f, _) in kept.items()}
    build_s = {n: s for n, (_, s) in kept.items()}

    big = feats[max(feats)]
    n_fit = min(len(big), 30_000)
    say(f"training the benchmark model ({args.iterations} iterations per head, {n_fit:,} rows)")
    model = fixed_model(
        Features(big.X.iloc[:n_fit], big.meta.iloc[:n_fit], big.events),
        data.labelled[:n_fit],
        args.iterations,
        threads=1,
    )
    model.num_threads = args.threads
    say(f"model: {scoring.tree_count(model)} trees over both heads")
    rows += scoring.run(model, feats, build_s, args.shap_max)
    rows += latency.run(model, data)
    n_ref = len(data.referrals)
    rows += linking.run(data, [1_000, 10_000, n_ref - 1_000], [10_000, 30_000, n_ref])
    rows += cases.run(data, [1_000, 10_000, n_ref - 1_000])

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.parquet"
        X = big.X.copy()
        for head in ("urgency", "viability"):
            X[f"_y_{head}"] = labels(data.labelled[: len(X)], head)
        X.to_parquet(path)
        rows += training.run(path, args.train_sizes, args.extrapolate, args.train_threads)
        if not args.no_dask:
            from bench import dask_scaling

            rows += dask_scaling.run(model, data, Path(tmp))
        if not args.no_http:
            rows += _http(model, big.events, Path(tmp))
    if not args.no_replicas:
        from bench import replicas

        rows += replicas.for_make_bench(model, data, big.events, not args.no_http)

    if not args.no_worlds:
        from bench import worlds

        rows += worlds.run(args.worlds_n, 730, args.train_threads)[0]

    total = time.perf_counter() - started
    print()
    print(f"# referral-triage benchmarks: {platform.node()}, {total / 60:.1f} min")
    table = print_table(rows)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "minutes": total / 60,
                    "threads": args.threads,
                    "rows": [asdict(r) | {"ratio": r.ratio} for r in rows],
                    "table": table,
                    "numpy": np.__version__,
                    "pandas": pd.__version__,
                },
                indent=2,
            )
        )
    return rows


if __name__ == "__main__":
    main()
