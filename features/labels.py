"""Where a training label came from (``contract.md`` §5 "Labels"; ``domain.md`` §9).

A reviewer shown the model's tier tends to agree with it, so a label made with a model's
output on screen says partly what that model thought. Every label keeps its provenance so
training can weight it (``training.fit.TrainConfig.label_weights``) and evaluation can
leave out the labels a model shaped (:data:`INDEPENDENT`).

Lives in ``features/`` because serving (which records the labels) and training (which
uses them) both need it and neither may import the other.
"""

from __future__ import annotations

from typing import Literal, get_args

Provenance = Literal["outcome", "blind_review", "history", "shown_review"]
#: Strongest first: when a referral has labels of several kinds, the first one listed wins.
PROVENANCES: tuple[Provenance, ...] = get_args(Provenance)
#: Labels made without any model's output on screen: what a model may be judged on.
INDEPENDENT: frozenset[str] = frozenset({"outcome", "blind_review", "history"})
DESCRIPTIONS: dict[str, str] = {
    "outcome": "what the police of jurisdiction found (outcome report, contract §5b)",
    "blind_review": "a blind second review: no tier, probabilities or reasons on screen",
    "shown_review": "a first review made with the model's output on screen (anchored)",
    "history": "imported history from before the model (the labelled training file)",
}
