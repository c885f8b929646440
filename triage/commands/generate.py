"""``triage generate``: write synthetic referrals (JSON Lines, or one XML file per referral).

Documents are streamed to disk as they are built, so multi-year histories do not have to
fit in memory. The same arguments always write byte-identical output.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

PROGRESS_FROM = 20_000  # show a progress bar (stderr) from this many referrals


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a date as YYYY-MM-DD") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    from training.synthetic import WORLDS
    from training.synthetic.scenarios import SCENARIOS

    p.add_argument(
        "--n",
        type=int,
        default=None,
        help="referrals to write (default: ~100k a year over --days, times the scenario's volume)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--start", type=_date, required=True, help="first day, YYYY-MM-DD")
    p.add_argument("--days", type=int, required=True, help="length of the window in days")
    p.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="baseline",
        help="drift scenario (default: baseline)",
    )
    p.add_argument(
        "--world",
        choices=WORLDS,
        default="embedded",
        help="generative story: embedded (additive truth) or hard (latent truth, noisy "
        "proxies, missing not at random, drift, label noise; docs/synthetic-data.md)",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output file (jsonl) or directory (xml: one file per referral)",
    )
    p.add_argument("--format", choices=["jsonl", "xml"], default="jsonl")
    p.add_argument(
        "--labels",
        action="store_true",
        help="include outcome labels and the generator's oracle probabilities",
    )


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from training.synthetic import iter_generate
    from training.synthetic.scenarios import SCENARIOS, default_n

    if args.days < 1 or (args.n is not None and args.n < 0):
        print("error: --days must be >= 1 and --n >= 0", file=sys.stderr)
        return 2
    n = args.n if args.n is not None else default_n(SCENARIOS[args.scenario], args.start, args.days)
    end = datetime.combine(args.start, datetime.min.time(), UTC).timestamp() + args.days * 86400
    if end > time.time():
        print(
            "warning: the window reaches into the future; ingestion rejects referrals "
            "received more than 5 minutes from now",
            file=sys.stderr,
        )
    write_xml: Callable[[Mapping[str, Any], Path], None] | None = None
    if args.format == "xml":
        try:
            from features.xml_export import write_referral_xml as write_xml
        except ImportError:
            print(
                "error: XML export is not available (features.xml_export is missing); "
                "use --format jsonl",
                file=sys.stderr,
            )
            return 2
    bar = tqdm(total=n, unit="ref", file=sys.stderr, disable=n < PROGRESS_FROM, desc="generate")
    started = time.perf_counter()
    docs = iter_generate(
        n,
        args.seed,
        args.start,
        args.days,
        args.scenario,
        labels=args.labels,
        progress=bar.update,
        world=args.world,
    )
    written = 0
    try:
        if write_xml is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            for doc in docs:
                write_xml(doc, args.out / f"{doc['referral_id']}.xml")
                written += 1
        else:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("w", encoding="utf-8") as fh:
                for doc in docs:
                    fh.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
                    written += 1
    finally:
        bar.close()
    secs = time.perf_counter() - started
    print(
        f"wrote {written} referrals ({args.world} world, {args.scenario}, seed {args.seed}) "
        f"to {args.out} "
        f"in {secs:.1f}s ({written / max(secs, 1e-9):,.0f}/s)",
        file=sys.stderr,
    )
    return 0
