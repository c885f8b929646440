"""Degraded mode: the safety rules alone score a referral when no model can be used.

The tier comes from the safety floor (``routine`` when no rule fires); the probabilities
are the public base rates (``domain.md`` §1), *not* an estimate for this referral, and
the answer says ``degraded: true``. The urgency set holds every class at or above the
safety floor (all three when no rule fired: nothing can be ruled out without a model),
so a degraded answer always says ``cannot_rule_out_immediate: true``. Within a tier,
referrals are ordered by a small, documented heuristic (new material, a young victim, a
repeat suspect) and by retention pressure, so even a degraded queue puts the likeliest
urgent work first. This is also the "safety rules alone" baseline of the queue simulation.
"""

from __future__ import annotations

import functools
from datetime import datetime

import numpy as np

from features.contract import Reason, Score
from features.pipeline import Features
from models import safety
from models.conformal import degraded_members
from models.operating_policy import load_policy
from models.priority import BAND, W_RETENTION, retention_pressure
from models.triage_model import Predictions, days_left, to_scores

RULES_VERSION = "rules-1"
BASE_URGENCY = np.array([0.01, 0.09, 0.90])
BASE_VIABILITY = np.array([0.114, 0.630, 0.256])


def heuristic(feats: Features) -> np.ndarray:
    """Within-tier order in [0, 1) without a model: a few well-known signals, equally weighted."""
    X = feats.X

    def col(name: str) -> np.ndarray:
        return np.nan_to_num(X[name].to_numpy(np.float64), nan=0.0)

    young = np.nan_to_num(X["victim_min_band"].to_numpy(np.float64), nan=3.0) <= 1
    signals = [
        col("files_new") > 0,
        young,
        col("link_prior_referrals") > 0,
        col("subject_access_to_children") > 0,
        col("victim_unidentified") > 0,
    ]
    return np.mean(np.column_stack(signals), axis=1)


def predict_rules(feats: Features, now: datetime | None = None) -> Predictions:
    n = len(feats)
    fired = safety.fired(feats.X)
    rank = safety.floor_rank(fired)
    within = (1 - W_RETENTION) * heuristic(feats) + W_RETENTION * retention_pressure(
        days_left(feats, now)
    )
    prio = np.round(rank * BAND + np.clip(within, 0, 0.999) * BAND, 3)
    return Predictions(
        np.tile(BASE_URGENCY, (n, 1)),
        np.tile(BASE_VIABILITY, (n, 1)),
        np.zeros(n, dtype=int),
        rank,
        fired,
        prio,
        urgency_members=degraded_members(rank),
    )


@functools.cache
def default_policy_version() -> str:
    """The packaged operating policy's version: what a rules-only answer names when no
    model (and so no model's policy) is at hand."""
    return load_policy().version


def score_rules(
    feats: Features, *, now: datetime | None = None, policy_version: str | None = None
) -> list[Score]:
    """Rules-only Scores. ``policy_version``: the policy in force (the loaded model's when
    the model failed; the packaged default otherwise). The rules' tiers are the safety
    floor, which no cap limits, and no ``urgency_band`` is given: base rates rank nothing."""
    pred = predict_rules(feats, now)
    reasons = [
        [
            Reason(
                feature=safety.RULES[j].feature,
                value=1.0,
                contribution=0.0,
                text=f"Safety rule '{safety.RULES[j].name}': {safety.RULES[j].why}",
                head="rules",
            )
            for j in np.flatnonzero(row)
        ]
        for row in pred.fired
    ]
    return to_scores(
        feats,
        pred,
        reasons,
        RULES_VERSION,
        degraded=True,
        now=now,
        policy_version=policy_version or default_policy_version(),
    )
