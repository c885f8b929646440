"""The one module that talks to MLflow: log a trained model, register it, move aliases,
and resolve an alias to a concrete version on disk.

It is the only importer of ``mlflow`` (tests/unit/test_registry.py checks the whole tree):
callers get a typed :class:`Run` to log to, never the module, so what the project logs
is the handful of calls below and a change of MLflow's API is a change here.

Models are addressed by alias (``champion``, ``challenger``) or version number, never by
"latest". The artefact is our own directory (boosters + manifest, see
:class:`models.triage_model.TriageModel`) logged as run artefacts and registered as a
model version whose source is that directory: no pyfunc wrapper (it rejects categorical
columns) and no pickles. The local default is a SQLite tracking store under ``var/`` with
artefacts beside it; any tracking URI works by configuration.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.config import Settings

EXPERIMENT = "referral-triage"
ALIASES = ("champion", "challenger")


class ModelNotFound(LookupError):
    """No model answers to that alias or version."""


def _mlflow(settings: Settings):  # type: ignore[no-untyped-def]
    for var in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        os.environ.setdefault(var, "true")
    import logging

    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = settings.tracking_uri()
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow


def experiment_id(settings: Settings) -> str:
    mlflow = _mlflow(settings)
    exp = mlflow.get_experiment_by_name(EXPERIMENT)
    if exp is not None:
        return str(exp.experiment_id)
    location = None
    if settings.tracking_uri().startswith("sqlite:///"):
        art = (settings.home / "mlflow" / "artifacts").resolve()
        art.mkdir(parents=True, exist_ok=True)
        location = art.as_uri()
    return str(mlflow.create_experiment(EXPERIMENT, artifact_location=location))


class Run:
    """The active MLflow run of :func:`run`: what the project logs, typed."""

    def __init__(self, mlflow: Any, run_id: str, artifact_uri: str) -> None:
        self._mlflow = mlflow
        self.run_id = run_id
        self.artifact_uri = artifact_uri

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._mlflow.log_params(dict(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._mlflow.log_metrics(dict(metrics), step=step)

    def log_artifact(self, path: Path | str, artifact_path: str | None = None) -> None:
        self._mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def log_artifacts(self, folder: Path | str, artifact_path: str | None = None) -> None:
        self._mlflow.log_artifacts(str(folder), artifact_path=artifact_path)

    def log_dict(self, data: dict[str, Any], artifact_file: str) -> None:
        self._mlflow.log_dict(data, artifact_file)


@contextlib.contextmanager
def run(settings: Settings, name: str, tags: dict[str, str] | None = None) -> Iterator[Run]:
    """An MLflow run in our experiment; yields the :class:`Run` to log to."""
    mlflow = _mlflow(settings)
    with mlflow.start_run(
        experiment_id=experiment_id(settings), run_name=name, tags=tags
    ) as active:
        yield Run(mlflow, str(active.info.run_id), str(active.info.artifact_uri))


def register(
    settings: Settings, run: Run, model_dir: Path, tags: dict[str, str] | None = None
) -> str:
    """Log ``model_dir`` as the run's ``model`` artefact and register it; returns the new
    version number (as a string)."""
    from mlflow import MlflowClient

    run.log_artifacts(model_dir, artifact_path="model")
    client = MlflowClient()
    with contextlib.suppress(Exception):
        client.create_registered_model(settings.model_name)
    mv = client.create_model_version(
        settings.model_name, source=f"{run.artifact_uri}/model", run_id=run.run_id, tags=tags or {}
    )
    return str(mv.version)


@dataclass(frozen=True)
class LoggedRun:
    """A finished run as logged: its id, tags and latest metrics."""

    run_id: str
    tags: dict[str, str]
    metrics: dict[str, float]


def runs_named(settings: Settings, name: str) -> list[LoggedRun]:
    """Every run of our experiment called ``name``, oldest first."""
    from mlflow import MlflowClient

    exp = experiment_id(settings)  # also points MLflow at this home's store
    found = MlflowClient(tracking_uri=settings.tracking_uri()).search_runs(
        [exp], filter_string=f"attributes.run_name = '{name}'", order_by=["start_time ASC"]
    )
    return [LoggedRun(str(r.info.run_id), dict(r.data.tags), dict(r.data.metrics)) for r in found]


def run_artifact(settings: Settings, run_id: str, artifact_path: str) -> Path:
    """A local copy of one artefact a run logged."""
    mlflow = _mlflow(settings)
    return Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=artifact_path, tracking_uri=settings.tracking_uri()
        )
    )


@dataclass(frozen=True)
class Resolved:
    version: str
    run_id: str | None
    source: str
    aliases: tuple[str, ...]
    tags: dict[str, str]


def resolve(settings: Settings, ref: str = "champion") -> Resolved:
    """An alias or a version number -> the concrete registered version."""
    _mlflow(settings)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        if ref.isdigit():
            mv = client.get_model_version(settings.model_name, ref)
        else:
            mv = client.get_model_version_by_alias(settings.model_name, ref)
    except MlflowException:
        raise ModelNotFound(f"model: no version of {settings.model_name!r} for {ref!r}") from None
    return Resolved(
        str(mv.version), mv.run_id, str(mv.source), tuple(mv.aliases or ()), dict(mv.tags or {})
    )


def download(settings: Settings, resolved: Resolved) -> Path:
    """Local directory holding the version's artefact (cached per version under home/)."""
    mlflow = _mlflow(settings)
    dest = settings.models_dir / f"v{resolved.version}"
    if (dest / "manifest.json").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".dl-"))
    got = Path(mlflow.artifacts.download_artifacts(artifact_uri=resolved.source, dst_path=str(tmp)))
    got.rename(dest) if not dest.exists() else None
    return dest


def set_alias(settings: Settings, alias: str, version: str) -> None:
    _mlflow(settings)
    from mlflow import MlflowClient

    MlflowClient().set_registered_model_alias(settings.model_name, alias, version)


def delete_alias(settings: Settings, alias: str) -> None:
    _mlflow(settings)
    from mlflow import MlflowClient

    with contextlib.suppress(Exception):
        MlflowClient().delete_registered_model_alias(settings.model_name, alias)


def load(settings: Settings, ref: str = "champion", num_threads: int = 1):  # type: ignore[no-untyped-def]
    """Resolve ``ref`` and load the ``TriageModel``; its ``version`` is the concrete one."""
    from models.triage_model import TriageModel

    r = resolve(settings, ref)
    return TriageModel.load(download(settings, r), version=r.version, num_threads=num_threads)
