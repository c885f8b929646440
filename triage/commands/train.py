"""``triage train``: train the triage model, evaluate it, log it to MLflow and run the gate.

Default data: the embedded synthetic stream (three years, generated once and cached).
Confirmed reviewer decisions in the store, if there is one, are merged in as labels.
Prints the headline figures at the end; exits 0 whether or not the gate promoted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from features.config import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, help="labelled JSON Lines (default: the embedded stream)")
    p.add_argument("--config", type=Path, help="JSON: TrainConfig fields and an optional 'gate'")
    p.add_argument("--backtests", type=int, help="rolling-origin backtests (default 2)")
    p.add_argument(
        "--audition",
        type=lambda text: tuple(x for x in text.split(",") if x),
        help="configurations refitted on every backtest fold beside the product's, e.g. "
        "logistic,shallow (docs/evaluation.md, backtest)",
    )
    from training.distributed_cli import add_engine_arguments

    add_engine_arguments(p)  # --engine {local,dask}, --scheduler ADDRESS (docs/scaling.md)


def confirmed_labels(s: Settings) -> list[Any]:
    """Reviewer decisions from the store as labels; none when there is no store yet."""
    url = s.store_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    from serving.store import Store

    try:
        with Store(url) as store:
            labels = list(store.confirmed_labels())
        print(f"merged {len(labels):,} confirmed reviewer decisions as labels", file=sys.stderr)
        return labels
    except Exception as e:  # an unreachable or unmigrated store must not stop training
        print(f"warning: reviewer decisions not merged ({type(e).__name__})", file=sys.stderr)
        return []


def print_headline(result: Any, out: Any = None) -> None:
    """The headline figures of a training run, to ``out`` (None: the current stdout, read
    at call time, not when this module was imported)."""
    from training.evaluate import (
        at_capacity,
        baseline_table,
        beats_baselines,
        operating_summary,
        queue_table,
    )

    rep = result.report
    print(f"\nmodel version {result.version} (run {result.run_id})", file=out)
    if rep["oracle"] is not None:
        ratio = rep["oracle"]["ratio"]["urgency"]["per_class"]["immediate"]["roc_auc"]
        auc = rep["heads"]["urgency"]["per_class"]["immediate"]["roc_auc"]
        print(f"immediate ROC-AUC {auc:.4f} = {ratio:.4f} of the oracle's", file=out)
    cap = at_capacity(rep)
    oracle_cap = at_capacity(rep, "oracle")["immediate_recall"] if rep["oracle"] else None
    print(
        f"immediate recall at capacity (top {cap['k']:,}): {cap['immediate_recall']:.3f}"
        + (f" (oracle {oracle_cap:.3f})" if oracle_cap is not None else ""),
        file=out,
    )
    if rep.get("operating_point") is not None:
        print("tiers on the test window:\n" + operating_summary(rep["operating_point"]), file=out)
    print("immediate referrals: model against the baselines (test window):", file=out)
    print(baseline_table(rep).round(4).to_string(), file=out)
    print(rep.get("baselines", {}).get("verdict", ""), file=out)
    print("queue simulation, hours from arrival to first review:", file=out)
    print(queue_table(rep).round(3).to_string(), file=out)
    beats = beats_baselines(rep)
    print(
        "model beats every baseline on immediate p50/p95: "
        + ("yes" if all(beats.values()) else f"no {beats}"),
        file=out,
    )
    for row in result.backtests:
        print(
            f"backtest {row['fold']} ({row['test_from'][:10]}..{row['test_to'][:10]}): "
            f"immediate ROC-AUC {row['immediate_roc_auc']:.4f}, "
            f"recall at capacity {row['immediate_recall_at_capacity']:.3f}",
            file=out,
        )
    print(result.decision.summary(), file=out)
    print(f"timings (s): {result.timings}", file=out)


def run(args: argparse.Namespace) -> int:
    from training.pipeline import load_config, train
    from triage.common import settings

    s = settings()
    cfg, gate = load_config(args.config)
    if args.backtests is not None:
        cfg = cfg.model_copy(update={"backtests": args.backtests})
    if args.audition is not None:
        cfg = cfg.model_copy(update={"audition": args.audition})
    if args.data is not None and not args.data.exists():
        print(f"error: --data: {args.data} does not exist", file=sys.stderr)
        return 2
    if args.engine == "dask":
        from training.distributed_cli import train_command

        result = train_command(args, s, cfg, gate)  # labels of --data only, not the store's
        if result is None:
            return 2
    else:
        result = train(s, args.data, cfg, gate, confirmed_labels(s))
    print_headline(result)
    return 0
