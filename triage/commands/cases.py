"""``triage cases``: group a file's referrals into cases and propose routes.

Writes ``cases.jsonl`` (one contract §8 case per line, as now known), ``routes.jsonl``
(per referral: its case at arrival, its case now, its own route and its case's route)
and, when the file carries the generator's ``_truth``, ``metrics.json`` with grouping and
routing figures (``docs/cases.md``). Without ``--input`` it runs on the embedded
synthetic stream and measures its test window (the most recent 15 %, cut as training
cuts it); ``--scores`` (``triage score`` output) sets each case's priority and tier.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", type=Path, help="referrals as JSON Lines (default: embedded)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--scores", type=Path, help="scores (JSON Lines) for case priorities")


def _priorities(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                s = json.loads(line)
                out[s["referral_id"]] = (float(s["priority"]), s["tier"])
    return out


def run(args: argparse.Namespace) -> int:
    import pandas as pd
    from tqdm import tqdm

    from features.ingest import read_jsonl
    from training.cases_batch import group_referrals, measure
    from training.embedded import embedded_data
    from training.fit import say
    from training.splits import time_split
    from triage.common import pseudonymiser, report_rejected, settings, write_jsonl

    s = settings()
    for name in ("input", "scores"):
        path = getattr(args, name)
        if path is not None and not path.exists():
            print(f"error: --{name}: {path} does not exist", file=sys.stderr)
            return 2
    path = args.input or embedded_data(s, progress=say)
    say(f"reading {path.name}")
    batch = read_jsonl(path, pseudonymiser(s), labels=True)
    report_rejected(batch.rejected)
    refs = batch.referrals
    with tqdm(total=len(refs), unit="ref", desc="cases", file=sys.stderr) as bar:
        result = group_referrals(refs, _priorities(args.scores), progress=bar.update)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "cases.jsonl", (c.model_dump(mode="json") for c in result.cases))
    now, routes = result.case_of(), result.case_routes()
    write_jsonl(
        out / "routes.jsonl",
        (
            {
                "referral_id": rid,
                "case_at_arrival": result.case_at_arrival[rid],
                "case_id": now[rid],
                "route": result.routes[rid].model_dump(mode="json"),
                "case_route": routes[rid].model_dump(mode="json"),
            }
            for rid in result.referrals
        ),
    )
    sizes = [len(c.referral_ids) for c in result.cases]
    print(f"{len(refs)} referrals in {len(sizes)} cases (largest {max(sizes, default=0)})")
    truth = {g.referral.referral_id: g.truth for g in batch.good if g.truth is not None}
    if truth:
        measured = list(result.referrals)
        if args.input is None:
            recv = pd.Series([r.received_at for r in result.referrals.values()])
            test = time_split(recv).test
            measured = [rid for rid, t in zip(result.referrals, test, strict=True) if t]
        figures = measure(result, truth, measured)
        report = {"data": path.name, "measured_referrals": len(measured), **figures}
        (out / "metrics.json").write_text(json.dumps(report, indent=1))
        for part, values in figures.items():
            for k, v in values.items():
                print(f"{part}.{k:<32} {v:.4f}")
    print(f"written to {out}")
    return 1 if batch.rejected else 0
