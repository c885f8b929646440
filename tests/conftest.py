"""Shared fixtures. Tests never touch the developer's var/: each session gets its own home."""

from __future__ import annotations

import pytest

from features.process_env import set_process_env

set_process_env()  # OMP_WAIT_POLICY (LightGBM on a busy host) and no telemetry

from skipping import in_ci  # noqa: E402  (tests/ is on sys.path: rootdir conftest)

from features.config import Settings  # noqa: E402
from features.pseudonyms import Pseudonymiser  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI nothing skips: a skip from anywhere (a plugin, a marker, a library's
    importorskip) is reported as a failure with its reason."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and in_ci() and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which must run everything: {reason}"


@pytest.fixture(scope="session")
def triage_home(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("triage_home")


@pytest.fixture(scope="session")
def settings(triage_home) -> Settings:
    return Settings(home=triage_home, pseudonym_key="test-key-0123456789abcdef")


@pytest.fixture(scope="session")
def pseudonymiser(settings: Settings) -> Pseudonymiser:
    return Pseudonymiser(settings.resolve_pseudonym_key())


# -- one small trained model for the whole session ---------------------------------------
# Synthetic data sized for a 2-core machine: big enough that every class is present in
# every time window, small enough that the session fixture takes well under a minute.
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

SMALL_N, SMALL_DAYS, SMALL_SEED = 24_000, 240, 11


@pytest.fixture(scope="session")
def labelled_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labelled synthetic stream (JSON Lines, raw fake identifiers, with ``_oracle``)."""
    from training.synthetic import generate
    from triage.common import write_jsonl

    path = tmp_path_factory.mktemp("data") / "labelled.jsonl"
    write_jsonl(path, generate(SMALL_N, SMALL_SEED, date(2023, 1, 1), SMALL_DAYS, labels=True))
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, labelled_file: Path):
    """A home with a real MLflow store holding one registered model aliased ``champion``.

    Returns ``(settings, model, dataset, split)``.
    """
    from models import registry
    from training.data import load_labelled
    from training.fit import TrainConfig, fit
    from training.splits import time_split

    home = tmp_path_factory.mktemp("trained_home")
    s = Settings(home=home, pseudonym_key="test-key-0123456789abcdef")
    ds = load_labelled(labelled_file, Pseudonymiser(s.resolve_pseudonym_key()))
    split = time_split(ds.feats.meta["received_at"], ds.decided_at)
    model, _ = fit(ds, split, TrainConfig(rounds=200, backtests=0), progress=lambda _m: None)
    with registry.run(s, "test-fixture") as mlflow:
        version = registry.register(s, mlflow, model.save(home / "staging" / "model"))
    registry.set_alias(s, "champion", version)
    model.version = version
    return s, model, ds, split
