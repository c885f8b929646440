"""A case as reviewers and the package workflow see it (``contract.md`` §8).

The grouping itself is :class:`features.case_index.CaseIndex`; this module turns one
group into the contract's case: members, what linked them (``linked_by``), the most
urgent member's priority and tier, the route the members vote for, and the reasons in
plain words ("3 referrals, same verified e-mail, 2 platforms"). Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from features.case_index import IP_WINDOW, CaseIndex
from features.contract import Referral, Route, Tier
from features.linking import platform_key
from features.routes import route_case
from features.tiers import most_urgent

KIND_WORDS = {
    "verified_email": "verified e-mail",
    "email": "e-mail",
    "phone": "phone number",
    "device_id": "device",
    "esp_user_id": "user id on one platform",
    "screen_name": "screen name on one platform",
    "profile_url": "profile URL",
    "ip": f"IP address within {IP_WINDOW // (86_400 * 10**9)} days",
}


class LinkedBy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    n_referrals: int = Field(ge=2, description="members joined by a link of this kind")


class Case(BaseModel):
    """A group of referrals about one suspect, as known now: the unit of a package."""

    model_config = ConfigDict(extra="forbid")

    case_id: str
    referral_ids: list[str]
    opened_at: datetime
    priority_now: float | None = Field(default=None, description="most urgent member's")
    tier: Tier | None = None
    linked_by: list[LinkedBy]
    route: Route
    reasons: list[str]


def linked_by(links: Sequence[tuple[str, str, str]]) -> list[LinkedBy]:
    """Per link kind, how many members it joins; most members first."""
    members: dict[str, set[str]] = {}
    for a, b, kind in links:
        members.setdefault(kind, set()).update((a, b))
    ranked = sorted(members.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [LinkedBy(kind=k, n_referrals=len(m)) for k, m in ranked]


def reasons(refs: Sequence[Referral], by: Sequence[LinkedBy], route: Route) -> list[str]:
    """The case in words: size, what links it, platforms, where it would go."""
    n = len(refs)
    platforms = {platform_key(r.incident.platform) for r in refs} - {"(none)"}
    head = f"{n} referral{'s' if n != 1 else ''}"
    if by:
        head += ", same " + " and ".join(KIND_WORDS.get(b.kind, b.kind) for b in by)
    if len(platforms) > 1:
        head += f", {len(platforms)} platforms"
    out = [head]
    if route.level == "undetermined":
        out.append("route undetermined: " + route.evidence[0])
    else:
        out.append(f"route: {route.destination} (confidence {route.confidence:.2f})")
    return out


def build_case(
    case_id: str,
    members: Sequence[Referral],
    index: CaseIndex,
    priorities: Mapping[str, tuple[float, Tier]] | None = None,
) -> Case:
    """The contract's case for ``members`` (in arrival order) grouped by ``index``;
    ``priorities`` (referral id -> (priority now, tier)) sets the case's priority."""
    ids = [r.referral_id for r in members]
    by = linked_by(index.links_within(ids))
    route = route_case(members)
    prio: float | None = None
    tier: Tier | None = None
    known = [priorities[i] for i in ids if priorities and i in priorities]
    if known:
        prio = max(p for p, _ in known)
        tier = most_urgent([t for _, t in known])
    return Case(
        case_id=case_id,
        referral_ids=ids,
        opened_at=min(r.received_at for r in members),
        priority_now=prio,
        tier=tier,
        linked_by=by,
        route=route,
        reasons=reasons(members, by, route),
    )
