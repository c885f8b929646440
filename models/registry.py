"""The one module that talks to MLflow: log a trained model, register it, move aliases,
and resolve an alias to a concrete version on disk.

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


@contextlib.contextmanager
def run(settings: Settings, name: str, tags: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """An MLflow run in our experiment; yields the ``mlflow`` module for logging."""
    mlflow = _mlflow(settings)
    with mlflow.start_run(experiment_id=experiment_id(settings), run_name=name, tags=tags):
        yield mlflow


def register(
    settings: Settings, mlflow: Any, model_dir: Path, tags: dict[str, str] | None = None
) -> str:
    """Log ``model_dir`` as the active run's ``model`` artefact and register it; returns
    the new version number (as a string)."""
    from mlflow import MlflowClient

    mlflow.log_artifacts(str(model_dir), artifact_path="model")
    run = mlflow.active_run()
    source = f"{run.info.artifact_uri}/model"
    client = MlflowClient()
    with contextlib.suppress(Exception):
        client.create_registered_model(settings.model_name)
    mv = client.create_model_version(
        settings.model_name, source=source, run_id=run.info.run_id, tags=tags or {}
    )
    return str(mv.version)


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
