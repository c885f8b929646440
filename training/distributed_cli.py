"""``--engine dask`` for ``triage score`` and ``triage train``: the commands' glue to
:mod:`training.distributed`, so each command only adds two options and one branch."""

from __future__ import annotations

import argparse
import json
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


def _partitions(src: Path, tmp: Path, rows: int) -> Path:
    """A directory of our Parquet partitions as it is, or JSON Lines converted to them."""
    if src.is_dir():
        return src
    from features.ingest import iter_jsonl
    from training.distributed import write_partitions

    docs = [d for d in iter_jsonl(src) if isinstance(d, dict)]
    write_partitions(docs, tmp / "parts", rows)
    return tmp / "parts"


def score_command(args: argparse.Namespace, settings: Any, model: Any, history: Any) -> int:
    """Score ``--input`` on the cluster; one flat JSON row per referral in ``--out``.
    Documents that fail validation are skipped by the workers: run ``triage ingest``
    first to list them (the local engine reports them itself)."""
    from training.distributed import score_dask

    with tempfile.TemporaryDirectory() as tmp:
        parts = _partitions(args.input, Path(tmp), args.partition_rows)
        frame = score_dask(
            parts,
            model,
            settings.resolve_pseudonym_key(),
            scheduler=args.scheduler,
            workers=args.workers,
            history=history.events() if history is not None and len(history) else None,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for row in frame.to_dict(orient="records"):
            row["reasons"] = json.loads(row["reasons"])
            row["safety_rules"] = json.loads(row["safety_rules"])
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
    print(f"scored {len(frame):,} referrals on Dask -> {args.out}", file=sys.stderr)
    return 0


def train_command(args: argparse.Namespace, settings: Any, rounds: int = 300) -> int:
    """Train on the cluster and register the model (no alias: promote it as usual)."""
    from models import registry
    from training.distributed import train_dask

    if args.data is None:
        print("error: --engine dask needs --data (JSON Lines or Parquet)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        parts = _partitions(args.data, Path(tmp), args.partition_rows)
        model, info = train_dask(
            parts,
            settings.resolve_pseudonym_key(),
            rounds=rounds,
            scheduler=args.scheduler,
            workers=args.workers,
        )
        path = model.save(Path(tmp) / "model")
        with registry.run(settings, "train-dask") as mlflow:
            version = registry.register(settings, mlflow, path)
    for head, m in info.items():
        print(f"{head}: test log loss {m['test_log_loss']:.4f}, {m['train_rows']:,} training rows")
    print(f"registered version {version} (trained on Dask); promote it to use it")
    return 0
