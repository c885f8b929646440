"""Files that travel with a trained model or seed the service, beyond the boosters.

* ``reference.parquet``: the drift monitor's reference. A time-ordered random sample (at
  most ``REFERENCE_ROWS``) of the test window: the feature frame (which already holds
  ``source``, ``province`` and ``incident_type``), ``received_at``, the reporting
  ``platform`` (a service name, for the unseen-platform check), the model's calibrated
  probabilities and tier. No referral ids, identifiers or free text. The sampled share is
  stored in the Parquet metadata (``sample_fraction``) so volumes can be scaled back.
* ``events.parquet``: the linking events of the whole dataset (pseudonymised keys, times,
  decision flags), from which the service rebuilds what was known before each referral.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
from features.pipeline import Features
from features.tiers import TIER_BY_RANK

REFERENCE_ROWS = 20_000
SAMPLE_FRACTION_KEY = b"sample_fraction"
REFERENCE_META = ("received_at", "platform")


def reference_frame(
    model: Any, feats: Features, max_rows: int = REFERENCE_ROWS, seed: int = 0
) -> tuple[pd.DataFrame, float]:
    """The reference rows and the sampled fraction (1.0 when the window is small enough)."""
    n = len(feats)
    keep = np.arange(n)
    if n > max_rows:
        keep = np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))
    sub = Features(feats.X.iloc[keep], feats.meta.iloc[keep].reset_index(drop=True), feats.events)
    pred = model.predict(sub)
    frame = sub.X.reset_index(drop=True).copy()
    for col in REFERENCE_META:
        if col not in frame:
            frame[col] = sub.meta[col].to_numpy()
    for j, u in enumerate(URGENCY_CLASSES):
        frame[f"p_urgency_{u}"] = pred.p_urgency[:, j]
    for j, v in enumerate(VIABILITY_CLASSES):
        frame[f"p_viability_{v}"] = pred.p_viability[:, j]
    frame["tier"] = [TIER_BY_RANK[int(r)] for r in pred.rank]
    return frame, len(keep) / max(n, 1)


def write_reference(path: Path, frame: pd.DataFrame, fraction: float) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[SAMPLE_FRACTION_KEY] = repr(float(fraction)).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def write_events(path: Path, events: pd.DataFrame) -> Path:
    """Replace ``path`` atomically: the service may be reading the previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    events.reset_index(drop=True).to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path
