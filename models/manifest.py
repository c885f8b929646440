"""What a saved model is: the manifest written beside the boosters and checked on load."""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import platform
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from features.catalogue import CATALOGUE, FEATURES, catalogue_digest

FORMAT = "referral-triage-model/1"


class ModelIncompatible(RuntimeError):
    """The artefact was built for another feature set or format: refuse to score with it."""


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("lightgbm", "numpy", "pandas", "scikit-learn", "scipy", "pydantic"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[name] = md.version(name)
    return out


def git_commit(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=cwd or Path(__file__).resolve().parent,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


class Manifest(BaseModel):
    format: str = FORMAT
    features: list[str] = Field(default_factory=lambda: list(FEATURES))
    categories: dict[str, list[str]] = Field(
        default_factory=lambda: {f.name: list(f.levels) for f in CATALOGUE if f.levels}
    )
    catalogue_digest: str = Field(default_factory=catalogue_digest)
    libraries: dict[str, str] = Field(default_factory=library_versions)
    git_commit: str | None = None
    created_at: str
    training: dict[str, Any] = Field(default_factory=dict)
    calibration: dict[str, Any] = Field(default_factory=dict)
    policy: dict[str, Any] = Field(default_factory=dict)
    #: the urgency prediction set (``models.conformal.UrgencySets.as_dict``); empty in
    #: artefacts saved before it existed
    conformal: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)

    def check_compatible(self) -> None:
        if self.format != FORMAT:
            raise ModelIncompatible(f"format: artefact is {self.format!r}, expected {FORMAT!r}")
        if self.features != list(FEATURES):
            missing = sorted(set(FEATURES) - set(self.features))
            extra = sorted(set(self.features) - set(FEATURES))
            raise ModelIncompatible(
                f"features: the model was built for another feature set "
                f"(missing here: {missing[:5]}, unknown here: {extra[:5]}, or another order)"
            )
        if self.catalogue_digest != catalogue_digest():
            raise ModelIncompatible("features: category levels or kinds differ from this build")
