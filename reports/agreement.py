"""Agreement between blind second reviews and the first reviews made with the model shown
(contract §5, issue 12): the anchoring measure, with intervals.

For every referral with both a first review and a blind second review that each give an
urgency assessment, three values: the tier the first reviewer was shown, the first
reviewer's assessment, the blind reviewer's. A first reviewer who agrees with the tier
much more often than a blind reviewer does is anchored by it; how often the two reviews
agree bounds how far the shown reviews can be trusted as labels. Proportions come with
Wilson score intervals (95 %), which stay inside [0, 1] for the small samples a 3 % draw
gives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """The Wilson score interval of k successes in n trials (None, None when n is 0)."""
    if n == 0:
        return None, None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _share(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(k, n)
    return {"k": k, "n": n, "rate": k / n if n else None, "ci_low": lo, "ci_high": hi}


def agreement(pairs: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
    """``pairs``: (tier shown, first review's assessment, blind review's assessment)."""
    rows = list(pairs)
    n = len(rows)
    both = sum(a == b for _, a, b in rows)
    shown_tier = sum(a == t for t, a, _ in rows)
    blind_tier = sum(b == t for t, _, b in rows)
    return {
        "pairs": n,
        "first_agrees_with_blind": _share(both, n),
        "first_agrees_with_tier": _share(shown_tier, n),
        "blind_agrees_with_tier": _share(blind_tier, n),
        # the anchoring measure: how much more often the reviewer shown the tier agrees
        # with it than an independent reviewer does (point estimate; see the two intervals)
        "anchoring": (shown_tier - blind_tier) / n if n else None,
    }


def review_pairs(store: Any) -> list[tuple[str, str, str]]:
    """From the store: per referral, the latest first review and the latest blind review
    that give an assessment, with the tier of the score the first one was made on."""
    first: dict[str, Any] = {}
    blind: dict[str, Any] = {}
    for d in store.decisions():
        if d.urgency_assessed is None:
            continue
        (blind if d.review == "second_blind" else first)[d.referral_id] = d
    out = []
    for rid in sorted(first.keys() & blind.keys()):
        record = store.referral(rid)
        tier = next(s.score.tier for s in record.scores if s.id == first[rid].score_id)
        out.append((tier, first[rid].urgency_assessed, blind[rid].urgency_assessed))
    return out
