"""The one place that sets the process environment the project's libraries read at load.

* ``OMP_WAIT_POLICY=PASSIVE``: LightGBM's OpenMP threads otherwise spin while they wait
  for each other; on a busy machine (a shared 2-core host) a descheduled thread makes the
  others burn their time slices, and a fit with two threads took 5-9x longer than with
  one (``training/fit.py``). OpenMP reads it once, when LightGBM loads, so it must be set
  before anything imports ``lightgbm``.
* ``DO_NOT_TRACK``, ``MLFLOW_DISABLE_TELEMETRY``, ``BENTOML_DO_NOT_TRACK``: no telemetry.

Called first by the command line's entry point (:func:`triage.cli.main`), by the test
suite's ``conftest.py`` and by the benchmark entry points; values already set win.
"""

from __future__ import annotations

import os

DEFAULTS: dict[str, str] = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "true",
}


def set_process_env() -> None:
    """Set :data:`DEFAULTS` where the environment does not say otherwise."""
    for var, value in DEFAULTS.items():
        os.environ.setdefault(var, value)
