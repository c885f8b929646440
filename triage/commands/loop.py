"""``triage loop``: simulate the learning loop (deploy -> review -> retrain) on a generated
stream, with and without the safeguards of issue 12, and print the per-cycle table of
``training.loop_sim`` for each (label prevalence against the truth, ROC-AUC and recall
against the truth, drift of the history features). ``--json FILE`` keeps the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=int, default=20_000, help="referrals in the stream (default 20000)")
    p.add_argument("--days", type=int, default=360, help="days the stream spans (default 360)")
    p.add_argument("--cycles", type=int, default=3, help="retraining cycles (default 3)")
    p.add_argument("--anchoring", type=float, default=0.5, help="reviewers' anchoring to the tier")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rounds", type=int, default=200, help="boosting rounds per fit")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--no-safeguards", action="store_true", help="only the loop without them")
    which.add_argument("--safeguards-only", action="store_true", help="only the loop with them")
    p.add_argument("--json", type=Path, help="write the tables as JSON here")


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    from pydantic import ValidationError

    from training.fit import say
    from training.loop_sim import LoopConfig, run_loop

    modes = [True, False]
    if args.no_safeguards:
        modes = [False]
    elif args.safeguards_only:
        modes = [True]
    try:
        cfg = LoopConfig(
            n=args.n,
            days=args.days,
            cycles=args.cycles,
            anchoring=args.anchoring,
            seed=args.seed,
            rounds=args.rounds,
        )
    except ValidationError as e:
        for err in e.errors():
            print(f"error: --{err['loc'][0]}: {err['msg']}", file=sys.stderr)
        return 2
    out = {}
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for on in modes:
            name = "safeguards" if on else "no_safeguards"
            table = run_loop(cfg.model_copy(update={"safeguards": on}), progress=say)
            out[name] = json.loads(table.to_json(orient="index"))
            print(f"\n{name} (anchoring {cfg.anchoring}, {cfg.cycles} cycles, n {cfg.n:,}):")
            print(table.T.round(4).to_string())
    if args.json:
        args.json.write_text(json.dumps({"config": cfg.model_dump(), **out}, indent=1))
    return 0
