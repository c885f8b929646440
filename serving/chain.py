"""The decision log's hash chain and idempotency keys: pure functions, no database.

Each record's ``hash`` is SHA-256 over the canonical JSON (sorted keys, no spaces, UTF-8)
of its content *including* ``prev_hash``, the previous record's hash (``GENESIS`` for the
first). Changing any field of a stored record changes its hash; deleting a record leaves a
gap in the ids and a ``prev_hash`` that matches nothing. The chain is tamper-evident, not
tamper-proof: someone who can rewrite the whole table can rewrite the chain too, which is
why ``triage audit verify`` prints the head hash for recording somewhere else.

The access log (who read what) is chained the same way over :data:`ACCESS_FIELDS`
(:func:`access_hash`); :func:`find_break` checks either chain. Retention may cut the
access chain's oldest records: its head keeps the last cut record's id and hash (the
*base*), and verification starts there. An anchor (:mod:`serving.anchor`) kept outside the
database catches what the chain alone cannot: a tail cut off with the head reset.

Floats are kept out of the hashed content (their text form is not canonical across
databases); times are hashed as UTC ISO 8601 with microseconds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
#: The fields a record's hash covers, in addition to ``prev_hash``.
HASHED_FIELDS = (
    "id",
    "referral_id",
    "score_id",
    "reviewer",
    "decision",
    "tier",
    "viability",
    "reason",
    "model_version",
    "decided_at",
    "idempotency_key",
)
#: Hashed when present: who the service authenticated when the decision was recorded
#: (the bearer token's id and name). Records made without a token (the store's own API,
#: tests, records from before these fields existed) leave them out and hash as before.
OPTIONAL_HASHED_FIELDS = ("recorded_by_token", "recorded_by", "urgency_assessed", "review")
#: What an access record's hash covers, in addition to ``prev_hash``.
ACCESS_FIELDS = (
    "id",
    "at",
    "action",
    "status",
    "actor",
    "token_id",
    "role",
    "client",
    "referral_ids",
    "detail",
)
#: What makes two decisions "the same" for idempotency (plus the score they were made on).
IDEMPOTENCY_FIELDS = (
    "referral_id",
    "reviewer",
    "decision",
    "tier",
    "viability",
    "reason",
    "model_version",
)
#: Part of the key only when they differ from these values, so a retry of a decision
#: recorded before they existed is still recognised as the same decision.
OPTIONAL_IDEMPOTENCY_FIELDS: dict[str, Any] = {"urgency_assessed": None, "review": "first"}


def canonical_json(value: Any) -> bytes:
    """The one byte form that is hashed: sorted keys, compact separators, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def hash_time(t: datetime) -> str:
    if t.tzinfo is None:
        raise ValueError("decided_at: must carry a UTC offset")
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def record_hash(content: Mapping[str, Any], prev_hash: str) -> str:
    """The hash of one record from its :data:`HASHED_FIELDS` and the previous hash."""
    body = {k: content[k] for k in HASHED_FIELDS}
    body.update({k: content[k] for k in OPTIONAL_HASHED_FIELDS if content.get(k) is not None})
    body["decided_at"] = hash_time(body["decided_at"])
    body["prev_hash"] = prev_hash
    return hashlib.sha256(canonical_json(body)).hexdigest()


def access_hash(content: Mapping[str, Any], prev_hash: str) -> str:
    """The hash of one access record from its :data:`ACCESS_FIELDS` and the previous hash."""
    body = {k: content[k] for k in ACCESS_FIELDS}
    body["at"] = hash_time(body["at"])
    body["prev_hash"] = prev_hash
    return hashlib.sha256(canonical_json(body)).hexdigest()


def idempotency_key(content: Mapping[str, Any], score_id: int, token_id: int | None = None) -> str:
    """Identifies a decision by who sent it, what was decided and on which score.

    The score is part of the key so that, once a referral is re-scored, the same reviewer
    confirming the same tier again is a new decision (it takes the referral off the queue
    again), while a retried request for the same score is recognised as a duplicate. The
    authenticated token is part of it too (when there is one), so one person's decision can
    never be taken for another's retry and swallow it.
    """
    body = {k: content[k] for k in IDEMPOTENCY_FIELDS}
    body.update(
        {
            k: content[k]
            for k, absent in OPTIONAL_IDEMPOTENCY_FIELDS.items()
            if content.get(k, absent) != absent
        }
    )
    body["score_id"] = score_id
    if token_id is not None:
        body["recorded_by_token"] = token_id
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class Break:
    """Where the chain first breaks: the record id and why (no field values quoted)."""

    record_id: int
    reason: str


def find_break(
    records: Iterable[Mapping[Any, Any]],
    head_id: int,
    head_hash: str,
    *,
    hasher: Callable[[Mapping[str, Any], str], str] = record_hash,
    base_id: int = 0,
    base_hash: str = GENESIS,
) -> tuple[int, Break | None]:
    """Walk records in id order; return how many were checked and the first break, if any.

    ``records`` must be the rows with ``base_id < id <= head_id``, ordered by id. ``head_id``
    and ``head_hash`` come from the chain head, read *before* the records, so records
    appended concurrently are simply not part of this check. ``hasher`` is
    :func:`record_hash` (decisions) or :func:`access_hash`; ``base_*`` is where retention
    cut the chain (nothing cut: 0 and ``GENESIS``).
    """
    expected_id, prev = base_id + 1, base_hash
    checked = 0
    for rec in records:
        rid = int(rec["id"])
        if rid != expected_id:
            after = f"record {expected_id - 1}" if expected_id > 1 else "the start"
            why = f"record {expected_id} is missing (deleted?): record {rid} follows {after}"
            return checked, Break(expected_id, why)
        if rec["prev_hash"] != prev:
            return checked, Break(
                rid,
                "prev_hash does not match the previous record's hash "
                "(the previous record was altered or replaced)",
            )
        if hasher(rec, rec["prev_hash"]) != rec["hash"]:
            return checked, Break(rid, "content does not match its hash (altered after writing)")
        prev = rec["hash"]
        expected_id += 1
        checked += 1
    if base_id + checked != head_id:
        last = base_id + checked
        return checked, Break(
            last + 1,
            f"the log ends at record {last} but the chain head records {head_id} "
            "(records cut off the end?)",
        )
    if prev != head_hash:
        return checked, Break(
            base_id + checked, "the last record's hash does not match the chain head (altered?)"
        )
    return checked, None
