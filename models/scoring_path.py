"""Use the model, else the rules: the one function every scoring path calls.

The service (:meth:`serving.scoring.Scorer._predict`), ``triage score`` (both engines),
``triage explain --input`` and the Dask workers (:mod:`training.distributed`) all turn a
feature batch into contract §4 answers through :func:`score_or_rules`, so they give the
same answer for the same documents and degrade the same way:

* **no model** (none registered, or it could not be loaded): the safety rules score
  (:func:`models.degraded.score_rules`), ``degraded: true``, ``model_version: rules-1``,
  the packaged policy's version; reason ``no_model``;
* **the model raised** on this batch: the rules score it, naming the failed model's
  policy version (the policy in force); reason ``model_error`` and the exception's type
  (never its message: it may quote data);
* otherwise the model's scores, reason None.

With ``referrals`` (the batch's referrals, in the feature rows' order) every answer also
carries its proposed ``route`` (:func:`features.routes.route_referral`), as every path
answers it. What only the service knows is added by the service: the case the referral
belongs to, and the blind second-review draw.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from features.contract import Referral, Score
from features.pipeline import Features
from features.routes import route_referral
from models.degraded import score_rules

DegradedReason = Literal["no_model", "model_error"]


@dataclass
class Scored:
    """One batch's answers (feature-row order) and, if the rules answered, why."""

    scores: list[Score]
    degraded_reason: DegradedReason | None = None
    error_type: str | None = None

    @property
    def degraded(self) -> bool:
        return self.degraded_reason is not None


def score_line(score: Score) -> str:
    """One answer as the line every batch path writes (compact JSON, no newline)."""
    return json.dumps(score.model_dump(mode="json"), separators=(",", ":"))


def policy_version_of(model: Any) -> str | None:
    """The operating policy a (possibly failing) model carries, if it says."""
    return getattr(getattr(model, "policy", None), "policy_version", None)


def score_or_rules(
    model: Any | None,
    feats: Features,
    *,
    referrals: Sequence[Referral] | None = None,
    top_k: int = 5,
    now: datetime | None = None,
) -> Scored:
    """The model's answers for ``feats``, or the safety rules' when there is no model or it
    fails (module docs). ``model``: a :class:`~models.triage_model.TriageModel` or
    anything with its ``score(feats, *, now, top_k)``; None means degraded."""
    if referrals is not None and len(referrals) != len(feats):
        raise ValueError(f"referrals: {len(referrals)} given for {len(feats)} feature rows")
    if len(feats) == 0:
        out = Scored([], None if model is not None else "no_model")
    elif model is None:
        out = Scored(score_rules(feats, now=now), "no_model")
    else:
        try:
            out = Scored(model.score(feats, now=now, top_k=top_k))
        except Exception as e:  # any model failure: the rules answer instead
            rules = score_rules(feats, now=now, policy_version=policy_version_of(model))
            out = Scored(rules, "model_error", type(e).__name__)
    if referrals is not None:
        for score, ref in zip(out.scores, referrals, strict=True):
            score.route = route_referral(ref)  # the proposed police of jurisdiction
    return out
