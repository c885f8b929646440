"""``triage score``: batch scoring of a JSON Lines file of raw referrals.

Every line is validated and pseudonymised at the door; the good ones are featurised with
the linking history ``triage train`` wrote (``<home>/history/events.parquet``) and scored
with the champion (or ``--model``), one contract §4 answer per line of ``--out`` in input
order. Rejected lines are listed on stderr and in ``--errors``, never dropped silently;
the exit code is 1 if any were rejected. If no model can be loaded the safety rules
score the file instead, and every answer says ``degraded: true``. Both engines answer
through :func:`models.scoring_path.score_or_rules` (the service's path too);
``--engine dask`` writes the same lines in receipt order.
"""

from __future__ import annotations

import argparse
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


def write_scores(fh: Any, scores: Any) -> None:
    """One contract §4 answer per line (both engines write exactly this)."""
    from models.scoring_path import score_line

    fh.writelines(score_line(sc) + "\n" for sc in scores)


def finish(
    args: argparse.Namespace, rejected: list[Any], n: int, version: str, degraded: bool
) -> int:
    """List the rejected documents (stderr, ``--errors``), summarise; exit 1 if any."""
    from triage.common import report_rejected

    if args.errors is not None:
        args.errors.parent.mkdir(parents=True, exist_ok=True)
        args.errors.write_text("")
    report_rejected(rejected, args.errors)
    print(
        f"scored {n:,} referrals with model {version} -> {args.out}; "
        f"{len(rejected)} rejected" + ("; DEGRADED: the safety rules scored" if degraded else ""),
        file=sys.stderr,
    )
    return 1 if rejected else 0


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from features.ingest import parse_documents
    from features.pipeline import build_features
    from models.scoring_path import score_or_rules
    from training.data import lines_with_progress
    from triage.common import pseudonymiser, settings

    if not args.input.exists():
        print(f"error: --input: {args.input} does not exist", file=sys.stderr)
        return 2
    s = settings()
    model, why = load_model(s, args.model)
    if model is None:
        print(
            f"degraded: no model could be loaded ({why}); the safety rules score", file=sys.stderr
        )
    if args.engine == "dask":  # the same answers, computed on a cluster
        from training.distributed_cli import score_command

        result, rejected = score_command(args, s, model, history(s))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in result.lines)  # score_line's, as below
        version = model.version if model is not None else "none"
        return finish(
            args, rejected, len(result.lines), version, result.degraded_reason is not None
        )
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
            out = score_or_rules(model, part, referrals=refs[lo : lo + CHUNK])
            if out.degraded_reason == "model_error":  # the rules answered this chunk
                print(
                    f"degraded: the model failed ({out.error_type}); rules scored "
                    f"{len(part):,} referrals",
                    file=sys.stderr,
                )
            degraded = degraded or out.degraded
            write_scores(fh, out.scores)
            n += len(out.scores)
            bar.update(len(out.scores))
    version = model.version if model is not None else "none"
    return finish(args, batch.rejected, n, version, degraded)
