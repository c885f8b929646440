"""``triage policy set``: a new operating point without retraining, through the same gate.

The unit lead changes the caps (a new policy file, or new shares); the heads and their
calibration stay exactly as trained. The thresholds are refitted for the new caps on the
calibration window's scores the artefact keeps (``calibration_scores.npz``, by
:func:`training.fit.fit_tiers`, the one fitting path), the result is evaluated on the
same test window as any trained model, registered as a new version (alias
``challenger``) with its own card and report, and judged by the promotion gate. Only a
promoted version moves ``champion``: the service keeps the old point until then.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from features.config import Settings
from models import registry
from models.operating_policy import OperatingPolicy
from models.policy import FIT_WITHIN_DAYS
from models.triage_model import TriageModel
from training.card import write_card
from training.evaluate import evaluate, headline
from training.fit import fit_tiers
from training.promote import Decision, GateConfig, assess, load_champion, record
from training.report_types import EvaluationReport


class NoCalibrationScores(RuntimeError):
    """The artefact predates kept calibration scores: retrain to change its policy."""


def with_policy(
    base: TriageModel, operating: OperatingPolicy, within_days: float | None = None
) -> TriageModel:
    """``base`` with thresholds refitted for ``operating``; heads and calibration shared.
    ``within_days``: share of calibration days the caps must hold on (default: what the
    base model was trained with)."""
    if base.calibration_scores is None:
        raise NoCalibrationScores(
            f"model v{base.version}: its artefact keeps no calibration scores "
            "(trained before policies could change); retrain it with `triage train`"
        )
    recorded = base.manifest.training.get("config", {}).get("within_days", FIT_WITHIN_DAYS)
    within = float(recorded if within_days is None else within_days)
    policy = fit_tiers(base.calibration_scores, operating, within)
    config = {**base.manifest.training.get("config", {}), "within_days": within}
    training = {
        **base.manifest.training,
        "config": config,
        "policy_refit_from": str(base.version),
    }
    manifest = base.manifest.model_copy(update={"training": training, "metrics": {}})
    return TriageModel(
        base.boosters,
        base.calibrators,
        policy,
        manifest,
        "candidate",
        base.num_threads,
        operating,
        base.calibration_scores,
        sets=base.sets,  # the urgency sets do not depend on the tier caps
    )


def set_policy(
    settings: Settings,
    base: TriageModel,
    operating: OperatingPolicy,
    ds: Any,
    mask: Any,
    data_tags: dict[str, str],
    gate_cfg: GateConfig | None = None,
    progress: Callable[[str], None] = lambda _m: None,
    within_days: float | None = None,
) -> tuple[str, Decision, EvaluationReport]:
    """Refit, evaluate, register (``challenger``) and gate; returns the new version, the
    decision and the evaluation report."""
    model = with_policy(base, operating, within_days)
    progress(
        f"policy {operating.version}: P(immediate) >= {model.policy.t_immediate:.4f}, "
        f"P(immediate)+P(high) >= {model.policy.t_high:.4f} (was "
        f"{base.policy.t_immediate:.4f} / {base.policy.t_high:.4f})"
    )
    progress("evaluating on the test window")
    report = evaluate(model, ds, mask, meta={"policy_refit_from": str(base.version)})
    champion, why = load_champion(settings)
    decision = assess(model, report, champion, ds, mask, gate_cfg, no_champion_reason=why)
    model.manifest = model.manifest.model_copy(update={"metrics": headline(report)})
    tags = {"kind": "policy", "policy_version": operating.version, "base": str(base.version)}
    with tempfile.TemporaryDirectory(prefix="triage-policy-") as tmp:
        model_dir = model.save(Path(tmp) / "model")
        with registry.run(settings, "policy", tags=tags) as mlflow:
            run_id = mlflow.run_id
            report["meta"]["training_run"] = run_id
            (model_dir / "evaluation.json").write_text(json.dumps(report, indent=1))
            write_card(
                model_dir,
                model,
                report,
                ds.feats.X.iloc[:0] if len(ds) == 0 else ds.feats.X.iloc[-200:],
                {"name": data_tags.get("data_path", "?"), "digest": ds.digest, "rows": len(ds)},
                decision,
                (),
                run_id,
            )
            mlflow.log_params(
                {
                    "policy_version": operating.version,
                    "policy_digest": operating.digest(),
                    "immediate_share": operating.immediate_share,
                    "high_share": operating.high_share,
                    "base_version": str(base.version),
                }
            )
            mlflow.log_metrics(headline(report))
            version = registry.register(settings, mlflow, model_dir, tags=data_tags)
    registry.set_alias(settings, "challenger", version)
    model.version = decision.challenger_version = version
    record(settings, decision)
    return version, decision, report
