"""What a running service holds, and how it comes up.

:func:`start` migrates the store, resolves ``champion`` to a concrete version and loads it
(or, if no model can be loaded, comes up degraded: the safety rules answer and say so),
and loads the linking history from the store (seeding it once from the training events
file, ``features.history.history_file``, and the referrals stored before it). The
service class, the middleware and the routes all reach the one :class:`Runtime` through
a :class:`RuntimeRef`, which is empty until the service starts: importing this module
loads nothing and creates nothing, and stays light (no pandas, no LightGBM) because
BentoML's supervisor process imports the service too, only to read its configuration.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from features.config import Settings
from features.history import history_file
from features.pseudonyms import Pseudonymiser
from models import registry
from models.operating_policy import OperatingPolicy, load_policy
from serving import logs
from serving.metrics import Metrics
from serving.store import Store

if TYPE_CHECKING:
    from serving.scoring import Scorer

#: Where ``triage monitor`` leaves the latest drift report (under ``reports_dir``).
DRIFT_FILE = Path("drift") / "latest.json"


@dataclass
class Runtime:
    """The live state of one service worker."""

    settings: Settings
    store: Store
    scorer: Scorer
    metrics: Metrics
    model_dir: Path | None
    degraded_reason: str | None
    #: Tier targets for the queue's ageing; the packaged default policy file until the
    #: policy travels with the model.
    policy: OperatingPolicy = field(default_factory=load_policy)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def version(self) -> str:
        return self.scorer.version

    @property
    def degraded(self) -> bool:
        return self.scorer.degraded

    def close(self) -> None:
        self.store.close()

    def model_info(self) -> dict[str, Any]:
        """Version, metrics and card of the model being served (``GET /model``)."""
        model = self.scorer.model
        info: dict[str, Any] = {
            "version": self.version,
            "degraded": self.degraded,
            "degraded_reason": self.degraded_reason,
            "name": self.settings.model_name,
            "alias": "champion",
            "metrics": {},
            "card": None,
            "evaluation": None,
        }
        if model is None:
            return info
        m = model.manifest
        info.update(
            metrics=m.metrics,
            created_at=m.created_at,
            git_commit=m.git_commit,
            features=len(m.features),
            training=m.training,
            libraries=m.libraries,
        )
        if self.model_dir is not None:
            card = self.model_dir / "card.md"
            evaluation = self.model_dir / "evaluation.json"
            if card.is_file():
                info["card"] = card.read_text(encoding="utf-8")
            if evaluation.is_file():
                info["evaluation"] = json.loads(evaluation.read_text(encoding="utf-8"))
        return info

    def card_html(self) -> str | None:
        path = self.model_dir / "card.html" if self.model_dir is not None else None
        return path.read_text(encoding="utf-8") if path is not None and path.is_file() else None

    def drift_file(self) -> Path:
        return self.settings.reports_dir / DRIFT_FILE


class RuntimeRef:
    """A late-bound handle on the runtime, shared by the service, middleware and routes."""

    def __init__(self) -> None:
        self.current: Runtime | None = None

    def get(self) -> Runtime:
        if self.current is None:
            raise RuntimeError("service: not started")
        return self.current


CURRENT = RuntimeRef()


def load_model(settings: Settings) -> tuple[Any | None, Path | None, str | None]:
    """``(model, artefact dir, None)``, or ``(None, None, why)`` if no model can be used.

    An absent local registry is not created here (serving must not make an empty MLflow
    store as a side effect); any failure to resolve or load means degraded mode.
    """
    uri = settings.tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return None, None, "no model registry"
    from models.manifest import ModelIncompatible
    from models.triage_model import TriageModel

    try:
        resolved = registry.resolve(settings, "champion")
        path = registry.download(settings, resolved)
        model = TriageModel.load(path, version=resolved.version, num_threads=1)
    except registry.ModelNotFound:
        return None, None, "no champion model"
    except ModelIncompatible:
        return None, None, "champion incompatible with this build"
    except Exception as e:  # registry unreachable, artefact missing or corrupt, ...
        return None, None, f"model load failed ({type(e).__name__})"
    return model, path, None


def start(settings: Settings) -> Runtime:
    """Bring a worker up: store migrated, model loaded (or degraded), history rebuilt."""
    from serving.scoring import (  # pandas, LightGBM: the worker's only
        Scorer,
        load_cases,
        load_history,
    )

    logs.configure()
    store = Store(settings.store_url())
    store.migrate()
    model, model_dir, reason = load_model(settings)
    events_file = history_file(settings.home)
    history, seen, seq = load_history(events_file, store)
    scorer = Scorer(
        store,
        Pseudonymiser(settings.resolve_pseudonym_key()),
        model,
        history,
        seen,
        cases=load_cases(store),
        blind_share=settings.blind_review_share,
        events_file=events_file,
        seq=seq,
    )
    metrics = Metrics()
    metrics.serving(scorer.version, scorer.degraded)
    rt = Runtime(settings, store, scorer, metrics, model_dir, reason)
    logs.event(
        "service_started",
        logging.WARNING if rt.degraded else logging.INFO,
        mode="degraded" if rt.degraded else "model",
        model_version=rt.version,
        reason=reason,
        history_events=len(history),
        referrals=len(seen),
        store=store.backend,
    )
    return rt
