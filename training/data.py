"""Labelled data for training and evaluation: read, validate, pseudonymise, featurise.

Works on any contract-valid labelled JSON Lines stream (an agency's own history, not only
our generator's). ``_oracle`` probabilities, when present, are kept beside the features
for evaluation only; they never enter the feature frame.

Every label keeps its provenance (``features.labels``): ``Dataset.provenance`` says, per
row, whether the urgency label is an outcome report, a blind second review, imported
history or a review made with a model's output on screen, so training can weight it and
evaluation can leave the anchored ones out (:func:`independent`).

Parsing and featurising 300k referrals takes minutes, so :func:`load_cached` keeps the
result (features, metadata, linking events, labels) as Parquet under ``data_dir`` keyed by
the file's digest, the pseudonym key's fingerprint and the feature catalogue: ``evaluate``
and ``promote`` on the same file then start in seconds.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.catalogue import catalogue_digest
from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES, Outcome, Referral
from features.history import History
from features.ingest import Labelled, Rejected, iter_jsonl, parse_documents
from features.labels import INDEPENDENT, PROVENANCES
from features.pipeline import Features, build_features
from features.pseudonyms import Pseudonymiser

Progress = Callable[[str], None]
PROGRESS_FROM = 20_000  # show a progress bar (stderr) from this many lines
CACHE_FORMAT = "dataset-cache/2"  # 2: labels carry their provenance


def _quiet(_msg: str) -> None:
    return None


@dataclass
class Dataset:
    """Features plus labels (class-name arrays) and, for synthetic data, oracle arrays.

    ``referrals`` is empty when the dataset came from the cache (nothing downstream of the
    features needs the documents)."""

    feats: Features
    referrals: list[Referral]
    y_urgency: np.ndarray
    y_viability: np.ndarray
    decided_at: pd.Series
    oracle_urgency: np.ndarray | None
    oracle_viability: np.ndarray | None
    digest: str
    rejected: list[Rejected] = field(default_factory=list)
    #: per row, where its label came from (``features.labels.Provenance``); None: history
    provenance: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.provenance is None:
            self.provenance = np.full(len(self.y_urgency), "history", dtype=object)

    def __len__(self) -> int:
        return len(self.y_urgency)


def independent(ds: Dataset) -> np.ndarray:
    """Rows whose label was made without a model's output on screen (``INDEPENDENT``): the
    only ones a model may be evaluated or gated on (contract §5 "Labels")."""
    return np.isin(np.asarray(ds.provenance, dtype=object), list(INDEPENDENT))


def provenance_counts(ds: Dataset, mask: np.ndarray | None = None) -> dict[str, int]:
    """How many labels of each provenance ``mask`` holds (every provenance named, 0 too)."""
    prov = np.asarray(ds.provenance, dtype=object)
    if mask is not None:
        prov = prov[np.asarray(mask, dtype=bool)]
    return {p: int((prov == p).sum()) for p in PROVENANCES}


def label_summary(ds: Dataset, window: np.ndarray, used: np.ndarray) -> dict[str, Any]:
    """The report's ``labels`` block: which provenances were used, how many of each, and
    how many labels of the window were left out because a model's output was on screen."""
    w = np.asarray(window, dtype=bool)
    u = w & np.asarray(used, dtype=bool)
    return {
        "used_provenances": sorted(INDEPENDENT),
        "used": provenance_counts(ds, u),
        "left_out": provenance_counts(ds, w & ~u),
    }


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
    prov = np.array([it.provenance for it in items], dtype=object)
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
        provenance=prov,
    )


def lines_with_progress(path: Path, show: bool, desc: str = "parse") -> Iterator[Any]:
    """The file's JSON values, with a progress bar on stderr for big files."""
    if not show:
        yield from iter_jsonl(path)
        return
    from tqdm import tqdm

    with path.open("rb") as fh:
        n = sum(1 for _ in fh)
    with tqdm(total=n, unit="ref", desc=desc, file=sys.stderr) as bar:
        for doc in iter_jsonl(path):
            bar.update(1)
            yield doc


def extra_digest(digest: str, extra: Sequence[Labelled]) -> str:
    """The file digest combined with the merged labels (ids and outcomes, no content)."""
    if not extra:
        return digest
    h = hashlib.sha256(digest.encode())
    for it in sorted(extra, key=lambda it: it.referral.referral_id):
        o = it.outcome
        line = f"{it.referral.referral_id}|{o.model_dump_json() if o else ''}|{it.provenance}\n"
        h.update(line.encode())
    return h.hexdigest()


