"""``TriageModel``: the one object the service, batch scoring and evaluation all use.

It holds both heads, their calibration, the tier policy and the manifest, and turns a
feature frame into contract §4 scores: calibrated probabilities, tier (policy, then the
safety floor), priority, top reasons and the rules that fired. Every answer is advisory
and carries ``needs_confirmation: true``.

The operating policy travels with the model: the artefact holds a copy of the policy file
(``operating_policy.toml``), the manifest its version and digest beside the fitted
thresholds, and every Score its ``policy_version``. The calibration window's scores (no
ids: probabilities, floor ranks, days) are kept as ``calibration_scores.npz`` so
``triage policy set`` can refit the thresholds for new caps without retraining the heads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES, Reason, Score
from features.pipeline import Features
from features.tiers import TIER_BY_RANK, class_of_rank
from models import safety, treeshap
from models.calibration import VectorScaling
from models.conformal import UrgencySets, set_lists
from models.explain import explain_rows, feature_matrix
from models.manifest import Manifest
from models.operating_policy import OperatingPolicy, load_policy
from models.policy import TierPolicy
from models.priority import priority

HEADS = ("urgency", "viability")
THREADS_FROM = 2_000  # rows; below this more threads cost more than they save
CLASSES = {"urgency": URGENCY_CLASSES, "viability": VIABILITY_CLASSES}
HIGH, ROUTINE = URGENCY_CLASSES.index("high"), URGENCY_CLASSES.index("routine")
POLICY_FILE = "operating_policy.toml"
CALIBRATION_SCORES = "calibration_scores.npz"


@dataclass
class Predictions:
    """Vectorised answer for a batch, before it becomes per-referral ``Score`` objects."""

    p_urgency: np.ndarray
    p_viability: np.ndarray
    model_rank: np.ndarray
    rank: np.ndarray
    fired: np.ndarray
    priority: np.ndarray
    band: np.ndarray | None = None
    #: (n, 3) booleans, ``URGENCY_CLASSES`` order: the urgency prediction set
    #: (``models.conformal``); None only for callers that built Predictions by hand.
    urgency_members: np.ndarray | None = None


class TriageModel:
    def __init__(
        self,
        boosters: dict[str, lgb.Booster],
        calibrators: dict[str, VectorScaling],
        policy: TierPolicy,
        manifest: Manifest,
        version: str = "unregistered",
        num_threads: int = 1,
        operating: OperatingPolicy | None = None,
        calibration_scores: dict[str, np.ndarray] | None = None,
        sets: UrgencySets | None = None,
    ) -> None:
        self.boosters = boosters
        self.calibrators = calibrators
        self.policy = policy
        self.sets = sets
        self.manifest = manifest
        self.version = version
        self.num_threads = num_threads
        self.operating = operating
        self.calibration_scores = calibration_scores
        self._forests: dict[str, treeshap.Forest] = {}

    # -- prediction -------------------------------------------------------------------
    def matrix(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """``X`` as the float64 matrix both heads predict on (built once per batch)."""
        if isinstance(X, np.ndarray):
            return X
        return feature_matrix(X, self.boosters["urgency"].pandas_categorical)

    def margins(self, X: pd.DataFrame | np.ndarray, head: str) -> np.ndarray:
        """Raw margins. Small batches predict on one thread: OpenMP's hand-off costs a
        one-row call 1-3 ms on a busy 2-core machine (20x the prediction itself)."""
        M = self.matrix(X)
        threads = self.num_threads if len(M) >= THREADS_FROM else 1
        return np.asarray(self.boosters[head].predict(M, raw_score=True, num_threads=threads))

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated (n, 3) probabilities for urgency and viability, contract class order."""
        M = self.matrix(X)
        return (
            self.calibrators["urgency"](self.margins(M, "urgency")),
            self.calibrators["viability"](self.margins(M, "viability")),
        )

    def predict(
        self, feats: Features, now: datetime | None = None, matrix: np.ndarray | None = None
    ) -> Predictions:
        X = feats.X
        pu, pv = self.predict_proba(matrix if matrix is not None else X)
        fired = safety.fired(X)
        model_rank = self.policy.ranks(pu)
        rank = np.maximum(model_rank, safety.floor_rank(fired))
        prio = priority(rank, pu, pv, days_left(feats, now))
        return Predictions(
            pu,
            pv,
            model_rank,
            rank,
            fired,
            prio,
            band=self.policy.bands(pu[:, 0]),
            urgency_members=self.urgency_members(pu),
        )

    def urgency_members(self, p_urgency: np.ndarray) -> np.ndarray:
        """The conformal urgency set as (n, 3) booleans; every class for a model saved
        before the sets existed (nothing can be ruled out without them)."""
        if self.sets is None:
            return np.ones(p_urgency.shape, dtype=bool)
        return self.sets.members(p_urgency)

    # -- explanations -----------------------------------------------------------------
    def forest(self, head: str) -> treeshap.Forest:
        """The head's trees prepared for TreeSHAP, built once per loaded model version."""
        if head not in self._forests:
            self._forests[head] = treeshap.prepare(self.boosters[head])
        return self._forests[head]

    def explain(
        self,
        feats: Features,
        pred: Predictions,
        k: int = 5,
        matrix: np.ndarray | None = None,
    ) -> list[list[Reason]]:
        """Top reasons per referral: the urgency class the policy chose, then the most
        likely viability class. Only those two classes are explained (not all six)."""
        M = matrix if matrix is not None else self.matrix(feats.X)
        u_cls = class_of_rank(pred.model_rank)
        shown = {
            "urgency": (u_cls, URGENCY_CLASSES, k),
            "viability": (pred.p_viability.argmax(axis=1), VIABILITY_CLASSES, max(1, k // 2)),
        }
        # routine is explained against high: its own margin is held at zero (see
        # models.explain.contrast_for), so alone it would have no reasons at all
        against = {"urgency": np.where(u_cls == ROUTINE, HIGH, -1)}
        forests = {h: self.forest(h) for h in shown}
        return explain_rows(forests, feats.X, M, shown, against)

    # -- answers ----------------------------------------------------------------------
    def score(
        self, feats: Features, *, now: datetime | None = None, explain: bool = True, top_k: int = 5
    ) -> list[Score]:
        M = self.matrix(feats.X)
        pred = self.predict(feats, now, matrix=M)
        reasons = (
            self.explain(feats, pred, top_k, matrix=M)
            if explain
            else [[] for _ in range(len(feats))]
        )
        return to_scores(
            feats,
            pred,
            reasons,
            self.version,
            degraded=False,
            now=now,
            policy_version=self.policy.policy_version,
        )

    # -- persistence ------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        for head, b in self.boosters.items():
            (path / f"{head}.txt").write_text(b.model_to_string())
        m = self.manifest.model_copy(
            update={
                "calibration": {h: c.as_dict() for h, c in self.calibrators.items()},
                "policy": self.policy.as_dict(),
                "conformal": self.sets.as_dict() if self.sets is not None else {},
            }
        )
        (path / "manifest.json").write_text(m.model_dump_json(indent=2))
        if self.operating is not None:
            (path / POLICY_FILE).write_text(self.operating.to_toml(), encoding="utf-8")
        if self.calibration_scores is not None:
            np.savez_compressed(path / CALIBRATION_SCORES, **self.calibration_scores)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(cls, path: Path, version: str = "unregistered", num_threads: int = 1) -> TriageModel:
        """Load an artefact; raises ``ModelIncompatible`` if it was built for other features."""
        manifest = Manifest.model_validate(json.loads((path / "manifest.json").read_text()))
        manifest.check_compatible()
        boosters = {h: lgb.Booster(model_str=(path / f"{h}.txt").read_text()) for h in HEADS}
        cal = {
            h: VectorScaling(tuple(c["w"]), tuple(c["b"])) for h, c in manifest.calibration.items()
        }
        operating = load_policy(path / POLICY_FILE) if (path / POLICY_FILE).exists() else None
        scores = None
        if (path / CALIBRATION_SCORES).exists():
            with np.load(path / CALIBRATION_SCORES) as z:
                scores = {k: z[k] for k in z.files}
        return cls(
            boosters,
            cal,
            TierPolicy.from_dict(manifest.policy),
            manifest,
            version,
            num_threads,
            operating,
            scores,
            sets=UrgencySets.from_dict(manifest.conformal) if manifest.conformal else None,
        )


def days_left(feats: Features, now: datetime | None) -> np.ndarray:
    """Days from ``now`` (default: each referral's receipt) to its retention deadline."""
    dl = feats.meta["retention_deadline"].to_numpy(dtype="M8[ns]").view(np.int64)
    if now is not None:
        ref: np.ndarray | int = pd.Timestamp(now).as_unit("ns").value
    else:
        ref = feats.meta["received_at"].to_numpy(dtype="M8[ns]").view(np.int64)
    days = (dl - ref) / 1e9 / 86400  # what Series.dt.total_seconds() / 86400 computes
    return np.where(dl == np.iinfo(np.int64).min, np.nan, days)


def to_scores(
    feats: Features,
    pred: Predictions,
    reasons: list[list[Reason]],
    version: str,
    *,
    degraded: bool,
    now: datetime | None = None,
    policy_version: str | None = None,
) -> list[Score]:
    scored_at = now or datetime.now(UTC)
    raised = pred.rank > pred.model_rank
    rules = safety.rule_names(pred.fired, raised)
    members = (
        pred.urgency_members
        if pred.urgency_members is not None
        else np.ones(pred.p_urgency.shape, dtype=bool)
    )
    sets = set_lists(members)
    meta = feats.meta
    out = []
    for i in range(len(feats)):
        dl = meta["retention_deadline"].iloc[i]
        out.append(
            Score(
                referral_id=meta["referral_id"].iloc[i],
                priority=float(pred.priority[i]),
                tier=TIER_BY_RANK[int(pred.rank[i])],
                urgency={
                    c: round(float(p), 6)
                    for c, p in zip(URGENCY_CLASSES, pred.p_urgency[i], strict=True)
                },
                viability={
                    c: round(float(p), 6)
                    for c, p in zip(VIABILITY_CLASSES, pred.p_viability[i], strict=True)
                },
                reasons=reasons[i],
                safety_rules=rules[i],
                retention_deadline=None if pd.isna(dl) else dl.to_pydatetime(),
                model_version=version,
                scored_at=scored_at,
                degraded=degraded,
                policy_version=policy_version,
                urgency_band=None if pred.band is None else int(pred.band[i]),
                urgency_set=sets[i],
                cannot_rule_out_immediate=bool(members[i, 0]),
            )
        )
    return out
