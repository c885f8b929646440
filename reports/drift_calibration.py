"""Measure the drift rule on synthetic windows: detection and false-alarm rates.

Windows are built like production ones, as far as separate synthetic streams allow:
one shared baseline history (what the store already knows: platforms, their volumes and
decision rates) precedes every window, and each window is its own stream (a scenario and
a seed) featurised against that history and scored by one model. The reference is a
baseline window; "fresh" windows are baseline windows with other seeds and sizes, which
must not alarm; scenario windows must alarm, naming the columns the scenario moves.

    python -m reports.drift_calibration --model DIR [--seeds 10] [--sizes 10,30]

prints the table (and ``--json`` writes it). The model tests run a small version of it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from features.history import History
from features.ingest import parse_documents
from features.pseudonyms import Pseudonymiser
from reports import drift_frames
from reports.drift import DriftSummary, evaluate
from reports.drift_frames import Window

RATE = 100  # referrals a day (the test fixture's model was trained at this rate)
START = date(2023, 1, 1)
HISTORY_DAYS = 90
# what each scenario must be caught by: any of these (signal, name prefix) pairs flagged
EXPECTED: dict[str, tuple[tuple[str, str], ...]] = {
    "e2ee": (
        ("data", "files_"),
        ("missingness", "missing:share_new"),
        ("platform_mix", "platform"),
        ("volume", "all"),
    ),
    "covid_surge": (("volume", "all"), ("data", "channel"), ("data", "incident_type")),
    "sextortion_wave": (("data", "ann_sextortion"),),
    "new_platform": (("unseen_platforms", "platforms"), ("platform_mix", "platform")),
}


@dataclass
class Lab:
    """A shared history, a model and a pseudonymiser: everything windows are built from."""

    history: History
    model: Any
    pseudonymiser: Pseudonymiser
    window_start: date

    def window(self, scenario: str, seed: int, days: int) -> Window:
        from training.synthetic import generate
        from training.synthetic.scenarios import SCENARIOS

        n = int(round(RATE * days * SCENARIOS[scenario].volume))
        docs = generate(n, seed, self.window_start, days, scenario)
        batch = parse_documents(docs, self.pseudonymiser)
        return drift_frames.from_referrals(
            batch.referrals,
            f"{scenario} seed {seed} {days}d",
            self.model,
            self.history,
            days=float(days),
        )


def make_lab(model: Any, pseudonymiser: Pseudonymiser, seed: int = 7) -> Lab:
    """A baseline history of ``HISTORY_DAYS`` days (with its decisions) before the windows."""
    from training.synthetic import generate

    docs = generate(RATE * HISTORY_DAYS, seed, START, HISTORY_DAYS, labels=True)
    batch = parse_documents(docs, pseudonymiser, labels=True)
    history = History.of(batch.referrals, [g.outcome for g in batch.good])
    return Lab(history, model, pseudonymiser, START + timedelta(days=HISTORY_DAYS))


def caught(summary: DriftSummary, scenario: str) -> list[str]:
    """The expected (signal, name) pairs that the summary flagged."""
    hits = []
    for signal, prefix in EXPECTED[scenario]:
        names = summary.flagged.get(signal, [])
        hits += [f"{signal}:{n}" for n in names if n.startswith(prefix)]
    return hits


def measure(
    lab: Lab,
    reference: Window,
    seeds: Sequence[int],
    sizes: Sequence[int],
    scenarios: Sequence[str] = tuple(EXPECTED),
) -> dict[str, Any]:
    """Run every (scenario or baseline, seed, size) window against ``reference``."""
    rows: list[dict[str, Any]] = []
    for scenario in ("baseline", *scenarios):
        for seed in seeds:
            for days in sizes:
                t0 = time.perf_counter()
                cur = lab.window(scenario, seed, days)
                summary, _ = evaluate(reference, cur)
                rows.append(
                    {
                        "scenario": scenario,
                        "seed": seed,
                        "days": days,
                        "rows": len(cur),
                        "drift": summary.drift_detected,
                        "expected_hits": []
                        if scenario == "baseline"
                        else caught(summary, scenario),
                        "flagged": summary.flagged,
                        "seconds": round(time.perf_counter() - t0, 1),
                    }
                )
    base = [r for r in rows if r["scenario"] == "baseline"]
    rates = {"false_alarm": sum(r["drift"] for r in base) / max(len(base), 1)}
    for s in scenarios:
        rs = [r for r in rows if r["scenario"] == s]
        rates[s] = sum(bool(r["drift"] and r["expected_hits"]) for r in rs) / max(len(rs), 1)
    return {"rates": rates, "windows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m reports.drift_calibration", description=__doc__.splitlines()[0]
    )
    p.add_argument("--model", type=Path, required=True, help="a saved model directory")
    p.add_argument("--seeds", type=int, default=10, help="seeds per scenario and size")
    p.add_argument("--sizes", default="10,30", help="window lengths in days (100 referrals/day)")
    p.add_argument("--reference-days", type=int, default=30)
    p.add_argument("--json", type=Path, help="also write the full table here")
    args = p.parse_args(argv)
    from models.triage_model import TriageModel

    model = TriageModel.load(args.model)
    lab = make_lab(model, Pseudonymiser(b"drift-calibration-key-0123456789"))
    reference = lab.window("baseline", 1000, args.reference_days)
    sizes = [int(x) for x in args.sizes.split(",")]
    result = measure(lab, reference, range(1, args.seeds + 1), sizes)
    for r in result["windows"]:
        hits = ",".join(r["expected_hits"]) or "-"
        print(
            f"{r['scenario']:<16} seed {r['seed']:>3} {r['days']:>3}d {r['rows']:>5} rows  "
            f"drift={str(r['drift']):<5} expected: {hits}"
        )
    print(json.dumps(result["rates"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
