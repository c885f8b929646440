"""Cases as reviewers read them: ``GET /cases`` and ``GET /cases/{id}`` (contract §6, §8).

The grouping lives in the scorer's :class:`~features.case_index.CaseIndex` (rebuilt from
the store's referrals at start, kept in step with every score under the scorer's lock);
this module joins it with the store: each member's latest score, whether it awaits a
decision and its priority *now* (``models.ageing``, the queue's rule), and the members'
stored documents for the case's route and reasons (:func:`features.cases.build_case`).

**Which cases ``GET /cases`` lists.** Open cases of two referrals or more: at least one
member awaits a decision on its latest score (a referral alone is on the queue already,
and a case whose members are all decided has left the desk). Ordered by the case's
priority now, its most urgent awaiting member's (ties: the earlier opened, then the id),
so the list and the queue agree on what comes first. ``GET /cases/{id}`` answers any
case, one referral or many, open or decided; an id a merge retired answers the case it
became (its ``case_id`` says which).
"""

from __future__ import annotations

from datetime import datetime
from math import nan
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from features.cases import Case, build_case
from features.contract import Referral, Route, Tier
from features.linking import platform_key
from features.tiers import rank as tier_rank
from models.operating_policy import OperatingPolicy
from serving.access_log import MAX_IDS
from serving.db_models import ReferralRow, ScoreRow
from serving.queries import _awaiting
from serving.records import referral_of
from serving.runtime import Runtime

#: Most cases one page of ``GET /cases`` holds (a page is also cut before its members
#: would pass the access log's :data:`~serving.access_log.MAX_IDS` ids).
MAX_CASE_PAGE = 100


class CaseMember(BaseModel):
    """One member as the case view lists it."""

    model_config = ConfigDict(frozen=True)

    referral_id: str
    received_at: AwareDatetime
    platform: str
    score_id: int
    tier: Tier
    awaiting: bool
    priority_now: float | None = None
    route: Route | None = None


class CaseView(Case):
    """Contract §8's case, with its members' state for the reviewer page."""

    awaiting: int
    members: list[CaseMember]


class CasePage(BaseModel):
    items: list[CaseView]
    limit: int
    offset: int
    total: int


def awaiting_now(
    s: Session, now: datetime, policy: OperatingPolicy, ids: set[str] | None = None
) -> dict[str, tuple[float, Tier]]:
    """Referral id -> (priority now, tier) for each referral awaiting a decision (of
    ``ids`` when given), by the queue's ageing rule."""
    from models.ageing import priority_now  # numpy: not on the supervisor's path

    stmt = _awaiting(
        ReferralRow.referral_id,
        ReferralRow.received_at,
        ScoreRow.priority,
        ScoreRow.tier,
        ScoreRow.retention_deadline,
    )
    keys = [k for k in s.execute(stmt).all() if ids is None or k[0] in ids]
    if not keys:
        return {}
    rank = [tier_rank(k[3]) for k in keys]
    waited = [(now - k[1]).total_seconds() / 3600.0 for k in keys]
    left = [nan if k[4] is None else (k[4] - now).total_seconds() / 3600.0 for k in keys]
    prio = priority_now([k[2] for k in keys], rank, waited, left, policy)
    return {k[0]: (float(p), k[3]) for k, p in zip(keys, prio, strict=True)}


def _loaded(s: Session, ids: list[str]) -> tuple[dict[str, Referral], dict[str, ScoreRow]]:
    """The members' stored documents and latest scores."""
    docs = {
        r.referral_id: referral_of(r)
        for r in s.scalars(select(ReferralRow).where(ReferralRow.referral_id.in_(ids)))
    }
    latest = (
        select(func.max(ScoreRow.id))
        .where(ScoreRow.referral_id.in_(ids))
        .group_by(ScoreRow.referral_id)
    )
    scores = {
        sc.referral_id: sc for sc in s.scalars(select(ScoreRow).where(ScoreRow.id.in_(latest)))
    }
    return docs, scores


def _view(
    rt: Runtime, case_id: str, members: list[str], s: Session, now: datetime
) -> CaseView | None:
    docs, scores = _loaded(s, members)
    ids = [m for m in members if m in docs and m in scores]  # scored and stored
    if not ids:
        return None
    awaiting = awaiting_now(s, now, rt.policy, set(ids))
    with rt.scorer._lock:
        case = build_case(case_id, [docs[i] for i in ids], rt.scorer.cases, awaiting)
    out: list[CaseMember] = []
    for i in ids:
        sc = scores[i]
        stored: dict[str, Any] = sc.score
        route = stored.get("route")
        out.append(
            CaseMember(
                referral_id=i,
                received_at=docs[i].received_at,
                platform=platform_key(docs[i].incident.platform),
                score_id=sc.id,
                tier=sc.tier,  # type: ignore[arg-type]
                awaiting=i in awaiting,
                priority_now=awaiting[i][0] if i in awaiting else None,
                route=Route.model_validate(route) if route else None,
            )
        )
    return CaseView(**case.model_dump(), awaiting=len(awaiting), members=out)


def case_of(rt: Runtime, case_id: str) -> CaseView | None:
    """The case an id names (None: no such case here)."""
    index = rt.scorer.cases
    with rt.scorer._lock:
        root = index.find(case_id)
        if root is None:
            return None
        members, name = index.members_of(root), index.namer(root)
    with rt.store.reading() as s:
        return _view(rt, name, members, s, rt.store.now())


def list_cases(rt: Runtime, limit: int, offset: int) -> CasePage:
    """A page of open cases, most urgent now first (module docs)."""
    index = rt.scorer.cases
    with rt.scorer._lock:
        groups = {index.namer(r): index.members_of(r) for r in index.groups(2)}
    now = rt.store.now()
    with rt.store.reading() as s:
        awaiting = awaiting_now(s, now, rt.policy, {m for ms in groups.values() for m in ms})
        ranked = []
        for name, members in groups.items():
            urgent = [awaiting[m][0] for m in members if m in awaiting]
            if urgent:
                first = index.received[members[0]]
                ranked.append((-max(urgent), first, name))
        ranked.sort()
        page: list[CaseView] = []
        shown = 0
        for _, _, name in ranked[offset : offset + limit]:
            if page and shown + len(groups[name]) > MAX_IDS:
                break  # the access log records every id shown: the next page has the rest
            view = _view(rt, name, groups[name], s, now)
            if view is not None:
                page.append(view)
                shown += len(view.referral_ids)
    return CasePage(items=page, limit=limit, offset=offset, total=len(ranked))
