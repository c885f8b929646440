"""Where a training label came from (``contract.md`` §5 "Labels"; ``domain.md`` §9).

A reviewer shown the model's tier tends to agree with it, so a label made with a model's
output on screen says partly what that model thought. Every label keeps its provenance so
training can weight it (``training.fit.TrainConfig.label_weights``) and evaluation can
leave out the labels a model shaped (:data:`INDEPENDENT`).

Lives in ``features/`` because serving (which records the labels) and training (which
uses them) both need it and neither may import the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, Protocol, get_args

import pandas as pd

from features.contract import Outcome, Referral, Urgency, Viability

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


class Decided(Protocol):
    """What a label is chosen from: a decision as stored (``serving.records.DecisionRecord``)."""

    @property
    def review(self) -> str | None: ...
    @property
    def urgency_assessed(self) -> Urgency | None: ...
    @property
    def viability(self) -> Viability: ...
    @property
    def decided_at(self) -> datetime: ...


def best_label(
    decisions: Sequence[Decided], found: tuple[Urgency, datetime] | None
) -> tuple[Outcome | None, Provenance]:
    """A referral's one label from all its decisions (in record order) and the urgency in
    hindsight of its outcome reports (``found``: urgency and when reported), strongest
    provenance first (:data:`PROVENANCES`): an outcome, else a blind second review, else a
    first review; within a kind the latest. Only decisions with an ``urgency_assessed``
    give an urgency label (a tier never does); the viability comes from the strongest
    decision (with an assessment if any has one, else the latest). No decision: no
    viability, no label. The store's labels, the restart's history and the live history
    all choose with this function, so they agree."""
    if not decisions:
        return None, "history"
    assessed = [d for d in decisions if d.urgency_assessed is not None]
    blind = [d for d in assessed if d.review == "second_blind"]
    chosen = (blind or assessed or list(decisions))[-1]
    if found is not None:
        urgency, reported_at = found
        return Outcome(viability=chosen.viability, urgency=urgency, decided_at=reported_at), (
            "outcome"
        )
    if chosen.urgency_assessed is None:
        return None, "shown_review"
    label = Outcome(
        viability=chosen.viability, urgency=chosen.urgency_assessed, decided_at=chosen.decided_at
    )
    return label, "blind_review" if chosen.review == "second_blind" else "shown_review"


def relabel_events(referral: Referral, old: Outcome | None, new: Outcome | None) -> pd.DataFrame:
    """The history events that move a referral's counted label from ``old`` to ``new``:
    ``old``'s decision events with negated weights (at ``old``'s time, so every later
    query sees it gone and earlier ones never saw it) and ``new``'s. Applied to a history
    holding ``old`` it equals one built with ``new`` alone (what a restart loads)."""
    from features.linking import WEIGHTS, events_for

    parts = []
    if old != new:
        for label, sign in ((old, -1), (new, 1)):
            if label is None:
                continue
            ev = events_for([referral], [label])
            ev = ev[ev["decided"] == 1].reset_index(drop=True)
            for w in WEIGHTS:
                ev[w] = ev[w] * sign
            parts.append(ev)
    if not parts:
        return events_for([], None)
    return pd.concat(parts, ignore_index=True)
