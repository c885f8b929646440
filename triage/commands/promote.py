"""``triage promote``: the gate. The challenger becomes champion only if, on the most
recent window, it is not worse than the champion (``training.promote.GateConfig``).

Data: ``--data`` if given, else the file the challenger was trained on (recorded with
its version), else the embedded stream, with the store's confirmed reviewer decisions
merged in as training merges them; the window is that data's test window. Exit 0
promoted, 3 rejected, 2 usage error (e.g. no challenger).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--challenger", default="challenger", help="alias or version to promote")
    p.add_argument("--force", action="store_true", help="promote even if the gate says no")
    p.add_argument("--data", type=Path, help="labelled JSON Lines to judge on (its test window)")
    p.add_argument("--config", type=Path, help="JSON of GateConfig tolerances")


def run(args: argparse.Namespace) -> int:
    from models import registry
    from training.data import load_cached
    from training.embedded import embedded_data
    from training.fit import say
    from training.pipeline import gate_data_mask
    from training.promote import GateConfig, gate
    from triage.commands.train import confirmed_labels
    from triage.common import pseudonymiser, report_rejected, settings

    s = settings()
    try:
        resolved = registry.resolve(s, args.challenger)
    except registry.ModelNotFound as e:
        print(f"error: --challenger: {e}", file=sys.stderr)
        return 2
    cfg = GateConfig(**json.loads(args.config.read_text())) if args.config else GateConfig()
    path = args.data
    if path is None and resolved.tags.get("data_path"):
        path = Path(resolved.tags["data_path"])
        if not path.exists():
            print(f"error: the challenger's data {path} is gone; pass --data", file=sys.stderr)
            return 2
    path = path or embedded_data(s, progress=say)
    extra = confirmed_labels(s)  # judged on the labels training saw
    ds = load_cached(path, pseudonymiser(s), s.data_dir / "cache", extra, progress=say)
    report_rejected(ds.rejected)
    if path == Path(resolved.tags.get("data_path", "")) and ds.digest != resolved.tags.get(
        "data_digest"
    ):
        print(f"note: {path.name} or the reviewer labels changed since training", file=sys.stderr)
    fractions = tuple(json.loads(resolved.tags.get("fractions", "[0.7, 0.15, 0.15]")))
    mask, labels = gate_data_mask(ds, fractions)  # type: ignore[arg-type]
    decision = gate(
        s, ds, mask, cfg, challenger=resolved.version, force=args.force, progress=say, labels=labels
    )
    print(decision.summary())
    return decision.exit_code
