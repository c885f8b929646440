"""The one way a test may skip: with a reason a new user can act on, and never in CI.

``CI`` set to anything but empty/0/false/no means "this run must prove everything": there a
missing prerequisite fails the test instead (``tests/conftest.py`` also turns any other
skip into a failure under CI, so no silent skip can hide there).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def unavailable(reason: str) -> NoReturn:
    """Skip (a developer's machine) or fail (CI) because ``reason`` says what is missing."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: this would have been a skip)", pytrace=False)
    pytest.skip(reason)
