"""``run_monitor``: gather the two windows, evaluate drift, write the report files.

The reference is the model's ``reference.parquet`` (written by ``triage train`` into the
artefact) unless a file is given. A referral file is featurised against the training
history the service starts from (``history/events.parquet``), since features such as a
platform's recent volume depend on it, and scored with the model; the current window is the store's inference log over
the last ``window_days`` (or since ``since``) unless a file is given; reviewers' override
rates by tier are checked when the window is the store's (a file has no reviewers). Files land in
``settings.reports_dir / "drift"``: ``drift-<UTC stamp>.json`` and ``.html`` (our
summary), ``drift-<stamp>-evidently.html`` (Evidently's per-column report), and
``latest.json`` (what ``GET /drift`` serves), replaced atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from features.config import Settings
from features.history import History
from features.linking import EVENT_COLUMNS
from features.pseudonyms import Pseudonymiser
from reports import drift_frames, html, templates
from reports.drift import DriftSummary, evaluate
from reports.drift_frames import BadInput, Window

REFERENCE_FILE = "reference.parquet"
OVERRIDE_WINDOWS = 12  # windows of override history shown (and pooled as the baseline)
SECTIONS = (
    ("Data drift (features)", "data"),
    ("Missingness drift (share of values not reported)", "missingness"),
    ("Prediction drift (probabilities and tier mix)", "prediction"),
    ("Volume by source (referrals per day)", "volume"),
    ("Platform mix", "platform_mix"),
    ("Unseen platforms", "unseen_platforms"),
    ("Reviewer overrides by tier", "overrides"),
    ("History features (informational, never flagged)", "history"),
)


@dataclass
class MonitorResult:
    summary: DriftSummary
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """0 no drift, 1 drift (2, bad input, is the caller's to return)."""
        return 1 if self.summary.drift_detected else 0


def existing_store_url(settings: Settings) -> str | None:
    """The store's URL if it exists; a missing SQLite file is not created here."""
    url = settings.store_url()
    if url.startswith("sqlite:///"):
        return url if Path(url.removeprefix("sqlite:///")).exists() else None
    return url


class _Models:
    """The model, loaded only if a file has to be scored (or a reference looked up)."""

    def __init__(self, settings: Settings, ref: str) -> None:
        self.settings, self.ref = settings, ref
        self._model: Any = None

    def get(self) -> Any:
        if self._model is None:
            from models import registry

            try:
                self._model = registry.load(self.settings, self.ref)
            except registry.ModelNotFound:
                return None
        return self._model

    def reference_path(self) -> Path:
        from models import registry

        try:
            resolved = registry.resolve(self.settings, self.ref)
        except registry.ModelNotFound as e:
            raise BadInput(f"{e}; pass --reference FILE") from None
        path = registry.download(self.settings, resolved) / REFERENCE_FILE
        if not path.exists():
            raise BadInput(
                f"model version {resolved.version} has no {REFERENCE_FILE}; pass --reference FILE"
            )
        return path


def run_monitor(
    settings: Settings,
    *,
    reference: Path | None = None,
    current: Path | None = None,
    since: datetime | None = None,
    window_days: float = 7.0,
    model: str = "champion",
    now: datetime | None = None,
    out_dir: Path | None = None,
    pseudonymiser: Pseudonymiser | None = None,
) -> MonitorResult:
    """Compare the current window with the reference and write the report files.

    Raises :class:`~reports.drift_frames.BadInput` when a window cannot be built.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    models = _Models(settings, model)
    pseud = pseudonymiser or Pseudonymiser(settings.resolve_pseudonym_key())
    ref_path = reference or models.reference_path()
    ref_model = models.get() if ref_path.suffix != ".parquet" else None
    ref_win = drift_frames.from_file(ref_path, pseud, ref_model, f"reference {ref_path.name}")
    store_url = existing_store_url(settings)
    overrides: list[Any] = []
    if current is not None:
        cur_model = models.get() if current.suffix != ".parquet" else None
        history = training_history(settings) if current.suffix != ".parquet" else None
        cur_win = drift_frames.from_file(
            current, pseud, cur_model, f"current {current.name}", history
        )
    else:
        if store_url is None:
            raise BadInput("no store to read the inference log from; pass --current FILE")
        start = since or now - timedelta(days=window_days)
        cur_win = drift_frames.from_store(store_url, start, now)
        overrides = _override_rates(store_url, window_days, now)
    summary, run = evaluate(ref_win, cur_win, overrides, now=now, html=True)
    return write(summary, run, out_dir or settings.reports_dir / "drift", now, ref_win, cur_win)


def training_history(settings: Settings) -> History | None:
    """What the service starts from: the training data's linking events (written by
    ``triage train``), so a referral file is featurised as the service would have."""
    from features.history import history_file

    path = history_file(settings.home)
    if not path.exists():
        return None
    events = pd.read_parquet(path)
    if set(EVENT_COLUMNS) - set(events.columns):
        return None
    history = History()
    history.add_events(events[list(EVENT_COLUMNS)])
    return history


def _override_rates(store_url: str, window_days: float, now: datetime) -> list[Any]:
    from serving.store import Store

    window = timedelta(days=window_days)
    with Store(store_url) as store:
        return store.override_rates(window, since=now - OVERRIDE_WINDOWS * window)


def write(
    summary: DriftSummary, run: Any, out_dir: Path, now: datetime, ref: Window, cur: Window
) -> MonitorResult:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    paths = {
        "json": out_dir / f"drift-{stamp}.json",
        "html": out_dir / f"drift-{stamp}.html",
        "evidently": out_dir / f"drift-{stamp}-evidently.html",
    }
    if run.snapshot is not None:
        run.save_html(paths["evidently"])
    else:
        del paths["evidently"]
    summary.files = {k: p.name for k, p in paths.items()}
    paths["html"].write_text(render_summary_html(summary), encoding="utf-8")
    text = json.dumps(summary.model_dump(mode="json"), indent=2)
    paths["json"].write_text(text, encoding="utf-8")
    latest = out_dir / "latest.json"
    tmp = out_dir / f".latest-{os.getpid()}.json"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, latest)
    paths["latest"] = latest
    return MonitorResult(summary, paths)


def render_summary_html(summary: DriftSummary) -> str:
    by_signal: dict[str, list[Any]] = {}
    for c in summary.checks:
        by_signal.setdefault(c.signal, []).append(c)
    sections = []
    for title, sig in SECTIONS:
        rows = sorted(by_signal.get(sig, []), key=lambda c: (not c.flagged, c.p_value))
        sections.append((title, rows))
    return html.render(
        templates.DRIFT,
        title="Drift report",
        d=summary,
        sections=sections,
        evidently=summary.files.get("evidently"),
    )
