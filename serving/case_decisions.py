"""One package decision for a whole case (``POST /cases/{id}/decision``, contract §8).

The reviewer chooses the case's viability (package, lead, unactionable) and confirms the
proposed route or changes it, with a reason. The service records **one normal decision
per member** through :meth:`serving.store.Store.add_decision` (each chained in the
decision log, bound to the member's latest score, confirming its tier), whose reason
notes the case and the route, and one ``package_decided`` case event naming those
decisions, all in **one transaction**: all or nothing. A retry of the same decision finds
every member's decision already recorded (the decision log's idempotency key) and
answers them with ``created: false``, recording nothing more.

The decision is bound to the case **as shown**: ``referral_ids`` must be its members
now, else 409 with the current members (a referral joined or a merge happened while the
reviewer read it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from features.contract import Feedback, ReferralId, Viability, clean_text, printable_name
from features.routes import route_case
from serving import case_log
from serving.auth import Principal
from serving.records import DecisionRecord, ReferralRecord, StoreError
from serving.runtime import Runtime

#: Most members one package decision covers (a case the hub guard lets grow no larger).
MAX_MEMBERS = 200


class PackageDecision(BaseModel):
    """What the reviewer sends for a case."""

    model_config = ConfigDict(extra="forbid")

    referral_ids: list[ReferralId] = Field(
        min_length=1, max_length=MAX_MEMBERS, description="the members shown"
    )
    viability: Viability
    route: Literal["confirm", "change"] = Field(description="the proposed route, or another")
    destination: str | None = Field(
        default=None, min_length=1, max_length=128, description="required with route change"
    )
    reason: str | None = Field(default=None, max_length=1500)

    _printable_destination = field_validator("destination")(printable_name)
    _clean_reason = field_validator("reason")(clean_text)

    @model_validator(mode="after")
    def _change_needs_destination_and_reason(self) -> PackageDecision:
        if self.route == "change":
            if not self.destination:
                raise ValueError("destination: required when route is 'change'")
            if not (self.reason and self.reason.strip()):
                raise ValueError("reason: required when route is 'change'")
        elif self.destination is not None:
            raise ValueError("destination: only with route 'change'")
        return self


class PackageAnswer(BaseModel):
    case_id: str
    created: bool
    route: str
    decisions: list[DecisionRecord]


class CaseChanged(StoreError):
    """The case's members are not the ones the reviewer was shown."""

    def __init__(self, members: list[str]) -> None:
        super().__init__("referral_ids", "the case has changed since it was shown")
        self.members = members


def decide(
    rt: Runtime, case_id: str, body: PackageDecision, by: Principal | None
) -> PackageAnswer | None:
    """Record the package decision (module docs); None if no case has this id."""
    index = rt.scorer.cases
    with rt.scorer._lock:
        root = index.find(case_id)
        if root is None:
            return None
        members, name = index.members_of(root), index.namer(root)
    if sorted(set(body.referral_ids)) != sorted(members):
        raise CaseChanged(members)
    stored = [rt.store.referral(m) for m in members]
    records = [r for r in stored if r is not None and r.scores]
    if len(records) != len(members):
        raise CaseChanged(members)  # a member not (yet) in the store: not as shown
    if body.route == "confirm":
        destination = route_case([r.referral for r in records]).destination
    else:
        destination = str(body.destination)
    verb = "confirmed" if body.route == "confirm" else "changed to"
    note = f"Package decision for case {name}: route {verb} {destination}."
    reason = f"{note} {body.reason.strip()}" if body.reason else note
    decisions: list[DecisionRecord] = []
    created = False
    with rt.store.transaction() as s:
        for rec in records:
            fb = _feedback(rec, body.viability, reason)
            record, new = rt.store.add_decision(fb, by, session=s)
            decisions.append(record)
            created |= new
        if created:
            detail = {
                "decision_ids": [d.id for d in decisions],
                "viability": body.viability,
                "route": {"action": body.route, "destination": destination},
                "recorded_by": by.name if by else None,
            }
            event = case_log.CaseEvent("package_decided", name, tuple(members), detail)
            case_log.append(s, [event], rt.store.now())
    if created:
        for rec, d in zip(records, decisions, strict=True):
            rt.metrics.decided(d.decision, rec.scores[-1].score.tier)
    return PackageAnswer(case_id=name, created=created, route=destination, decisions=decisions)


def _feedback(rec: ReferralRecord, viability: Viability, reason: str) -> Feedback:
    """A member's decision: its latest score's tier confirmed, the case's viability."""
    latest = rec.scores[-1]
    return Feedback(
        referral_id=rec.referral.referral_id,
        decision="confirm",
        tier=latest.score.tier,
        viability=viability,
        reason=reason,
        model_version=latest.score.model_version,
        score_id=latest.id,
    )
