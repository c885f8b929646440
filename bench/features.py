"""Feature pipeline throughput: the vectorised batch path vs one referral at a time.

Both run in the same process, one after the other, on the same parsed referrals, so the
ratio is meaningful on a shared, noisy machine. The per-referral path is what a naive
service would do: build features for one referral against a growing history. It is
timed on the last ``per_referral`` referrals, with every earlier referral as indexed
history (the service's situation), and reported as a rate.

    .venv/bin/python -m bench.features [--n 100000] [--per-referral 2000]
"""

from __future__ import annotations

import argparse
import time

from bench.common import Corpus, Row, corpus, print_table, say
from features.history import History
from features.pipeline import Features, build_features


def run(
    data: Corpus,
    sizes: list[int],
    per_referral: int = 1_000,
    keep: dict[int, tuple[Features, float]] | None = None,
) -> list[Row]:
    """Rows for the table; ``keep`` receives each size's features and build seconds."""
    rows = [
        Row(  # was a timed assertion in tests/data (issue 16: speed only in bench/)
            "generate (synthetic)",
            f"{len(data.raw) // 1000}k",
            len(data.raw) / data.generate_seconds if data.generate_seconds else float("nan"),
            None,
            "referrals/s",
            "training.synthetic.generate with labels",
        ),
        Row(
            "validate+pseudonymise",
            f"{len(data.labelled) // 1000}k",
            len(data.labelled) / data.parse_seconds,
            None,
            "referrals/s",
            "pydantic contract, HMAC pseudonyms",
        ),
    ]
    refs = data.referrals
    for n in sizes:
        if n > len(refs):
            continue
        batch = refs[:n]
        t0 = time.perf_counter()
        feats = build_features(batch)
        batch_s = time.perf_counter() - t0
        if keep is not None:
            keep[n] = (feats, batch_s)
        m = min(per_referral, n // 2)
        hist = History.of(batch[:-m])  # the service's view: the earlier stream is history
        t0 = time.perf_counter()
        for r in batch[-m:]:
            f = build_features([r], history=hist)
            hist.add_events(f.events)
        single_s = time.perf_counter() - t0
        rows.append(
            Row(
                "features: pipeline vs per-referral",
                f"{n // 1000}k",
                n / batch_s,
                m / single_s,
                "referrals/s",
                f"per-referral timed on the last {m:,} against an indexed history",
            )
        )
        say(f"features {n:,}: batch {n / batch_s:,.0f}/s, per-referral {m / single_s:,.0f}/s")
    return rows


def main(argv: list[str] | None = None) -> list[Row]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--per-referral", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)
    rows = run(corpus(args.n, args.seed), [args.n], args.per_referral)
    print_table(rows)
    return rows


if __name__ == "__main__":
    main()
