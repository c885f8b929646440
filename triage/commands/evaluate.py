"""``triage evaluate``: the evaluation report for any registered model on any labelled file.

Default model: the champion. Default data: the embedded stream's test window (the most
recent window, cut as training cuts it); with ``--data`` the whole file. Prints a table
and writes the JSON report (keys in ``docs/evaluation.md``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="champion", help="alias or version (default champion)")
    p.add_argument("--data", type=Path, help="labelled JSON Lines (default: embedded stream)")
    p.add_argument("--out", type=Path, help="report JSON (default: <home>/reports/...)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from models import registry
    from models.manifest import ModelIncompatible
    from training.data import independent, label_summary, load_cached
    from training.embedded import embedded_data
    from training.evaluate import baseline_table, evaluate, headline, queue_table
    from training.fit import say
    from training.pipeline import gate_data_mask
    from triage.common import pseudonymiser, report_rejected, settings

    s = settings()
    try:
        model = registry.load(s, args.model, num_threads=2)
    except (registry.ModelNotFound, ModelIncompatible) as e:
        print(f"error: --model: {e}", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.exists():
        print(f"error: --data: {args.data} does not exist", file=sys.stderr)
        return 2
    path = args.data or embedded_data(s, progress=say)
    ds = load_cached(path, pseudonymiser(s), s.data_dir / "cache", progress=say)
    report_rejected(ds.rejected)
    if len(ds) == 0:
        print("error: no labelled referrals to evaluate", file=sys.stderr)
        return 1
    fractions = tuple(model.manifest.training.get("config", {}).get("fractions", (0.7, 0.15, 0.15)))
    if args.data is None:
        mask, labels = gate_data_mask(ds, fractions)  # type: ignore[arg-type]
    else:  # the whole file, without labels made with a model's output on screen
        mask = independent(ds)
        labels = label_summary(ds, np.ones(len(ds), dtype=bool), mask)
    say(f"evaluating model v{model.version} on {path.name}")
    report = evaluate(model, ds, mask, meta={"data_name": path.name})
    report["labels"] = labels
    out = args.out or s.reports_dir / f"evaluation-v{model.version}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    figures = headline(report)
    width = max(map(len, figures))
    for k, v in figures.items():
        print(f"{k:<{width}}  {v:.4f}")
    print("\nimmediate referrals: model against the baselines (test window):")
    print(baseline_table(report).round(4).to_string())
    print(report.get("baselines", {}).get("verdict", ""))
    print("\nqueue simulation, hours from arrival to first review:")
    print(queue_table(report).round(3).to_string())
    print(f"\nreport written to {out}")
    return 0
