"""The embedded synthetic stream: the default data of ``triage train`` and ``evaluate``.

Three years (2022-01-01 to 2024-12-31) of the ``history`` scenario, seed 1, labelled
(about 330k referrals with the real timeline of drift). Generated once and cached under
``settings.data_dir`` in a file named by its parameters, so changing a parameter makes a
new file and never reuses a stale one. Written to a temporary name first, so an
interrupted generation never leaves a truncated file behind.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from features.config import Settings


class EmbeddedStream(BaseModel):
    model_config = ConfigDict(frozen=True)

    start: date = date(2022, 1, 1)
    end: date = date(2024, 12, 31)  # inclusive
    scenario: str = "history"
    seed: int = 1
    n: int | None = None  # None: the scenario's volume (~100k a year x the timeline)
    generator: int = 2  # bumped when the generator's output changes (2: arrival rhythm)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def file_name(self) -> str:
        n = "auto" if self.n is None else str(self.n)
        return (
            f"{self.scenario}-{self.start}-{self.end}-seed{self.seed}-n{n}"
            f"-g{self.generator}-labelled.jsonl"
        )


DEFAULT = EmbeddedStream()


def embedded_data(
    settings: Settings,
    stream: EmbeddedStream = DEFAULT,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Path of the cached stream, generating it first if needed (progress bar on stderr)."""
    path = settings.data_dir / stream.file_name()
    if path.exists():
        return path
    from tqdm import tqdm

    from training.synthetic import iter_generate
    from training.synthetic.scenarios import SCENARIOS, default_n

    n = stream.n or default_n(SCENARIOS[stream.scenario], stream.start, stream.days)
    if progress is not None:
        progress(f"generating the embedded synthetic stream: {n:,} referrals -> {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with (
        tqdm(
            total=n, unit="ref", desc="generate", file=sys.stderr, disable=progress is None
        ) as bar,
        tmp.open("w", encoding="utf-8") as fh,
    ):
        docs = iter_generate(
            n,
            stream.seed,
            stream.start,
            stream.days,
            stream.scenario,
            labels=True,
            progress=bar.update,
        )
        for doc in docs:
            fh.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
    tmp.rename(path)
    return path
