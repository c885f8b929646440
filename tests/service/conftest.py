"""Real servers for the service tests: ``triage serve`` as a subprocess on a free port.

Servers are expensive (BentoML, pandas, LightGBM and MLflow load in each), so there are
few: one session-wide server on a copy of the ``trained`` home, shared by every module
that only adds to its store, and the degraded/restart module's own. Each server runs in
its own process group (BentoML forks a worker), so stopping or SIGKILLing it ends exactly
the processes this test started. Output goes to files the log test greps.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from service_support import Server


def copy_home(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("store"))
    return dest


@pytest.fixture(scope="session")
def live(trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The shared server: a copy of the trained home (model ``champion``), tokens per role."""
    settings, _model, _ds, _split = trained
    home = copy_home(settings.home, tmp_path_factory.mktemp("live") / "home")
    server = Server(home)
    server.make_tokens()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def raw_referrals(labelled_file: Path) -> list[dict[str, Any]]:
    """Referrals as a client sends them: raw fake identifiers, no labels."""
    out = []
    with labelled_file.open() as fh:
        for line, _ in zip(fh, range(400), strict=False):
            doc = json.loads(line)
            doc.pop("outcome", None)
            doc.pop("_oracle", None)
            out.append(doc)
    return out
