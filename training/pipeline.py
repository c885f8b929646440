"""``triage train`` end to end: data -> time split -> backtests -> fit -> evaluate -> gate
-> model card -> MLflow (artefact, report, card) -> aliases -> linking history.

Every long step reports progress on stderr. The artefact directory carries everything
the service and the drift monitor need beside the boosters: ``evaluation.json``, the card
(``card.md``, ``card.html`` and its plots) and ``reference.parquet`` (a sample of the test
window's features, metadata and answers; no referral ids, no identifiers). The full
dataset's linking events (pseudonymised keys and times only) go to
``<home>/history/events.parquet`` so the service can seed its linking history.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from features.config import Settings
from features.history import history_file
from features.ingest import Labelled
from features.pseudonyms import Pseudonymiser
from models import registry
from training.artefacts import reference_frame, write_events, write_reference
from training.backtests import backtest_metrics, legacy_rows
from training.backtests import run as backtests_run
from training.card import write_card
from training.data import Dataset, independent, label_summary, load_cached
from training.embedded import embedded_data
from training.evaluate import evaluate, headline, window
from training.fit import TrainConfig, fit, label_weights, say
from training.promote import Decision, GateConfig, assess, load_champion, record
from training.report_types import EvaluationReport
from training.splits import Maturity, Split, maturity, time_split

Progress = Callable[[str], None]
SHAP_SAMPLE = 2000


@dataclass
class TrainResult:
    version: str
    run_id: str
    decision: Decision
    report: EvaluationReport
    backtests: list[dict[str, Any]]
    data_path: Path
    merged_labels: int
    timings: dict[str, float] = field(default_factory=dict)


def load_config(path: Path | None) -> tuple[TrainConfig, GateConfig]:
    """A JSON file of :class:`TrainConfig` fields plus an optional ``gate`` object."""
    if path is None:
        return TrainConfig(), GateConfig()
    raw = json.loads(path.read_text(encoding="utf-8"))
    gate = GateConfig(**raw.pop("gate", {}))
    return TrainConfig(**raw), gate


def window_digest(ids: Any) -> str:
    """Which referrals a window holds (a digest of their ids, not the ids)."""
    return hashlib.sha256("\n".join(map(str, ids)).encode()).hexdigest()


def _prefixed(progress: Progress, prefix: str) -> Progress:
    return lambda msg: progress(prefix + msg)


def matured(ds: Dataset) -> Maturity:
    """Where ``ds``'s labels of every class have had time to arrive (``training.splits``)."""
    return maturity(ds.feats.meta["received_at"], ds.decided_at, ds.y_urgency)


def split_of(ds: Dataset, fractions: tuple[float, float, float]) -> Split:
    """The time split of training and of the gate: calibration and test windows end where
    the labels are mature."""
    return time_split(ds.feats.meta["received_at"], ds.decided_at, fractions, mature=matured(ds))


def backtest(ds: Dataset, cfg: TrainConfig, progress: Progress) -> dict[str, Any]:
    """Rolling-origin backtests (and the audition of ``cfg.audition``): see
    :mod:`training.backtests`; the report keeps the product's rows as ``backtests``."""
    return backtests_run(ds, cfg, cfg.backtests, cfg.audition, progress)


def _params(cfg: TrainConfig, gate: GateConfig) -> dict[str, Any]:
    out = {k: v for k, v in cfg.model_dump().items() if k != "params"}
    out.update({f"lgb_{k}": v for k, v in cfg.params.items()})
    out.update({f"gate_{k}": v for k, v in gate.model_dump().items()})
    return out


def _tags(ds: Dataset, split: Split, path: Path, model: Any) -> dict[str, str]:
    ids = ds.feats.meta["referral_id"].to_numpy()
    tags = {
        "kind": "train",
        "data_name": path.name,
        "data_path": str(path.resolve()),
        "data_digest": ds.digest,
        "git_commit": model.manifest.git_commit or "unknown",
    }
    if model.manifest.git_commit:
        tags["mlflow.source.git.commit"] = model.manifest.git_commit
    for name in ("train", "calibrate", "test"):
        tags[f"digest_{name}"] = window_digest(ids[getattr(split, name)])
    return tags


def _version_tags(ds: Dataset, path: Path, cfg: TrainConfig) -> dict[str, str]:
    """What ``triage promote`` needs to find the data the version was judged on."""
    return {
        "data_path": str(path.resolve()),
        "data_digest": ds.digest,
        "fractions": json.dumps(list(cfg.fractions)),
    }


