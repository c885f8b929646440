"""``--engine dask`` for ``triage score`` and ``triage train``: the commands' glue to
:mod:`training.distributed`, so each command only adds two options and one branch."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local (this process) or dask (a cluster; see docs/scaling.md)",
    )
    p.add_argument(
        "--scheduler", help="Dask scheduler address (default: a LocalCluster of --workers)"
    )
    p.add_argument("--workers", type=int, default=2, help="LocalCluster workers (default 2)")
    p.add_argument(
        "--partition-rows", type=int, default=50_000, help="referrals per Parquet partition"
    )


def _partitions(src: Path, tmp: Path, rows: int) -> tuple[Path, list[Any]]:
    """A directory of our Parquet partitions as it is, or JSON Lines converted to them;
    and the lines that are not JSON objects, rejected here (the workers list the rest)."""
    if src.is_dir():
        return src, []
    from features.ingest import Problem, Rejected, Unparseable, iter_jsonl
    from training.distributed import write_partitions

    docs, positions, rejected = [], [], []
    for i, d in enumerate(iter_jsonl(src)):
        if isinstance(d, dict):
            docs.append(d)
            positions.append(i)
        else:
            why = str(d) if isinstance(d, Unparseable) else "not a JSON object"
            rejected.append(Rejected(i, None, [Problem("(document)", why)]))
    write_partitions(docs, tmp / "parts", rows, positions)
    return tmp / "parts", rejected


def score_command(
    args: argparse.Namespace, settings: Any, model: Any, history: Any
) -> tuple[Any, list[Any]]:
    """Score ``--input`` on the cluster: the local engine's answers (contract §4 Scores, in
    receipt order) with the same degraded policy (``model`` None: the rules), and every
    rejected document (input position order); ``triage score`` writes and lists them."""
    from training.distributed import score_dask

    with tempfile.TemporaryDirectory() as tmp:
        parts, rejected = _partitions(args.input, Path(tmp), args.partition_rows)
        result = score_dask(
            parts,
            model,
            settings.resolve_pseudonym_key(),
            scheduler=args.scheduler,
            workers=args.workers,
            history=history.events() if history is not None and len(history) else None,
        )
    if result.degraded_reason == "model_error":
        print("degraded: the model failed on a partition; rules scored it", file=sys.stderr)
    return result, sorted([*rejected, *result.rejected], key=lambda r: r.index)


def train_command(args: argparse.Namespace, settings: Any, cfg: Any, gate: Any) -> Any:
    """``triage train --engine dask``: the features on the cluster, then the local engine's
    pipeline on them (fit, evaluation, gate, card, registration: one assembly,
    :mod:`training.distributed_train`). None (after saying why) without ``--data``."""
    from training.data import file_digest
    from training.distributed_train import ENGINE, dataset_dask
    from training.pipeline import train

    if args.data is None:
        print("error: --data: --engine dask needs --data (JSON Lines or Parquet)", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        parts, rejected = _partitions(args.data, Path(tmp), args.partition_rows)
        ds = dataset_dask(
            parts,
            settings.resolve_pseudonym_key(),
            scheduler=args.scheduler,
            workers=args.workers,
            digest=None if args.data.is_dir() else file_digest(args.data),
        )
    ds.rejected = sorted([*rejected, *ds.rejected], key=lambda r: r.index)
    print(
        f"features of {len(ds):,} labelled referrals computed on Dask "
        f"({len(ds.rejected)} rejected)",
        file=sys.stderr,
    )
    return train(settings, args.data, cfg, gate, dataset=ds, engine=ENGINE)
