"""``triage monitor``: compare a current window with the model's reference (drift).

Exit status: 0 no drift, 1 drift detected (so a scheduler can alert), 2 bad input.
The rule and every signal are explained in ``docs/drift.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from triage.commands.explain import _when


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reference",
        type=Path,
        metavar="FILE",
        help="reference window: Parquet (features, meta, predictions) or referrals as JSON "
        "Lines (default: the model's reference.parquet)",
    )
    p.add_argument(
        "--current",
        type=Path,
        metavar="FILE",
        help="current window as a file (default: the store's inference log)",
    )
    p.add_argument("--since", type=_when, metavar="ISO", help="start of the current window")
    p.add_argument(
        "--window-days", type=float, default=7.0, help="length of the current window (default 7)"
    )
    p.add_argument("--model", default="champion", help="alias or version (default champion)")
    p.add_argument("--out", type=Path, metavar="DIR", help="default: <reports>/drift")


def run(args: argparse.Namespace) -> int:
    from reports.drift_frames import BadInput
    from reports.monitor import run_monitor
    from triage.common import settings as load_settings

    if args.window_days <= 0:
        print("error: --window-days must be positive", file=sys.stderr)
        return 2
    try:
        result = run_monitor(
            load_settings(),
            reference=args.reference,
            current=args.current,
            since=args.since,
            window_days=args.window_days,
            model=args.model,
            out_dir=args.out,
        )
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    s = result.summary
    if s.drift_detected:
        print("DRIFT detected:", file=sys.stderr)
        for signal, names in s.flagged.items():
            print(f"  {signal}: {', '.join(names)}", file=sys.stderr)
    else:
        print("no drift detected", file=sys.stderr)
    print(result.paths["html"])
    return result.exit_code
