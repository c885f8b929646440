"""The store's read side: the review queue, a referral's history, labels, monitoring.

Functions take an open :class:`~sqlalchemy.orm.Session` and return plain records;
:class:`serving.store.Store` wraps each in a read transaction. "Latest" always means the
highest id, i.e. the last one recorded, never a client-supplied timestamp.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from math import nan
from typing import Any, cast, get_args

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from features.contract import TIERS, Outcome, Referral, Score, Source, Tier
from features.ingest import Labelled
from features.labels import Provenance, best_label
from features.tiers import rank as tier_rank
from models.operating_policy import OperatingPolicy
from serving import outcomes
from serving.db_models import DecisionRow, ReferralRow, ScoreRow, TokenRow
from serving.records import (
    Counts,
    DecisionRecord,
    OverrideRate,
    QueueItem,
    ReferralRecord,
    StoredScore,
    StoreError,
    referral_of,
)

MAX_PAGE = 1000
#: Deepest page start: far past any real queue, and inside a 64-bit SQL integer.
MAX_OFFSET = 10_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _latest_scores() -> Any:
    return (
        select(ScoreRow.referral_id, func.max(ScoreRow.id).label("score_id"))
        .group_by(ScoreRow.referral_id)
        .subquery()
    )


def _first_review(review: Any) -> Any:
    """A first review (``review`` null: recorded before v1.1, when every review was)."""
    return or_(review.is_(None), review != "second_blind")


def _awaiting(*columns: Any) -> Select[Any]:
    """Referrals whose latest score has no decision made on it, with that score
    (``columns`` of them when given, else both rows).

    A decision always refers to the latest score at its time, so "no decision on the
    latest score" is exactly "no decision since the last (re-)scoring". A blind second
    review is not that decision: recorded first, it leaves the referral on this queue (the
    first review is never delayed).
    """
    latest = _latest_scores()
    decided = exists().where(
        DecisionRow.score_id == latest.c.score_id, _first_review(DecisionRow.review)
    )
    return (
        select(*(columns or (ReferralRow, ScoreRow)))
        .select_from(ReferralRow)
        .join(latest, latest.c.referral_id == ReferralRow.referral_id)
        .join(ScoreRow, ScoreRow.id == latest.c.score_id)
        .where(~decided)
    )


def queue(
    s: Session,
    limit: int,
    offset: int,
    tier: Tier | None,
    source: Source | None,
    *,
    now: datetime,
    policy: OperatingPolicy,
) -> list[QueueItem]:
    """A page of the queue in its order at ``now`` (``models.ageing``).

    Priority now depends on the time of reading, so no index can hold the order: the
    keys of every awaiting referral (a few numbers each) are read, ordered by priority
    now (ties: earlier arrival, then id) and only the requested page is loaded whole.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise StoreError("limit", f"must be between 1 and {MAX_PAGE}")
    if not 0 <= offset <= MAX_OFFSET:
        raise StoreError("offset", f"must be between 0 and {MAX_OFFSET}")
    if tier is not None and tier not in TIERS:
        raise StoreError("tier", f"must be one of {', '.join(TIERS)}")
    if source is not None and source not in get_args(Source):
        raise StoreError("source", "not a known source")
    stmt = _awaiting(
        ScoreRow.id,
        ReferralRow.referral_id,
        ReferralRow.received_at,
        ScoreRow.priority,
        ScoreRow.tier,
        ScoreRow.retention_deadline,
    )
    if tier is not None:
        stmt = stmt.where(ScoreRow.tier == tier)
    if source is not None:
        stmt = stmt.where(ReferralRow.source == source)
    keys = s.execute(stmt).all()
    from models.ageing import aged_because, read_order  # numpy: not on the supervisor's path

    waited = [(now - k[2]).total_seconds() / 3600.0 for k in keys]
    left = [nan if k[5] is None else (k[5] - now).total_seconds() / 3600.0 for k in keys]
    rank = [tier_rank(k[4]) for k in keys]  # 0 routine .. 2 immediate
    order, prio_now = read_order(
        [k[3] for k in keys], rank, waited, left, [k[1] for k in keys], policy
    )
    page = [int(i) for i in order[offset : offset + limit]]
    if not page:
        return []
    wanted = [keys[i][0] for i in page]
    rows = {
        sc.id: (ref, sc)
        for ref, sc in s.execute(
            select(ReferralRow, ScoreRow)
            .join(ScoreRow, ScoreRow.referral_id == ReferralRow.referral_id)
            .where(ScoreRow.id.in_(wanted))
        )
    }
    why = aged_because(
        [rank[i] for i in page], [waited[i] for i in page], [left[i] for i in page], policy
    )
    out = []
    for i, words in zip(page, why, strict=True):
        ref, sc = rows[keys[i][0]]
        out.append(
            QueueItem(
                referral_id=ref.referral_id,
                source=ref.source,  # type: ignore[arg-type]
                received_at=ref.received_at,
                escalated=ref.escalated,
                score_id=sc.id,
                score=Score.model_validate(sc.score),
                incident_type=(ref.document.get("incident") or {}).get("type"),
                priority=sc.priority,
                priority_now=float(prio_now[i]),
                aged_because=words,
            )
        )
    return out


