"""Model, logistic regression and oracle side by side on both synthetic worlds.

    .venv/bin/python -m bench.worlds [--n 40000] [--days 730] [--threads 2] [--folds 0]

Each world: a labelled stream over ``--days`` from 2023-01-01 (the hard world's drift date,
2024-01-01, falls inside), the product's time split, the product model (``triage train``'s
fit), and the evaluation's own ``baselines`` block (:func:`training.baselines.baselines_block`,
the logistic regression fitted on the rows before the test window). ``--folds 8`` adds the
eight-fold audition (product, logistic, shallow). Figures for the docs come from here.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from typing import Any

from bench.common import KEY, Row, print_table, say
from features.ingest import parse_documents
from features.pseudonyms import Pseudonymiser
from training.baselines import baselines_block
from training.data import Dataset, from_labelled
from training.fit import TrainConfig, fit
from training.splits import time_split

START = date(2023, 1, 1)


def dataset(world: str, n: int, days: int, seed: int) -> Dataset:
    from training.synthetic import generate

    docs = generate(n, seed, START, days, "history", labels=True, world=world)
    return from_labelled(parse_documents(docs, Pseudonymiser(KEY), labels=True).good, world)


def compare(ds: Dataset, cfg: TrainConfig, n_boot: int = 200) -> dict[str, Any]:
    """The ``baselines`` block for the product model fitted on ``ds``'s time split."""
    split = time_split(ds.feats.meta["received_at"], ds.decided_at, cfg.fractions)
    model, _ = fit(ds, split, cfg, progress=lambda _m: None)
    feats = ds.feats.X[split.test]
    pred = model.predict_proba(feats)[0]
    scores = {"model": pred[:, 0]}
    if ds.oracle_urgency is not None:
        scores["oracle"] = ds.oracle_urgency[split.test][:, 0]
    meta = ds.feats.meta
    return baselines_block(
        ds.feats.X,
        ds.y_urgency,
        meta["received_at"],
        ds.decided_at,
        meta["referral_id"].to_numpy(),
        split.test,
        scores,
        n_boot=n_boot,
    )


def rows_for(world: str, block: dict[str, Any]) -> list[Row]:
    o = block["orderings"]
    auc = {k: v["immediate_roc_auc"] for k, v in o.items()}
    top = {k: v["immediate_recall_top_5pct"] for k, v in o.items()}
    m = block["margin_over_logistic"]["immediate_roc_auc"]
    lo, hi = m["ci95"]
    return [
        Row(
            f"{world}: immediate ROC-AUC model vs oracle",
            "test",
            auc["model"],
            auc["oracle"],
            "auc",
        ),
        Row(
            f"{world}: immediate ROC-AUC logistic vs oracle",
            "test",
            auc["logistic"],
            auc["oracle"],
            "auc",
            f"gap {100 * (auc['oracle'] - auc['logistic']):.1f} points",
        ),
        Row(
            f"{world}: immediate ROC-AUC model vs logistic",
            "test",
            auc["model"],
            auc["logistic"],
            "auc",
            f"margin {m['margin']:+.4f} (95% CI {lo:+.4f}..{hi:+.4f})",
        ),
        Row(
            f"{world}: recall top 5% model vs logistic",
            "test",
            top["model"],
            top["logistic"],
            "recall",
            f"oracle {top['oracle']:.3f}",
        ),
    ]


def run(
    n: int, days: int, threads: int, seed: int = 7, folds: int = 0
) -> tuple[list[Row], dict[str, Any]]:
    cfg = TrainConfig(num_threads=threads, backtests=0)
    rows, out = [], {}
    for world in ("embedded", "hard"):
        t0 = time.perf_counter()
        say(f"{world} world: {n:,} referrals over {days} days")
        ds = dataset(world, n, days, seed)
        block = compare(ds, cfg)
        out[world] = {"baselines": block}
        if folds:
            from training.backtests import run as backtests

            out[world]["backtest"] = backtests(ds, cfg, folds, ("logistic", "shallow"), say)
        rows += rows_for(world, block)
        say(f"{world}: {block['verdict']} ({time.perf_counter() - t0:.0f}s)")
    return rows, out


def main(argv: list[str] | None = None) -> list[Row]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=40_000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--folds", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows, out = run(args.n, args.days, args.threads, folds=args.folds)
    print_table(rows)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1, default=str)
    return rows


if __name__ == "__main__":
    main()
