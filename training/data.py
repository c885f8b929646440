"""Labelled data for training and evaluation: read, validate, pseudonymise, featurise.

Works on any contract-valid labelled JSON Lines stream (an agency's own history, not only
our generator's). ``_oracle`` probabilities, when present, are kept beside the features
for evaluation only; they never enter the feature frame.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES, Outcome, Referral
from features.ingest import Labelled, Rejected, read_jsonl
from features.linking import History
from features.pipeline import Features, build_features
from features.pseudonyms import Pseudonymiser


@dataclass
class Dataset:
    """Features plus labels (class-name arrays) and, for synthetic data, oracle arrays."""

    feats: Features
    referrals: list[Referral]
    y_urgency: np.ndarray
    y_viability: np.ndarray
    decided_at: pd.Series
    oracle_urgency: np.ndarray | None
    oracle_viability: np.ndarray | None
    digest: str
    rejected: list[Rejected]

    def __len__(self) -> int:
        return len(self.referrals)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def from_labelled(
    items: Sequence[Labelled],
    digest: str,
    rejected: list[Rejected] | None = None,
    history: History | None = None,
) -> Dataset:
    """Build a dataset from labelled referrals; unlabelled ones are dropped (counted in
    ``rejected`` with the reason), since training needs an outcome."""
    rejected = list(rejected or [])
    keep = [it for it in items if it.outcome is not None]
    items = sorted(keep, key=lambda it: it.referral.received_at)
    refs = [it.referral for it in items]
    outs: list[Outcome | None] = [it.outcome for it in items]
    feats = build_features(refs, outs, history)
    has_oracle = bool(items) and all(it.oracle is not None for it in items)
    ou = ov = None
    if has_oracle:
        ou = np.array([[it.oracle.urgency[c] for c in URGENCY_CLASSES] for it in items])  # type: ignore[union-attr]
        ov = np.array([[it.oracle.viability[c] for c in VIABILITY_CLASSES] for it in items])  # type: ignore[union-attr]
    return Dataset(
        feats=feats,
        referrals=refs,
        y_urgency=np.array([o.urgency for o in outs]),  # type: ignore[union-attr]
        y_viability=np.array([o.viability for o in outs]),  # type: ignore[union-attr]
        decided_at=pd.Series(pd.to_datetime([o.decided_at for o in outs], utc=True)),  # type: ignore[union-attr]
        oracle_urgency=ou,
        oracle_viability=ov,
        digest=digest,
        rejected=rejected,
    )


def load_labelled(
    path: Path, pseudonymiser: Pseudonymiser, extra: Sequence[Labelled] = ()
) -> Dataset:
    """Read a labelled JSON Lines file (plus ``extra`` labelled referrals, e.g. confirmed
    reviewer decisions, which win over the file's label for the same referral id)."""
    batch = read_jsonl(path, pseudonymiser, labels=True)
    by_id = {it.referral.referral_id: it for it in batch.good}
    for it in extra:
        by_id[it.referral.referral_id] = it
    digest = file_digest(path)
    if extra:
        digest = hashlib.sha256((digest + str(len(extra))).encode()).hexdigest()
    return from_labelled(list(by_id.values()), digest, batch.rejected)


def class_index(y: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[v] for v in y], dtype=np.int32)
