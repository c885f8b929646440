"""Training on Dask: the features on the cluster, the model from the one training assembly.

The expensive, parallel part of training a model from a large stream is validating,
pseudonymising and featurising it; that runs on the workers, partition by partition, with
the carried history (:mod:`training.distributed`). The features and labels are then
gathered on the driver into the same :class:`~training.data.Dataset` the local engine
builds from a JSON Lines file, and the model is made by the same code:
:func:`training.fit.fit` (monotone urgency head, cap-based tier policy, conformal urgency
sets, label weights by provenance, the real git commit), inside ``triage train``'s
pipeline (backtests, evaluation, gate, card, registration). A Dask model therefore differs
from a local one only in ``manifest.training.engine``; ``tests/unit/test_dask.py`` checks
that both pass the same gate checks on the same data.

Why not ``lightgbm.dask``: it cannot express the urgency head's custom objective (the
reference-class softmax with monotone constraints) nor early stopping, so a Dask-fitted
head was a different model that the gate could not tell apart. Gathering the feature
frame costs about 0.4 KB per referral (~80 float32 columns): 100 million referrals
would need a bigger driver than this, and are beyond what one fit handles anyway.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.pipeline import Features
from training.data import Dataset
from training.distributed import Parsed, cluster, feature_graph

ENGINE = "dask"


def _gathered(feats: Features, parsed: Parsed) -> dict[str, Any]:
    """What the driver needs of one partition: features, labels, provenance, rejections."""
    outs = [g.outcome for g in parsed.good]
    return {
        "X": feats.X,
        "meta": feats.meta,
        "events": feats.events,
        "urgency": [o.urgency for o in outs if o is not None],
        "viability": [o.viability for o in outs if o is not None],
        "decided_at": [o.decided_at for o in outs if o is not None],
        "provenance": [g.provenance for g in parsed.good],
        "rejected": parsed.rejected,
    }


def parquet_digest(parquet: Path | str) -> str:
    """A digest of the partition files (names and bytes): the data's identity."""
    h = hashlib.sha256()
    for f in sorted(Path(parquet).glob("*.parquet")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def dataset_dask(
    parquet: Path | str,
    key: bytes,
    scheduler: str | None = None,
    workers: int = 2,
    digest: str | None = None,
) -> Dataset:
    """The labelled dataset of ``parquet``, featurised on the cluster: equal to what
    :func:`training.data.load_labelled` builds from the same documents (features, labels,
    provenance, rejected documents); ``digest`` names the data (default: the files')."""
    import dask

    with cluster(scheduler, workers) as client:
        parsed, feats = feature_graph(parquet, key, labels=True)
        parts = [dask.delayed(_gathered)(f, p) for f, p in zip(feats, parsed, strict=True)]
        got = list(client.compute(parts, sync=True))
    got = [g for g in got if len(g["X"]) or g["rejected"]]
    X = pd.concat([g["X"] for g in got], ignore_index=True)
    meta = pd.concat([g["meta"] for g in got], ignore_index=True)
    events = pd.concat([g["events"] for g in got], ignore_index=True)
    decided = [t for g in got for t in g["decided_at"]]
    return Dataset(
        feats=Features(X, meta, events),
        referrals=[],
        y_urgency=np.array([u for g in got for u in g["urgency"]]),
        y_viability=np.array([v for g in got for v in g["viability"]]),
        decided_at=pd.Series(pd.to_datetime(decided, utc=True)),
        oracle_urgency=None,
        oracle_viability=None,
        digest=digest or parquet_digest(parquet),
        rejected=sorted((r for g in got for r in g["rejected"]), key=lambda r: r.index),
        provenance=np.array([p for g in got for p in g["provenance"]], dtype=object),
    )


def train_dask(
    parquet: Path | str,
    key: bytes,
    cfg: Any = None,
    scheduler: str | None = None,
    workers: int = 2,
    digest: str | None = None,
    progress: Any = None,
) -> tuple[Any, Dataset, Any]:
    """The model :func:`training.fit.fit` makes from ``parquet``'s features computed on the
    cluster, with the training pipeline's split; returns (model, dataset, split)."""
    from training.fit import TrainConfig, fit
    from training.pipeline import split_of

    cfg = cfg or TrainConfig()
    ds = dataset_dask(parquet, key, scheduler, workers, digest)
    split = split_of(ds, cfg.fractions)
    model, _ = fit(ds, split, cfg, progress or (lambda _m: None), engine=ENGINE)
    return model, ds, split
