"""Small helpers every command shares: settings, the pseudonymiser, JSON Lines output."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from features.config import Settings
from features.pseudonyms import Pseudonymiser


def settings() -> Settings:
    return Settings()


def pseudonymiser(s: Settings | None = None) -> Pseudonymiser:
    return Pseudonymiser((s or settings()).resolve_pseudonym_key())


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":"), default=str) + "\n")
            n += 1
    return n


def report_rejected(rejected: list[Any], out: Path | None = None) -> None:
    """Print every rejected document (id + field path + reason) to stderr, and to ``out``."""
    for r in rejected:
        for e in r.problems:
            print(f"rejected #{r.index} ({r.referral_id or '?'}): {e}", file=sys.stderr)
    if out is not None and rejected:
        write_jsonl(out, (r.as_dict() for r in rejected))
