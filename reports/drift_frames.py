"""The two windows a drift report compares, from wherever they come from.

A :class:`Window` is a feature frame (catalogue types), the metadata the volume and
platform checks need (``received_at``, ``source``, ``platform``), the model's answers
(probabilities and tier) when known, and how many days it covers. Sources:

* the champion's ``reference.parquet`` (or any Parquet with the same columns);
* a referral file (JSON Lines, labelled or not), validated and pseudonymised at the door,
  featurised and scored now with the given model;
* the store's inference log: the features each score was made from, as logged.

Only pseudonymised, free-text-free data ever reaches a window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.catalogue import CATALOGUE, FEATURES
from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES, Referral
from features.history import History
from features.ingest import read_jsonl
from features.pipeline import Features, build_features
from features.pseudonyms import Pseudonymiser

PRED_COLUMNS = (
    *(f"p_urgency_{c}" for c in URGENCY_CLASSES),
    *(f"p_viability_{c}" for c in VIABILITY_CLASSES),
)
SAMPLE_FRACTION_KEY = b"sample_fraction"


class BadInput(ValueError):
    """A window that cannot be built (missing file, wrong columns, no rows)."""


@dataclass
class Window:
    X: pd.DataFrame
    meta: pd.DataFrame
    preds: pd.DataFrame | None
    days: float
    label: str
    sample_fraction: float = 1.0
    model_versions: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.X)

    def describe(self) -> dict[str, Any]:
        t = self.meta["received_at"]
        return {
            "label": self.label,
            "rows": len(self),
            "days": round(self.days, 2),
            "received_from": None if t.empty else t.min().isoformat(),
            "received_to": None if t.empty else t.max().isoformat(),
            "sample_fraction": self.sample_fraction,
            "model_versions": list(self.model_versions),
            "has_platform": "platform" in self.meta,
            "has_predictions": self.preds is not None,
            "notes": self.notes,
        }


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Catalogue columns and types (float numbers, fixed-level categoricals)."""
    missing = [c for c in FEATURES if c not in frame]
    if missing:
        raise BadInput(f"features: missing columns {missing[:5]}")
    cols = {}
    for spec in CATALOGUE:
        col = frame[spec.name]
        if spec.kind == "categorical":
            cols[spec.name] = pd.Categorical(col.astype(object), categories=list(spec.levels))
        else:
            cols[spec.name] = pd.to_numeric(col, errors="coerce").astype(float)
    return pd.DataFrame(cols, index=frame.index).reset_index(drop=True)


def span_days(received_at: pd.Series) -> float:
    """Days a sample of arrival times covers: the observed range, corrected for the
    range of ``n`` uniform points falling short of the window by ``2/(n+1)``."""
    t = pd.to_datetime(received_at, utc=True)
    n = len(t)
    if n < 2:
        return 1.0
    rng = (t.max() - t.min()).total_seconds() / 86400
    return max(rng * (n + 1) / (n - 1), 1e-3)


def predictions(model: Any, feats: Features) -> pd.DataFrame:
    """Probabilities of both heads and the tier (after the safety floor), as logged."""
    from features.tiers import TIER_BY_RANK

    pred = model.predict(feats)
    out = pd.DataFrame(np.hstack([pred.p_urgency, pred.p_viability]), columns=list(PRED_COLUMNS))
    out["tier"] = [TIER_BY_RANK[int(r)] for r in pred.rank]
    return out


def from_features(
    feats: Features,
    label: str,
    model: Any | None = None,
    days: float | None = None,
) -> Window:
    meta = feats.meta[["received_at", "source", "platform"]].reset_index(drop=True)
    preds = predictions(model, feats) if model is not None and len(feats) else None
    notes = [] if preds is not None else ["no model to score it: prediction drift not checked"]
    return Window(
        X=typed(feats.X),
        meta=meta,
        preds=preds,
        days=days if days is not None else span_days(meta["received_at"]),
        label=label,
        model_versions=(str(model.version),) if model is not None else (),
        notes=notes,
    )


def from_referrals(
    referrals: Sequence[Referral],
    label: str,
    model: Any | None = None,
    history: History | None = None,
    days: float | None = None,
) -> Window:
    refs = sorted(referrals, key=lambda r: r.received_at)
    return from_features(build_features(refs, None, history), label, model, days)


def from_file(
    path: Path,
    pseudonymiser: Pseudonymiser,
    model: Any | None,
    label: str | None = None,
    history: History | None = None,
) -> Window:
    """A Parquet frame (features + meta + predictions) or a JSON Lines referral file
    (featurised against ``history``, scored with ``model``)."""
    if not path.exists():
        raise BadInput(f"{path}: no such file")
    if path.suffix == ".parquet":
        return from_parquet(path, label or path.name)
    batch = read_jsonl(path, pseudonymiser, labels=True)
    if batch.rejected:
        raise BadInput(f"{path}: {len(batch.rejected)} referrals failed validation")
    if not batch.good:
        raise BadInput(f"{path}: no referrals")
    win = from_referrals(batch.referrals, label or path.name, model, history)
    if history is None:
        win.notes.append(
            "featurised without the service's history: history features (and predictions, "
            "which use them) may differ for that reason alone"
        )
    return win


