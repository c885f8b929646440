"""Synthetic referral stream: metadata-only, fake identifiers, labelled by a known oracle.

``generate(n, seed, start, days, scenario, labels)`` returns JSON-ready referral dicts that
validate against the contract; with ``labels`` each also carries ``outcome`` (the sampled
decision) and ``_oracle`` (the true probabilities it was sampled from). ``iter_generate``
streams the same documents without holding them all. ``default_history`` is the
multi-year training stream with the real timeline of drift. The story is documented in
``docs/synthetic-data.md``; nothing runs at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from training.synthetic.scenarios import BASELINE_PER_YEAR, SCENARIOS, default_n

HISTORY_START = date(2019, 1, 1)
HISTORY_YEARS = 7  # 2019-2025: every drift in domain.md §4
# "embedded": additive truth over observed fields; "hard": latent truth, noisy proxies,
# missing not at random, drift at a change date, reviewer label noise (synthetic-data.md)
WORLDS = ("embedded", "hard")


def simulate(  # type: ignore[no-untyped-def]
    n: int, seed: int, start: date, days: int, scenario: str = "baseline", world: str = "embedded"
):
    """The stream as arrays (latent, observables, oracle) - for tests and diagnostics."""
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}; known: {', '.join(WORLDS)}")
    if world == "hard":
        from training.synthetic.hard import simulate_hard

        return simulate_hard(n, seed, start, days, scenario)
    from training.synthetic.stream import simulate as _simulate

    return _simulate(n, seed, start, days, scenario)


def iter_generate(
    n: int | None,
    seed: int,
    start: date,
    days: int,
    scenario: str = "baseline",
    labels: bool = False,
    progress: Callable[[int], None] | None = None,
    world: str = "embedded",
) -> Iterator[dict[str, Any]]:
    """Yield referral dicts sorted by ``received_at``; ``n=None`` derives it from the volume.

    ``progress`` (e.g. ``tqdm.update``) is called with the number of documents built.
    """
    from training.synthetic.documents import documents

    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    if n is None:
        n = default_n(SCENARIOS[scenario], start, days)
    sim = simulate(n, seed, start, days, scenario, world)
    yield from documents(sim, labels=labels, progress=progress)


def generate(
    n: int,
    seed: int,
    start: date,
    days: int,
    scenario: str = "baseline",
    labels: bool = False,
    world: str = "embedded",
) -> list[dict[str, Any]]:
    """``n`` synthetic referrals received over ``days`` days from ``start``, as dicts."""
    return list(iter_generate(n, seed, start, days, scenario, labels, world=world))


def history_days(years: int = HISTORY_YEARS, start: date = HISTORY_START) -> int:
    end = date(start.year + years, start.month, start.day)
    return (end - start).days


def default_history(
    seed: int,
    years: int = HISTORY_YEARS,
    start: date = HISTORY_START,
    n: int | None = None,
    labels: bool = True,
) -> list[dict[str, Any]]:
    """The labelled multi-year training stream (scenario ``history``: real drift by date).

    ``n`` defaults to ~100k a year times the timeline's volume (about 740k for 2019-2025);
    pass a smaller ``n`` for quick experiments - the timeline is kept, only thinner.
    """
    return list(iter_generate(n, seed, start, history_days(years, start), "history", labels))


__all__ = [
    "BASELINE_PER_YEAR",
    "HISTORY_START",
    "HISTORY_YEARS",
    "SCENARIOS",
    "WORLDS",
    "default_history",
    "default_n",
    "generate",
    "history_days",
    "iter_generate",
    "simulate",
]