def train(
    settings: Settings,
    data: Path | None = None,
    cfg: TrainConfig | None = None,
    gate: GateConfig | None = None,
    extra_labels: Sequence[Labelled] = (),
    progress: Progress = say,
    dataset: Dataset | None = None,
    engine: str = "local",
) -> TrainResult:
    """Train, evaluate, register (alias ``challenger``) and run the gate; see the module doc.
    ``dataset``: ``data``'s dataset already built (``engine`` says how: ``dask``,
    :mod:`training.distributed_train`); everything after it is the same code."""
    cfg, gate = cfg or TrainConfig(), gate or GateConfig()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 2)
        clock = now

    path = data if data is not None else embedded_data(settings, progress=progress)
    ps = Pseudonymiser(settings.resolve_pseudonym_key())
    ds = dataset or load_cached(path, ps, settings.data_dir / "cache", extra_labels, progress)
    ds.referrals = []  # the documents are no longer needed; free the memory for training
    lap("data")
    split = split_of(ds, cfg.fractions)
    progress(f"time split: {json.dumps(split.describe()['rows'])}")
    if split.maturity is not None and split.maturity.rows_left_out:
        progress(f"left out {split.maturity.rows_left_out:,} recent rows with immature labels")
    bt_block = backtest(ds, cfg, progress) if cfg.backtests else None
    backtests = legacy_rows(bt_block) if bt_block else []
    lap("backtests")
    model, _ = fit(ds, split, cfg, progress, engine=engine)
    model.version = "candidate"  # until registered
    lap("fit")
    progress("evaluating on the test window (metrics, queue simulation, group audit)")
    judged = split.test & independent(ds)  # never labels made with a model on screen
    report = evaluate(
        model, ds, judged, meta={"data_name": path.name}, label_weights=label_weights(ds, cfg)
    )
    report["backtests"] = backtests
    if bt_block:
        report["backtest"] = bt_block
    report["labels"] = label_summary(ds, split.test, judged)
    report["maturity"] = split.maturity.describe() if split.maturity else None
    champion, why = load_champion(settings)
    decision = assess(
        model, report, champion, ds, judged, gate, no_champion_reason=why, progress=progress
    )
    decision.labels = {**report["labels"], "maturity": report["maturity"]}
    lap("evaluate")
    progress("writing the artefact (card, reference) and logging to MLflow")
    figures = headline(report)
    model.manifest = model.manifest.model_copy(update={"metrics": figures})
    test = window(ds, split.test)
    with tempfile.TemporaryDirectory(prefix="triage-train-") as tmp:
        model_dir = model.save(Path(tmp) / "model")
        write_reference(model_dir / "reference.parquet", *reference_frame(model, test))
        sample = test.X.sample(min(SHAP_SAMPLE, len(test)), random_state=0)
        data_info = {"name": path.name, "digest": ds.digest, "rows": len(ds)}
        with registry.run(settings, "train", tags=_tags(ds, split, path, model)) as mlflow:
            run_id = mlflow.run_id
            report["meta"]["training_run"] = run_id
            (model_dir / "evaluation.json").write_text(json.dumps(report, indent=1))
            write_card(model_dir, model, report, sample, data_info, decision, backtests, run_id)
            mlflow.log_params(_params(cfg, gate))
            mlflow.log_params(
                {
                    "policy_version": model.policy.policy_version,
                    "policy_digest": model.policy.policy_digest,
                }
            )
            mlflow.log_metrics(figures)
            for row in backtests:
                mlflow.log_metrics(
                    {f"backtest_{k}": float(v) for k, v in row.items() if isinstance(v, float)},
                    step=row["fold"],
                )
            if bt_block:
                mlflow.log_metrics(backtest_metrics(bt_block))
            for name in ("evaluation.json", "card.md", "card.html"):
                mlflow.log_artifact(str(model_dir / name), artifact_path="report")
            version = registry.register(
                settings, mlflow, model_dir, tags=_version_tags(ds, path, cfg)
            )
            lap("log")
            mlflow.log_metrics({f"time_{k}_s": v for k, v in timings.items()})
    registry.set_alias(settings, "challenger", version)
    model.version = decision.challenger_version = version
    record(settings, decision)
    write_events(history_file(settings.home), ds.feats.events)
    lap("gate")
    return TrainResult(
        version, run_id, decision, report, backtests, path, len(extra_labels), timings
    )


def gate_data_mask(
    ds: Dataset, fractions: tuple[float, float, float]
) -> tuple[np.ndarray, dict[str, Any]]:
    """The rows the gate judges on: the most recent window of ``ds`` as the training split
    would cut it, without the labels made with a model's output on screen; and the
    ``labels`` block saying which labels that left, and how many of each provenance,
    with the window's ``maturity`` (rows left out because their labels were not in yet)."""
    split = split_of(ds, fractions)
    judged = split.test & independent(ds)
    labels = label_summary(ds, split.test, judged)
    labels["maturity"] = split.maturity.describe() if split.maturity else None
    return judged, labels
