"""Shared fixtures. Tests never touch the developer's var/: each session gets its own home."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

from features.config import Settings  # noqa: E402
from features.pseudonyms import Pseudonymiser  # noqa: E402


@pytest.fixture(scope="session")
def triage_home(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("triage_home")


@pytest.fixture(scope="session")
def settings(triage_home) -> Settings:
    return Settings(home=triage_home, pseudonym_key="test-key-0123456789abcdef")


@pytest.fixture(scope="session")
def pseudonymiser(settings: Settings) -> Pseudonymiser:
    return Pseudonymiser(settings.resolve_pseudonym_key())
