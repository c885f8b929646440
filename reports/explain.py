"""Explanation pages for reviewers: why a referral was ranked where it was.

An :class:`ExplanationRecord` is everything one page shows, built either from the store
(:func:`record_from_store`: the score *as logged*, so a page replays what the reviewer
saw then, with the model version of that time) or from a fresh score
(:func:`records_from_scores`). :func:`render_referral_html` turns a record into one
self-contained page; the service can call it for ``GET /referrals/{id}``.
:func:`write_reports` writes a page per referral and, for a batch, an index.

A record holds only pseudonymised, free-text-free facts: the narrative, the escalation
text, identifier values and IPs never enter it, so no template can leak them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from features.contract import Referral, Score
from models import safety
from reports import html, templates
from reports.charts import contribution_chart
from reports.related import RelatedIndex, RelatedReferral

HEADS = (("urgency", "Urgency"), ("viability", "Viability"), ("rules", "Safety rules"))


class DecisionSeen(BaseModel):
    decided_at: datetime
    decision: str
    tier: str
    viability: str
    model_version: str


class ExplanationRecord(BaseModel):
    """One page's content. Reviewer free text (override reasons) is deliberately absent."""

    referral_id: str
    received_at: datetime
    source: str
    source_priority: str | None = None
    incident_type: str
    platform: str | None = None
    channel: str
    escalated: bool
    location: str | None = None
    score: Score
    related: list[RelatedReferral] = []
    decisions: list[DecisionSeen] = []
    rules_fired: list[str] = []
    replayed: bool = False
    later_scores: int = 0


def rules_fired(values: Mapping[str, Any]) -> list[str]:
    """Safety rules whose condition holds for these feature values, whether or not they
    raised the tier (a score names only the rules that raised it)."""
    out = []
    for rule in safety.RULES:
        try:
            hit = float(values.get(rule.feature) or 0.0) >= 0.5
        except (TypeError, ValueError):
            hit = False
        if hit:
            out.append(rule.name)
    return out


def _location(ref: Referral) -> str | None:
    """Country and region of the first located suspect (else victim): coarse, no city."""
    people = [s.location for s in ref.subjects] + [v.location for v in ref.victims]
    for loc in people:
        if loc is not None and loc.country:
            where = loc.country + (f", {loc.region}" if loc.region else "")
            return where + (" (verified)" if loc.verified else "")
    return None


def record_for(
    ref: Referral,
    score: Score,
    related: list[RelatedReferral] | None = None,
    decisions: list[DecisionSeen] | None = None,
    replayed: bool = False,
    later_scores: int = 0,
    features: Mapping[str, Any] | None = None,
) -> ExplanationRecord:
    """A record from a (pseudonymised) referral, one of its scores and the feature values
    it was made from."""
    return ExplanationRecord(
        referral_id=ref.referral_id,
        received_at=ref.received_at,
        source=ref.source,
        source_priority=ref.source_priority,
        incident_type=ref.incident.type,
        platform=ref.incident.platform,
        channel=ref.incident.channel,
        escalated=ref.escalated,
        location=_location(ref),
        score=score,
        related=related or [],
        decisions=decisions or [],
        rules_fired=sorted(set(rules_fired(features or {})) | set(score.safety_rules)),
        replayed=replayed,
        later_scores=later_scores,
    )


def record_from_store(
    store: Any,
    referral_id: str,
    as_of: datetime | None = None,
    related_limit: int = 10,
    index: RelatedIndex | None = None,
) -> ExplanationRecord | None:
    """Replay a logged score: the latest one (or the latest made at or before ``as_of``).

    ``store`` is a :class:`serving.store.Store`. Related referrals are looked up in the
    store's history (pass ``index``, built once with :func:`store_index`, when explaining
    many); their outcomes show only if decided before that score was made.
    """
    rec = store.referral(referral_id)
    if rec is None or not rec.scores:
        return None
    scores = [s for s in rec.scores if as_of is None or s.score.scored_at <= as_of]
    if not scores:
        return None
    chosen = scores[-1]
    index = index if index is not None else store_index(store)
    related = index.related(rec.referral, chosen.score.scored_at, related_limit)
    decisions = [
        DecisionSeen(
            **d.model_dump(include={"decided_at", "decision", "tier", "viability", "model_version"})
        )
        for d in rec.decisions
        if as_of is None or d.decided_at <= as_of
    ]
    later = sum(1 for s in rec.scores if s.id > chosen.id)
    return record_for(rec.referral, chosen.score, related, decisions, True, later, chosen.features)


