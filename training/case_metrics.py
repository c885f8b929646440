"""How well cases and routes match the generator's ground truth (``_truth``).

Grouping: pairwise precision and recall of "same suspect" over the referrals measured
(a pair counts when both are in the window; referrals naming no suspect are their own
truth), B-cubed precision, recall and F1 (per referral, the share of its predicted case
that is truly its suspect's, and of its suspect's referrals that are in its case), and the
largest case. Routing: country correct among referrals whose route has evidence, province
correct among truly Canadian referrals with evidence, and the share undetermined; each
for the referral's own route and for its case's route.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from features.contract import Route, Truth
from features.routes import destination_place


def _pairs(groups: Mapping[str, Sequence[str]]) -> int:
    return sum(len(g) * (len(g) - 1) // 2 for g in groups.values())


def grouping_metrics(
    predicted: Mapping[str, str], truth: Mapping[str, str | None], measured: Sequence[str]
) -> dict[str, float]:
    """``predicted``: referral -> case id; ``truth``: referral -> suspect id (or None);
    ``measured``: the referrals the figures are about (e.g. a test window)."""
    pred_groups: dict[str, list[str]] = {}
    true_groups: dict[str, list[str]] = {}
    joint: Counter[tuple[str, str]] = Counter()
    for r in measured:
        p = predicted[r]
        t = truth.get(r) or f"(alone) {r}"
        pred_groups.setdefault(p, []).append(r)
        true_groups.setdefault(t, []).append(r)
        joint[(p, t)] += 1
    both = sum(c * (c - 1) // 2 for c in joint.values())
    n_pred, n_true = _pairs(pred_groups), _pairs(true_groups)
    b3_p = b3_r = 0.0
    for r in measured:
        p, t = predicted[r], truth.get(r) or f"(alone) {r}"
        c = joint[(p, t)]
        b3_p += c / len(pred_groups[p])
        b3_r += c / len(true_groups[t])
    n = max(len(measured), 1)
    b3_p, b3_r = b3_p / n, b3_r / n
    return {
        "referrals": float(len(measured)),
        "pairs_predicted": float(n_pred),
        "pairs_true": float(n_true),
        "pairwise_precision": both / n_pred if n_pred else 1.0,
        "pairwise_recall": both / n_true if n_true else 1.0,
        "bcubed_precision": b3_p,
        "bcubed_recall": b3_r,
        "bcubed_f1": 2 * b3_p * b3_r / (b3_p + b3_r) if b3_p + b3_r else 0.0,
        "largest_case": float(max((len(g) for g in pred_groups.values()), default=0)),
    }


def route_metrics(routes: Mapping[str, Route], truth: Mapping[str, Truth]) -> dict[str, float]:
    """Route accuracy against the true country and province of each measured referral."""
    n = with_ev = country_ok = ca = ca_ok = 0
    for rid, route in routes.items():
        t = truth.get(rid)
        if t is None:
            continue
        n += 1
        country, prov = destination_place(route)
        if country is None:
            continue
        with_ev += 1
        country_ok += country == t.country
        if t.country == "CA":
            ca += 1
            ca_ok += country == "CA" and prov == t.province
    return {
        "referrals": float(n),
        "share_undetermined": 1 - with_ev / n if n else 0.0,
        "country_correct_with_evidence": country_ok / with_ev if with_ev else 0.0,
        "province_correct_canadian": ca_ok / ca if ca else 0.0,
        "canadian_with_evidence": float(ca),
    }
