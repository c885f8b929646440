"""The safety floor: deterministic rules that lift a referral's tier whatever the model says.

Each rule reads one feature of the shared frame and names itself in ``safety_rules`` when
it fires. The same rules alone score referrals when no model can be loaded (degraded
mode, see :mod:`models.degraded`). Rules only ever *raise* a tier; they never lower one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.tiers import RANK as TIER_RANK  # routine 0, high 1, immediate 2


@dataclass(frozen=True)
class SafetyRule:
    name: str
    feature: str
    floor: str
    why: str


RULES: tuple[SafetyRule, ...] = (
    SafetyRule(
        "explicit_escalation",
        "escalated",
        "immediate",
        "the reporter escalated it: a child may be at immediate risk",
    ),
    SafetyRule(
        "sextortion",
        "ann_sextortion",
        "immediate",
        "sextortion can escalate within hours and carries a suicide risk",
    ),
    SafetyRule(
        "live_streaming",
        "fa_live_streaming",
        "immediate",
        "live streaming suggests abuse happening now",
    ),
    SafetyRule(
        "sadistic_exploitation",
        "ann_sadistic_exploitation",
        "immediate",
        "sadistic online exploitation targets a child directly",
    ),
    SafetyRule(
        "physical_harm", "fa_physical_harm", "high", "a file annotated as showing physical harm"
    ),
    SafetyRule("infant", "fa_infant", "high", "a file annotated as involving an infant"),
)
BY_NAME = {r.name: r for r in RULES}


def fired(X: pd.DataFrame) -> np.ndarray:
    """Boolean matrix (n, len(RULES)): which rule fired for which referral."""
    cols = [np.nan_to_num(X[r.feature].to_numpy(np.float64), nan=0.0) >= 0.5 for r in RULES]
    return np.column_stack(cols) if cols else np.zeros((len(X), 0), bool)


def floor_rank(fired_matrix: np.ndarray) -> np.ndarray:
    """The highest tier rank any fired rule demands (0 = routine when none fired)."""
    ranks = np.array([TIER_RANK[r.floor] for r in RULES])
    return np.max(np.where(fired_matrix, ranks, 0), axis=1, initial=0)


def rule_names(fired_matrix: np.ndarray, raised: np.ndarray | None = None) -> list[list[str]]:
    """Names of the rules that fired for each row (only rows in ``raised`` if given)."""
    out: list[list[str]] = []
    for i, row in enumerate(fired_matrix):
        if raised is not None and not raised[i]:
            out.append([])
        else:
            out.append([RULES[j].name for j in np.flatnonzero(row)])
    return out
