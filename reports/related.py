"""Related earlier referrals: the ones that share a suspect identifier, IP or group.

Linking works on pseudonyms only (keyed hashes made at the door), so this module never
sees a raw value and shows only a short prefix of a pseudonym: enough for a reviewer to
see that two referrals share *the same* e-mail, not what the e-mail is. An outcome is
shown only if it was decided before ``known_at`` (the time the score was made), so a
replayed page shows what could be known then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel

from features.contract import Outcome, Referral
from features.pseudonyms import PREFIX

KIND_LABELS = {
    "email": "e-mail",
    "phone": "phone",
    "screen_name": "screen name",
    "esp_user_id": "platform user id",
    "profile_url": "profile URL",
    "device_id": "device id",
    "ip": "IP",
    "group": "group",
}
PREFIX_CHARS = 8


class RelatedReferral(BaseModel):
    """An earlier referral sharing at least one key with the one explained."""

    referral_id: str
    received_at: datetime
    shared: list[str]
    outcome: str | None = None


def short(pseudonym: str) -> str:
    """``pn1:3fa2c1d0…``: a pseudonym's first hex characters, never a raw value."""
    body = pseudonym.removeprefix(PREFIX)
    if not pseudonym.startswith(PREFIX) or not all(c in "0123456789abcdef" for c in body):
        return "(not a pseudonym)"
    return f"{PREFIX}{body[:PREFIX_CHARS]}…"


def keys_of(ref: Referral) -> dict[str, str]:
    """Pseudonym -> kind, for every linkable key of the referral."""
    out: dict[str, str] = {}
    for s in ref.subjects:
        for i in s.identifiers:
            if i.kind in KIND_LABELS:
                out.setdefault(i.value, i.kind)
        for e in s.ip_events:
            out.setdefault(e.ip, "ip")
        if s.group_identifier:
            out.setdefault(s.group_identifier, "group")
    return out


class RelatedIndex:
    """An inverted index pseudonym -> referrals, built once for a batch or a store."""

    def __init__(self) -> None:
        self._postings: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        self._outcomes: dict[str, Outcome | None] = {}

    def add(self, ref: Referral, outcome: Outcome | None = None) -> None:
        if ref.referral_id in self._outcomes:
            self._outcomes[ref.referral_id] = outcome or self._outcomes[ref.referral_id]
            return
        self._outcomes[ref.referral_id] = outcome
        for key in keys_of(ref):
            self._postings[key].append((ref.received_at, ref.referral_id))

    def extend(self, items: Iterable[tuple[Referral, Outcome | None]]) -> RelatedIndex:
        for ref, outcome in items:
            self.add(ref, outcome)
        return self

    def related(
        self, target: Referral, known_at: datetime, limit: int = 10
    ) -> list[RelatedReferral]:
        """Referrals received before ``target`` sharing a key with it, latest first."""
        shared: dict[str, list[str]] = defaultdict(list)
        when: dict[str, datetime] = {}
        for key, kind in keys_of(target).items():
            for t, rid in self._postings.get(key, ()):
                if t < target.received_at and rid != target.referral_id:
                    shared[rid].append(f"{KIND_LABELS[kind]} {short(key)}")
                    when[rid] = t
        order = sorted(shared, key=lambda r: (when[r], r), reverse=True)[:limit]
        return [
            RelatedReferral(
                referral_id=rid,
                received_at=when[rid],
                shared=sorted(set(shared[rid])),
                outcome=_outcome_text(self._outcomes.get(rid), known_at),
            )
            for rid in order
        ]


def _outcome_text(outcome: Outcome | None, known_at: datetime) -> str | None:
    if outcome is None or outcome.decided_at > known_at:
        return None
    return f"{outcome.viability}, {outcome.urgency} (decided {outcome.decided_at:%Y-%m-%d})"