def store_index(store: Any) -> RelatedIndex:
    """Every stored referral by pseudonym, with its latest decision (one pass)."""
    return RelatedIndex().extend(store.history_referrals())


def records_from_scores(
    referrals: Sequence[Referral],
    scores: Sequence[Score],
    features: pd.DataFrame | None = None,
    history: Iterable[tuple[Referral, Any]] = (),
    related_limit: int = 10,
) -> list[ExplanationRecord]:
    """Records for freshly scored referrals (``features``: their feature frame, in the
    same order); related ones come from ``history`` (e.g. the store's) and from earlier
    referrals of the same batch."""
    index = RelatedIndex().extend(history)
    for ref in referrals:
        index.add(ref)
    rows = [{}] * len(referrals) if features is None else features.to_dict("records")
    return [
        record_for(ref, sc, index.related(ref, sc.scored_at, related_limit), features=row)
        for ref, sc, row in zip(referrals, scores, rows, strict=True)
    ]


def render_referral_html(record: ExplanationRecord) -> str:
    """One self-contained page (no scripts, no external assets; every referral string
    escaped)."""
    s = record.score
    rules = [
        (name, safety.BY_NAME[name].why, safety.BY_NAME[name].floor, name in s.safety_rules)
        for name in record.rules_fired
        if name in safety.BY_NAME
    ]
    reasons = [(title, [x for x in s.reasons if x.head == head]) for head, title in HEADS]
    reasons = [(t, xs) for t, xs in reasons if xs]
    days_left = None
    if s.retention_deadline is not None:
        days_left = (s.retention_deadline - s.scored_at).total_seconds() / 86400
    return html.render(
        templates.REFERRAL,
        title=f"Referral {record.referral_id}",
        r=record,
        s=s,
        rules=rules,
        reasons=reasons,
        chart=contribution_chart(s.reasons),
        days_left=days_left,
    )


def page_name(referral_id: str) -> str:
    """A file name for a referral id (ids are ``[A-Za-z0-9._:-]``; ':' is not portable)."""
    return referral_id.replace(":", "_") + ".html"


def write_reports(
    records: Sequence[ExplanationRecord], out_dir: Path, title: str = "Explanation reports"
) -> list[Path]:
    """A page per record and, for more than one, ``index.html`` (highest priority first).
    Returns the paths written, index last."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for rec in records:
        path = out_dir / page_name(rec.referral_id)
        path.write_text(render_referral_html(rec), encoding="utf-8")
        paths.append(path)
    if len(records) > 1:
        rows: list[dict[str, Any]] = sorted(
            (
                {
                    "referral_id": r.referral_id,
                    "href": page_name(r.referral_id),
                    "tier": r.score.tier,
                    "priority": r.score.priority,
                    "received_at": r.received_at,
                    "model_version": r.score.model_version,
                }
                for r in records
            ),
            key=lambda x: (-x["priority"], x["received_at"], x["referral_id"]),
        )
        index = out_dir / "index.html"
        index.write_text(html.render(templates.INDEX, title=title, rows=rows), encoding="utf-8")
        paths.append(index)
    return paths


def write_queue_reports(store: Any, out_dir: Path, limit: int = 10) -> list[Path]:
    """Pages for the top of the review queue (what ``make run`` shows reviewers first)."""
    index = store_index(store)
    records = [
        rec
        for item in store.queue(limit=limit)
        if (rec := record_from_store(store, item.referral_id, index=index)) is not None
    ]
    return write_reports(records, out_dir, title="Top of the review queue")