def from_parquet(path: Path, label: str) -> Window:
    import pyarrow.parquet as pq

    frame = pd.read_parquet(path)
    if "received_at" not in frame or "source" not in frame or frame.empty:
        raise BadInput(f"{path}: needs rows and the columns received_at and source")
    meta_keys = pq.read_schema(path).metadata or {}
    fraction = float(meta_keys.get(SAMPLE_FRACTION_KEY, b"1.0"))
    meta = pd.DataFrame(
        {
            "received_at": pd.to_datetime(frame["received_at"], utc=True),
            "source": frame["source"].astype(object),
        }
    )
    notes = []
    if "platform" in frame:
        meta["platform"] = frame["platform"].astype(object)
    else:
        notes.append("no platform column: platform mix and unseen platforms not checked")
    preds = None
    if all(c in frame for c in (*PRED_COLUMNS, "tier")):
        preds = frame[[*PRED_COLUMNS, "tier"]].reset_index(drop=True)
    else:
        notes.append("no p_* / tier columns: prediction drift not checked")
    return Window(
        X=typed(frame),
        meta=meta.reset_index(drop=True),
        preds=preds,
        days=span_days(meta["received_at"]),
        label=label,
        sample_fraction=fraction,
        notes=notes,
    )


def write_parquet(window: Window, path: Path) -> Path:
    """A window in the reference format: features, ``received_at``/``source``/``platform``,
    ``p_*`` probabilities and ``tier`` (what ``triage train`` writes as reference.parquet),
    with its sample fraction in the file's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = window.X.copy()
    for col in ("received_at", "platform"):
        if col in window.meta:
            frame[col] = window.meta[col].to_numpy()
    if window.preds is not None:
        for col in window.preds:
            frame[col] = window.preds[col].to_numpy()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[SAMPLE_FRACTION_KEY] = str(window.sample_fraction).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table.replace_schema_metadata(meta), path)
    return path


def from_store(store_url: str, since: datetime, until: datetime) -> Window:
    """The latest score of each referral scored in ``[since, until)``, from the log.

    Degraded (rules-only) scores keep their features but not their probabilities, which
    are base rates rather than estimates.
    """
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from serving.database import make_engine
    from serving.db_models import ReferralRow, ScoreRow

    latest = (
        select(func.max(ScoreRow.id).label("id"))
        .where(ScoreRow.scored_at >= since, ScoreRow.scored_at < until)
        .group_by(ScoreRow.referral_id)
        .subquery()
    )
    stmt = (
        select(ScoreRow, ReferralRow.received_at, ReferralRow.source, ReferralRow.document)
        .join(latest, latest.c.id == ScoreRow.id)
        .join(ReferralRow, ReferralRow.referral_id == ScoreRow.referral_id)
        .order_by(ScoreRow.id)
    )
    engine = make_engine(store_url)
    try:
        with Session(engine) as s:
            rows = s.execute(stmt.execution_options(yield_per=1000)).all()
    finally:
        engine.dispose()
    if not rows:
        raise BadInput("store: no scores in the window")
    feats = pd.DataFrame([dict(r[0].features) for r in rows])
    meta = pd.DataFrame(
        {
            "received_at": pd.to_datetime([r[1] for r in rows], utc=True),
            "source": [r[2] for r in rows],
            "platform": [(r[3].get("incident") or {}).get("platform") for r in rows],
        }
    )
    sc = [r[0] for r in rows]
    preds = pd.DataFrame(
        {
            **{f"p_urgency_{c}": [getattr(x, f"urgency_{c}") for x in sc] for c in URGENCY_CLASSES},
            **{
                f"p_viability_{c}": [getattr(x, f"viability_{c}") for x in sc]
                for c in VIABILITY_CLASSES
            },
            "tier": [x.tier for x in sc],
        }
    )
    degraded = np.array([x.degraded for x in sc])
    preds.loc[degraded, :] = np.nan
    versions = tuple(sorted({x.model_version for x in sc if not x.degraded}))
    notes = [f"{int(degraded.sum())} degraded (rules-only) scores left out of prediction drift"]
    return Window(
        X=typed(feats),
        meta=meta,
        preds=preds,
        days=(until - since).total_seconds() / 86400,
        label=f"inference log {since:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} UTC",
        model_versions=versions,
        notes=notes if degraded.any() else [],
    )
