"""Feature pipeline throughput: the vectorised batch path vs one referral at a time.

Both run in the same process, one after the other, on the same parsed referrals, so the
ratio is meaningful on a shared, noisy machine. The per-referral path is what a naive
service would do: build features for one referral against a growing history. It is
timed on the last ``--per-referral`` referrals, with every earlier referral as indexed
history (the service's situation), and reported as a rate.

    .venv/bin/python -m bench.features [--n 100000] [--per-referral 2000]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from features.ingest import parse_documents
from features.linking import History
from features.pipeline import build_features
from features.pseudonyms import Pseudonymiser
from training.synthetic import generate


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--per-referral", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)

    docs = generate(args.n, args.seed, date(2023, 1, 1), max(1, args.n * 365 // 100_000))
    t0 = time.perf_counter()
    refs = parse_documents(docs, Pseudonymiser(b"bench-key-0123456789")).referrals
    parse_s = time.perf_counter() - t0
    del docs

    t0 = time.perf_counter()
    feats = build_features(refs)
    batch_s = time.perf_counter() - t0

    m = min(args.per_referral, len(refs) // 2)
    hist = History.of(refs[:-m])  # a service's view: the earlier stream is history
    t0 = time.perf_counter()
    for r in refs[-m:]:
        f = build_features([r], history=hist)
        hist.add_events(f.events)
    single_s = time.perf_counter() - t0

    rates = {
        "validate+pseudonymise": len(refs) / parse_s,
        "pipeline (batch)": len(feats) / batch_s,
        "per-referral": m / single_s,
    }
    print(f"{'path':<24}{'referrals':>12}{'seconds':>10}{'referrals/s':>14}")
    print(
        f"{'validate+pseudonymise':<24}{len(refs):>12,}{parse_s:>10.2f}{rates['validate+pseudonymise']:>14,.0f}"
    )
    print(
        f"{'pipeline (batch)':<24}{len(feats):>12,}{batch_s:>10.2f}{rates['pipeline (batch)']:>14,.0f}"
    )
    print(f"{'per-referral':<24}{m:>12,}{single_s:>10.2f}{rates['per-referral']:>14,.0f}")
    ratio = rates["pipeline (batch)"] / rates["per-referral"]
    print(f"ratio pipeline / per-referral: {ratio:,.1f}x")
    return rates


if __name__ == "__main__":
    main()
