"""Ranking for the top of the queue, before and after (issue 11, item 6).

    .venv/bin/python -m bench.top_of_queue [--data FILE] [--home var] [--threads 2]
        [--independent-n 60000] [--independent-seed 7] [--independent-start 2025-01-01]
        [--independent-days 180] [--json var/bench/top_of_queue.json]

Fits the model twice on the embedded stream's training window, the way ``triage train``
does: ``before`` with the default settings (early stopping on log loss), ``after`` with
``TrainConfig(top_of_queue=True)`` (rounds and immediate weight chosen by recall of
immediate at the policy's share on the validation slice). Then prints recall of immediate
in the top 1-30 % of arrivals by calibrated P(immediate), each as a share of the oracle's
recall at the same share, on the embedded stream's test window and on an independent
stream (another seed, later dates, the baseline scenario; generated here). A ratio, not a
time: no timing here belongs in a test.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from features.process_env import set_process_env

SHARES = (0.01, 0.02, 0.03, 0.05, 0.10, 0.20, 0.30)


def _curve(p_immediate: np.ndarray, oracle: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from training.workload import recall_at_share

    pos = y == "immediate"
    out = {}
    for s in SHARES:
        me, best = recall_at_share(p_immediate, pos, s), recall_at_share(oracle, pos, s)
        out[f"{s:g}"] = {"recall": me, "oracle": best, "ratio": me / best if best else None}
    return out


def _figures(models: dict[str, Any], ds: Any, mask: np.ndarray) -> dict[str, Any]:
    from training.evaluate import window

    feats = window(ds, mask)
    y, oracle = ds.y_urgency[mask], ds.oracle_urgency[mask][:, 0]
    out: dict[str, Any] = {"n": int(mask.sum()), "n_immediate": int((y == "immediate").sum())}
    for name, m in models.items():
        out[name] = _curve(m.predict_proba(feats.X)[0][:, 0], oracle, y)
    return out


def _print(title: str, fig: dict[str, Any]) -> None:
    print(f"\n{title}: {fig['n']:,} referrals, {fig['n_immediate']:,} immediate")
    print("share   oracle  before (ratio)    after (ratio)")
    for s in SHARES:
        k = f"{s:g}"
        b, a = fig["before"][k], fig["after"][k]
        print(
            f"{s:5.0%}   {b['oracle']:.3f}   {b['recall']:.3f} ({b['ratio']:.3f})"
            f"    {a['recall']:.3f} ({a['ratio']:.3f})"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    set_process_env()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="labelled JSON Lines (default: embedded stream)")
    ap.add_argument("--home", type=Path, default=Path("var"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--independent-n", type=int, default=60_000)
    ap.add_argument("--independent-seed", type=int, default=7)
    ap.add_argument("--independent-start", type=date.fromisoformat, default=date(2025, 1, 1))
    ap.add_argument("--independent-days", type=int, default=180)
    ap.add_argument("--json", type=Path, default=Path("var/bench/top_of_queue.json"))
    args = ap.parse_args(argv)

    from features.config import Settings
    from features.pseudonyms import Pseudonymiser
    from training.data import load_cached, load_labelled
    from training.embedded import embedded_data
    from training.fit import TrainConfig, fit, say
    from training.splits import time_split
    from training.synthetic import generate
    from triage.common import write_jsonl

    settings = Settings(home=args.home)
    ps = Pseudonymiser(settings.resolve_pseudonym_key())
    path = args.data or embedded_data(settings, progress=say)
    ds = load_cached(path, ps, settings.data_dir / "cache", (), say)
    ds.referrals = []
    split = time_split(ds.feats.meta["received_at"], ds.decided_at)
    models = {}
    for name, cfg in (
        ("before", TrainConfig(num_threads=args.threads, backtests=0)),
        ("after", TrainConfig(num_threads=args.threads, backtests=0, top_of_queue=True)),
    ):
        say(f"fitting '{name}'")
        models[name], info = fit(ds, split, cfg, say)
        say(f"  {name}: urgency head {json.dumps(info['urgency'], default=str)}")
    result: dict[str, Any] = {
        "data": path.name,
        "after_choice": models["after"].manifest.training["heads"]["urgency"].get("top_of_queue"),
        "embedded_test": _figures(models, ds, np.asarray(split.test)),
    }
    say("generating the independent stream")
    with tempfile.TemporaryDirectory() as tmp:
        ind = Path(tmp) / "independent.jsonl"
        write_jsonl(
            ind,
            generate(
                args.independent_n,
                args.independent_seed,
                args.independent_start,
                args.independent_days,
                labels=True,
            ),
        )
        other = load_labelled(ind, ps)
    result["independent"] = _figures(models, other, np.ones(len(other), dtype=bool))
    result["independent_stream"] = {
        "n": args.independent_n,
        "seed": args.independent_seed,
        "start": args.independent_start.isoformat(),
        "days": args.independent_days,
        "scenario": "baseline",
    }
    _print("embedded stream, test window", result["embedded_test"])
    _print("independent stream", result["independent"])
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1, default=str))
    return result


if __name__ == "__main__":
    main()
