"""Is a model the product of the one training assembly (:func:`training.fit.fit`)?

Every engine builds the model through ``fit`` (the Dask engine computes only the
features elsewhere, :mod:`training.distributed_train`), which records its configuration,
the monotone urgency signals and the real git commit in the manifest. A model without
them was assembled some other way (as the Dask engine once did: no monotone urgency head,
no label weights, ``git_commit="dask"``) and the gate refuses it (:func:`problem`).
"""

from __future__ import annotations

from typing import Any

from training.promote import Check

CHECK = "built_by_training_fit"


def problem(manifest: Any) -> str | None:
    """Why ``manifest`` does not come from ``training.fit``, or None if it does."""
    training = dict(getattr(manifest, "training", None) or {})
    missing = [k for k in ("config", "heads", "classes", "monotone_urgency") if k not in training]
    if missing:
        return f"manifest.training: no {', '.join(missing)} (not built by training.fit)"
    if str(getattr(manifest, "git_commit", "")) in {"", "dask"}:
        return "manifest.git_commit: not a commit (not built by training.fit)"
    return None


def refuse_other_assemblies(decision: Any, challenger: Any, force: bool) -> Any:
    """Add a failing check (and refuse, unless forced) when the challenger was not built by
    ``training.fit``; a decision about a model that was is left as it is."""
    why = problem(getattr(challenger, "manifest", None))
    if why is None:
        return decision
    decision.checks.append(
        Check(
            name=CHECK,
            champion=None,
            challenger=0.0,
            limit=1.0,
            passed=False,
            higher_is_better=True,
        )
    )
    decision.notes.append(why)
    if not force:
        decision.promoted = False
        decision.reason = f"refused: {why}"
    else:
        decision.reason = f"forced despite failing: {CHECK}"
    return decision
