"""``triage features``: build the feature frame for a referral file and summarise it."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from features.catalogue import BY_NAME
from features.ingest import read_jsonl
from features.pipeline import Features, build_features
from triage.common import pseudonymiser, report_rejected


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, help="referrals as JSON Lines (labels are used if present)")
    p.add_argument("--out", type=Path, help="write the feature frame (Parquet)")


def summarise(feats: Features, parse_s: float, feat_s: float, out=sys.stdout) -> None:  # type: ignore[no-untyped-def]
    X, meta = feats.X, feats.meta
    n = len(X)
    print(
        f"{n:,} referrals: validated and pseudonymised in {parse_s:.1f} s "
        f"({n / max(parse_s, 1e-9):,.0f}/s); {X.shape[1]} features in {feat_s:.1f} s "
        f"({n / max(feat_s, 1e-9):,.0f}/s)",
        file=out,
    )
    if n == 0:
        return
    span = f"{meta['received_at'].min():%Y-%m-%d} .. {meta['received_at'].max():%Y-%m-%d}"
    print(f"received {span}", file=out)
    print(
        "sources: "
        + ", ".join(f"{k} {v:.1%}" for k, v in meta["source"].value_counts(normalize=True).items()),
        file=out,
    )
    print(
        "jurisdiction: "
        + ", ".join(
            f"{k} {v:.1%}" for k, v in X["jurisdiction"].value_counts(normalize=True).items()
        ),
        file=out,
    )
    rows = [
        ("escalated", X["escalated"].mean()),
        ("new material (files_new > 0)", (X["files_new"] > 0).mean()),
        ("linked to an earlier referral", (X["link_prior_referrals"] > 0).mean()),
        ("batched viral/meme", X["batched"].mean()),
        ("unseen platform at receipt", 1 - X["platform_seen"].mean()),
        ("retention deadline known", X["retention_days_left"].notna().mean()),
    ]
    for label, share in rows:
        print(f"  {label:<34} {share:6.1%}", file=out)
    missing = X.isna().mean().sort_values(ascending=False).head(5)
    print(
        "most often missing: "
        + ", ".join(f"{BY_NAME[c].name} {v:.0%}" for c, v in missing.items()),
        file=out,
    )


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    batch = read_jsonl(args.input, pseudonymiser(), labels=True)
    report_rejected(batch.rejected)
    t1 = time.perf_counter()
    items = sorted(batch.good, key=lambda it: it.referral.received_at)
    refs = [it.referral for it in items]
    outs = [it.outcome for it in items]
    feats = build_features(refs, outs if any(o is not None for o in outs) else None)
    summarise(feats, t1 - t0, time.perf_counter() - t1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        feats.X.assign(
            received_at=feats.meta["received_at"].to_numpy(),
            source_name=feats.meta["source"].to_numpy(),
        ).to_parquet(args.out)
        print(f"wrote {args.out}")
    return 1 if batch.rejected else 0