def referral(s: Session, referral_id: str) -> ReferralRecord | None:
    row = s.get(ReferralRow, referral_id)
    if row is None:
        return None
    scores = s.scalars(
        select(ScoreRow).where(ScoreRow.referral_id == referral_id).order_by(ScoreRow.id)
    )
    decisions = s.scalars(
        select(DecisionRow).where(DecisionRow.referral_id == referral_id).order_by(DecisionRow.id)
    )
    return ReferralRecord(
        referral=referral_of(row),
        first_recorded_at=row.first_recorded_at,
        scores=[StoredScore.of(r) for r in scores],
        decisions=[DecisionRecord.of(r) for r in decisions],
    )


def decisions(s: Session, since: datetime | None) -> list[DecisionRecord]:
    stmt = select(DecisionRow).order_by(DecisionRow.id)
    if since is not None:
        stmt = stmt.where(DecisionRow.decided_at >= since)
    return [DecisionRecord.of(r) for r in s.scalars(stmt)]


def confirmed_labels(s: Session) -> list[Labelled]:
    out = []
    for ref, label, provenance in _labelled(s, decided_only=True):
        if label is not None:  # a decision without an urgency assessment is no label
            out.append(Labelled(referral_of(ref), label, provenance=provenance))
    return out


def _labelled(
    s: Session, *, decided_only: bool
) -> Iterator[tuple[ReferralRow, Outcome | None, Provenance]]:
    """Every (decided) referral in arrival order with its one label, chosen from all its
    decisions and outcome reports by :func:`features.labels.best_label`."""
    stmt = select(ReferralRow).order_by(ReferralRow.received_at, ReferralRow.referral_id)
    if decided_only:
        stmt = stmt.where(exists().where(DecisionRow.referral_id == ReferralRow.referral_id))
    found = outcomes.hindsight(s)
    by_referral: dict[str, list[DecisionRecord]] = {}
    for row in s.scalars(select(DecisionRow).order_by(DecisionRow.id)):
        by_referral.setdefault(row.referral_id, []).append(DecisionRecord.of(row))
    for ref in s.scalars(stmt.execution_options(yield_per=500)):
        rid = ref.referral_id
        label, provenance = best_label(by_referral.get(rid, []), found.get(rid))
        yield ref, label, provenance


def history_referrals(s: Session) -> Iterator[tuple[Referral, Outcome | None]]:
    for ref, label, _ in _labelled(s, decided_only=False):
        yield referral_of(ref), label


def override_rates(s: Session, window: timedelta, since: datetime | None) -> list[OverrideRate]:
    if window <= timedelta(0):
        raise StoreError("window", "must be positive")
    # first reviews only: a blind reviewer never saw the tier, so has not "confirmed" it
    stmt = (
        select(DecisionRow.decided_at, ScoreRow.tier, DecisionRow.decision)
        .join(ScoreRow, ScoreRow.id == DecisionRow.score_id)
        .where(_first_review(DecisionRow.review))
    )
    if since is not None:
        stmt = stmt.where(DecisionRow.decided_at >= since)
    buckets: dict[tuple[int, Tier], list[int]] = {}
    for decided_at, tier, decision in s.execute(stmt.execution_options(yield_per=1000)):
        n = (decided_at - EPOCH) // window
        tally = buckets.setdefault((n, cast(Tier, tier)), [0, 0])
        tally[0] += 1
        tally[1] += decision == "override"
    return [
        OverrideRate(
            start=EPOCH + n * window,
            end=EPOCH + (n + 1) * window,
            tier=tier,
            decisions=d,
            overrides=o,
        )
        for (n, tier), (d, o) in sorted(buckets.items(), key=_bucket_order)
    ]


def _bucket_order(item: tuple[tuple[int, Tier], list[int]]) -> tuple[int, int]:
    (n, tier), _ = item
    return n, TIERS.index(tier)


def counts(s: Session) -> Counts:
    def n(stmt: Any) -> int:
        return int(s.scalar(stmt) or 0)

    return Counts(
        referrals=n(select(func.count()).select_from(ReferralRow)),
        scores=n(select(func.count()).select_from(ScoreRow)),
        decisions=n(select(func.count()).select_from(DecisionRow)),
        awaiting_review=n(select(func.count()).select_from(_awaiting().subquery())),
        active_tokens=n(select(func.count()).select_from(TokenRow).where(~TokenRow.revoked)),
    )
