"""The one place that knows how tiers are ordered.

Two orderings are in use, and this module is the only thing that converts between them:

* **class order**, :data:`TIERS` = the contract's urgency classes: ``immediate`` (0),
  ``high`` (1), ``routine`` (2), the column order of every urgency probability array;
* **rank**, the tier's height: ``routine`` (0), ``high`` (1), ``immediate`` (2), what the
  safety floor, the policy and the priority bands compare and add (``max`` lifts a tier).

It lives in ``features/`` (not ``models/``) because the case grouping
(:mod:`features.cases`) picks the most urgent tier too, and imports only go down.
"""

from __future__ import annotations

import numpy as np

from features.contract import TIERS, Tier

__all__ = [
    "HIGH",
    "IMMEDIATE",
    "RANK",
    "TIERS",
    "TIER_BY_RANK",
    "class_of_rank",
    "most_urgent",
    "rank",
    "rank_of_class",
    "tier_of_rank",
]

#: the tier of each rank: 0 routine .. 2 immediate
TIER_BY_RANK: dict[int, Tier] = {len(TIERS) - 1 - i: t for i, t in enumerate(TIERS)}
#: rank of each tier: routine 0, high 1, immediate 2
RANK: dict[Tier | str, int] = {t: r for r, t in TIER_BY_RANK.items()}
#: the ranks of ``immediate`` (the top) and ``high``
IMMEDIATE = RANK["immediate"]
HIGH = RANK["high"]


def rank(tier: Tier | str) -> int:
    """A tier's rank (0 routine .. 2 immediate); KeyError for anything else."""
    return RANK[tier]


def tier_of_rank(r: int) -> Tier:
    return TIER_BY_RANK[int(r)]


def class_of_rank(ranks: np.ndarray | int) -> np.ndarray:
    """Rank(s) -> the urgency class index (column of a probability array)."""
    return IMMEDIATE - np.asarray(ranks)


def rank_of_class(classes: np.ndarray | int) -> np.ndarray:
    """Urgency class index(es) -> rank; the inverse of :func:`class_of_rank`."""
    return IMMEDIATE - np.asarray(classes)


def most_urgent(tiers: list[Tier]) -> Tier:
    """The highest of some tiers (at least one)."""
    return max(tiers, key=rank)
