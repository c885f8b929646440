"""The simulated loop's world (``training.loop_sim``): the generated stream cut into
segments, with its truth, and the labels the simulated people make as time goes by.

Kept apart from the loop itself so the loop reads as deploy -> review -> retrain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from features.contract import URGENCY_CLASSES
from features.ingest import Labelled, parse_documents
from features.pseudonyms import Pseudonymiser

SIM_KEY = b"loop-simulation-key-not-a-secret"  # fake data: a fixed, public key is fine


@dataclass
class Stream:
    items: list[Labelled]
    received: pd.Series
    truth: np.ndarray  # class index
    truth_decided: pd.Series
    oracle: np.ndarray  # (n, 3) true probabilities
    viability: np.ndarray  # the dispositions (not simulated: the loop is about urgency)
    segment: np.ndarray  # 0 history, 1..cycles deployments, cycles + 1 holdout
    ends: list[pd.Timestamp]  # end of each segment


def stream(
    n: int, seed: int, days: int, history_share: float, holdout_share: float, cycles: int
) -> Stream:
    """The stream cut into segments: imported history, ``cycles`` deployments, holdout."""
    items = documents(n, seed, days)
    received = pd.Series(pd.to_datetime([it.referral.received_at for it in items], utc=True))
    lo, hi = received.min(), received.max() + pd.Timedelta(seconds=1)
    mid = (1 - history_share - holdout_share) / cycles
    cuts = [history_share + mid * c for c in range(cycles + 1)] + [1.0]
    ends = [lo + (hi - lo) * f for f in cuts]
    segment = np.searchsorted(pd.DatetimeIndex(ends[:-1]), received, side="right")
    return Stream(
        items=items,
        received=received,
        truth=np.array([URGENCY_CLASSES.index(it.outcome.urgency) for it in items]),  # type: ignore[union-attr]
        truth_decided=pd.Series(
            pd.to_datetime([it.outcome.decided_at for it in items], utc=True)  # type: ignore[union-attr]
        ),
        oracle=np.array([[it.oracle.urgency[c] for c in URGENCY_CLASSES] for it in items]),  # type: ignore[union-attr]
        viability=np.array([it.outcome.viability for it in items]),  # type: ignore[union-attr]
        segment=segment,
        ends=ends,
    )


@lru_cache(maxsize=1)
def documents(n: int, seed: int, days: int) -> list[Labelled]:
    """Generated, validated and pseudonymised once for the runs with and without the
    safeguards (parsing is most of a small run's time). Nothing mutates the result."""
    from training.synthetic import generate

    docs = generate(n, seed, date(2023, 1, 1), days, labels=True)
    items = parse_documents(docs, Pseudonymiser(SIM_KEY), labels=True).good
    return sorted(items, key=lambda it: it.referral.received_at)


class Labels:
    """Every label made so far: per referral and provenance, the class and when it was known."""

    def __init__(self, n: int) -> None:
        self.cls: dict[str, np.ndarray] = {}
        self.at: dict[str, pd.Series] = {}
        self.n = n

    def add(self, provenance: str, rows: np.ndarray, cls: np.ndarray, at: pd.Series) -> None:
        c = self.cls.setdefault(provenance, np.full(self.n, -1))
        t = self.at.setdefault(
            provenance, pd.Series(pd.NaT, index=range(self.n), dtype="datetime64[ns, UTC]")
        )
        c[rows] = cls
        t.iloc[rows] = at.to_numpy()

    def known(
        self, order: Sequence[str], now: pd.Timestamp
    ) -> tuple[np.ndarray, pd.Series, np.ndarray]:
        """Per referral the first label in ``order`` known before ``now`` (class -1: none)."""
        cls = np.full(self.n, -1)
        at = pd.Series(pd.NaT, index=range(self.n), dtype="datetime64[ns, UTC]")
        prov = np.full(self.n, "", dtype=object)
        for p in reversed(order):  # later in the loop wins: the first in ``order``
            if p not in self.cls:
                continue
            ok = (self.cls[p] >= 0) & (self.at[p] < now).to_numpy()
            cls[ok], prov[ok] = self.cls[p][ok], p
            at[ok] = self.at[p][ok]
        return cls, at, prov