def load_labelled(
    path: Path,
    pseudonymiser: Pseudonymiser,
    extra: Sequence[Labelled] = (),
    progress: Progress | None = None,
) -> Dataset:
    """Read a labelled JSON Lines file (plus ``extra`` labelled referrals, e.g. reviewer
    decisions and outcome reports from the store). For a referral in both, the stronger
    provenance wins (``features.labels.PROVENANCES`` order; ``extra`` on a tie), so a
    review made with the model on screen never replaces an imported or independent label;
    referrals only in ``extra`` are added, and then the dataset has no oracle)."""
    say = progress or _quiet
    show = progress is not None and path.stat().st_size > PROGRESS_FROM * 1000
    say(f"parsing {path.name} (validate + pseudonymise)")
    batch = parse_documents(lines_with_progress(path, show), pseudonymiser, labels=True)
    by_id = {it.referral.referral_id: it for it in batch.good}
    rank = {p: i for i, p in enumerate(PROVENANCES)}
    for it in extra:
        known = by_id.get(it.referral.referral_id)
        if it.outcome is None or (
            known is not None and rank[it.provenance] > rank[known.provenance]
        ):
            continue
        # the file's own document (the stored copy has no free text) with the decision
        by_id[it.referral.referral_id] = (
            it
            if known is None
            else Labelled(
                known.referral, it.outcome, known.oracle, known.truth, provenance=it.provenance
            )
        )
    digest = extra_digest(file_digest(path), extra)
    say(f"building features for {len(by_id):,} referrals ({len(batch.rejected)} rejected)")
    return from_labelled(list(by_id.values()), digest, batch.rejected)


# -- cache ---------------------------------------------------------------------------------


def cache_key(path: Path, pseudonymiser: Pseudonymiser, extra: Iterable[Labelled] = ()) -> str:
    """File digest + key fingerprint (a pseudonym of a fixed probe, not the key) + catalogue."""
    probe = pseudonymiser.pseudonym("email", "cache-probe@example.invalid")
    blob = "|".join(
        (CACHE_FORMAT, extra_digest(file_digest(path), list(extra)), probe, catalogue_digest())
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _write_cache(ds: Dataset, where: Path) -> None:
    tmp = where.with_name(where.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ds.feats.X.to_parquet(tmp / "X.parquet")
    ds.feats.meta.to_parquet(tmp / "meta.parquet")
    ds.feats.events.to_parquet(tmp / "events.parquet")
    labels = pd.DataFrame(
        {
            "urgency": ds.y_urgency,
            "viability": ds.y_viability,
            "decided_at": ds.decided_at,
            "provenance": np.asarray(ds.provenance, dtype=object).astype(str),
        }
    )
    if ds.oracle_urgency is not None and ds.oracle_viability is not None:
        for j, u in enumerate(URGENCY_CLASSES):
            labels[f"oracle_u_{u}"] = ds.oracle_urgency[:, j]
        for j, v in enumerate(VIABILITY_CLASSES):
            labels[f"oracle_v_{v}"] = ds.oracle_viability[:, j]
    labels.to_parquet(tmp / "labels.parquet")
    (tmp / "digest").write_text(ds.digest)
    shutil.rmtree(where, ignore_errors=True)
    tmp.rename(where)


def _read_cache(where: Path) -> Dataset:
    labels = pd.read_parquet(where / "labels.parquet")
    ou = ov = None
    if f"oracle_u_{URGENCY_CLASSES[0]}" in labels:
        ou = labels[[f"oracle_u_{c}" for c in URGENCY_CLASSES]].to_numpy()
        ov = labels[[f"oracle_v_{c}" for c in VIABILITY_CLASSES]].to_numpy()
    feats = Features(
        pd.read_parquet(where / "X.parquet"),
        pd.read_parquet(where / "meta.parquet"),
        pd.read_parquet(where / "events.parquet"),
    )
    return Dataset(
        feats=feats,
        referrals=[],
        y_urgency=labels["urgency"].to_numpy(dtype=object).astype(str),
        y_viability=labels["viability"].to_numpy(dtype=object).astype(str),
        decided_at=pd.Series(pd.to_datetime(labels["decided_at"], utc=True)),
        oracle_urgency=ou,
        oracle_viability=ov,
        digest=(where / "digest").read_text().strip(),
        provenance=labels["provenance"].to_numpy(dtype=object),
    )


def load_cached(
    path: Path,
    pseudonymiser: Pseudonymiser,
    cache_dir: Path,
    extra: Sequence[Labelled] = (),
    progress: Progress | None = None,
) -> Dataset:
    """:func:`load_labelled`, or its cached result for the same file, key and catalogue.

    Rejected documents are not cached: a file with rejections is re-read each time so
    they are always reported."""
    say = progress or _quiet
    where = cache_dir / cache_key(path, pseudonymiser, extra)
    if (where / "digest").exists():
        say(f"features for {path.name} from the cache ({where.name})")
        return _read_cache(where)
    ds = load_labelled(path, pseudonymiser, extra, progress)
    if not ds.rejected:
        _write_cache(ds, where)
    return ds


def class_index(y: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[v] for v in y], dtype=np.int32)
