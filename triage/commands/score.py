"""``triage score``: batch scoring of a JSON Lines file of raw referrals.

Every line is validated and pseudonymised at the door; the good ones are featurised with
the linking history ``triage train`` wrote (``<home>/history/events.parquet``) and scored
with the champion (or ``--model``), one contract §4 answer per line of ``--out`` in input
order. Rejected lines are listed on stderr and in ``--errors``, never dropped silently;
the exit code is 1 if any were rejected. If no model can be loaded the safety rules
score the file instead, and every answer says ``degraded: true``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

CHUNK = 2_000
PROGRESS_FROM = 20_000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", type=Path, required=True, help="referrals as JSON Lines")
    p.add_argument("--out", type=Path, required=True, help="scores as JSON Lines")
    p.add_argument("--model", default="champion", help="alias or version (default champion)")
    p.add_argument("--errors", type=Path, help="also write the rejected records here (JSONL)")
    from training.distributed_cli import add_engine_arguments

    add_engine_arguments(p)  # --engine {local,dask}, --scheduler ADDRESS (docs/scaling.md)


def load_model(settings: Any, ref: str) -> tuple[Any | None, str | None]:
    """The model, or None and why not (then the rules score: degraded mode)."""
    from models import registry

    try:
        return registry.load(settings, ref, num_threads=2), None
    except Exception as e:  # any failure to load means degraded scoring, never no scoring
        return None, f"{type(e).__name__}: {e}"


def history(settings: Any) -> Any:
    from features.history import History, history_file
    from features.linking import EVENT_COLUMNS

    h = History()
    path = history_file(settings.home)
    if path.exists():
        import pandas as pd

        h.add_events(pd.read_parquet(path, columns=list(EVENT_COLUMNS)))
    return h


def _chunk(feats: Any, lo: int) -> Any:
    from features.pipeline import Features

    hi = lo + CHUNK
    return Features(
        feats.X.iloc[lo:hi], feats.meta.iloc[lo:hi].reset_index(drop=True), feats.events
    )


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before LightGBM loads: fit.py
    from tqdm import tqdm

    from features.ingest import parse_documents
    from features.pipeline import build_features
    from features.routes import route_referral
    from models.degraded import score_rules
    from training.data import lines_with_progress
    from triage.common import pseudonymiser, report_rejected, settings

    if not args.input.exists():
        print(f"error: --input: {args.input} does not exist", file=sys.stderr)
        return 2
    s = settings()
    model, why = load_model(s, args.model)
    if model is None:
        print(
            f"degraded: no model could be loaded ({why}); the safety rules score", file=sys.stderr
        )
    if args.engine == "dask" and model is not None:
        from training.distributed_cli import score_command

        return score_command(args, s, model, history(s))
    big = args.input.stat().st_size > PROGRESS_FROM * 1000
    batch = parse_documents(lines_with_progress(args.input, big), pseudonymiser(s))
    refs = batch.referrals
    args.out.parent.mkdir(parents=True, exist_ok=True)
    n, degraded = 0, model is None
    bar = tqdm(
        total=len(refs),
        unit="ref",
        desc="score",
        file=sys.stderr,
        disable=len(refs) < PROGRESS_FROM,
    )
    with args.out.open("w", encoding="utf-8") as fh, bar:
        feats = build_features(refs, None, history(s)) if refs else None
        for lo in range(0, len(refs), CHUNK):
            part = _chunk(feats, lo)
            try:
                scores = model.score(part) if model is not None else score_rules(part)
            except Exception as e:  # the model failed on this chunk: the rules answer it
                print(
                    f"degraded: the model failed ({type(e).__name__}); rules scored "
                    f"{len(part):,} referrals",
                    file=sys.stderr,
                )
                version = model.policy.policy_version if model is not None else None
                scores, degraded = score_rules(part, policy_version=version), True
            for k, sc in enumerate(scores):
                sc.route = route_referral(refs[lo + k])  # the proposed police of jurisdiction
                fh.write(json.dumps(sc.model_dump(mode="json"), separators=(",", ":")) + "\n")
            n += len(scores)
            bar.update(len(scores))
    if args.errors is not None:
        args.errors.parent.mkdir(parents=True, exist_ok=True)
        args.errors.write_text("")
    report_rejected(batch.rejected, args.errors)
    version = model.version if model is not None else "none"
    print(
        f"scored {n:,} referrals with model {version} -> {args.out}; "
        f"{len(batch.rejected)} rejected"
        + ("; DEGRADED: the safety rules scored" if degraded else ""),
        file=sys.stderr,
    )
    return 1 if batch.rejected else 0
