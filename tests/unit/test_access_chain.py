"""The access log's hash (who read what, ``serving/chain.py`` ``access_hash``) and the
decision idempotency key's authenticated token and optional fields, as pure functions.

The fields the access hash must cover are listed here from the access log's promise
(``serving/access_log.py``: when, what, status, who, with which token and role, from
where, which referrals, and the chain link), not read from ``ACCESS_FIELDS``. The known
answer was computed outside this code: SHA-256 of the sorted, compact, UTF-8 JSON with
the time as UTC ISO 8601 with microseconds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from serving.chain import GENESIS, access_hash, find_break, hash_time, idempotency_key

ACCESS: dict[str, Any] = {
    "id": 1,
    "at": datetime(2026, 11, 30, 4, 0, tzinfo=UTC),
    "action": "read",
    "status": 200,
    "actor": "Reviewer Ada",
    "token_id": 7,
    "role": "reviewer",
    "client": "192.0.2.10",
    "referral_ids": ["R-1", "R-2"],
    "detail": "GET /referrals/{id}",
}
ACCESS_EDITS: dict[str, Any] = {
    "id": 2,
    "at": datetime(2026, 11, 30, 4, 0, 0, 1, tzinfo=UTC),
    "action": "refused",
    "status": 403,
    "actor": "Reviewer Bo",
    "token_id": 8,
    "role": "admin",
    "client": "198.51.100.7",
    "referral_ids": ["R-1"],
    "detail": "GET /queue",
}


def test_known_answer_access_hash() -> None:
    assert access_hash(ACCESS, GENESIS) == (
        "bc2a78f7a020f9cd5d2d484f29975a52788ad484ec4d32628fa6e0ec51aa6cbe"
    )


def test_the_same_instant_in_another_offset_hashes_the_same() -> None:
    elsewhere = ACCESS["at"].astimezone(timezone(timedelta(hours=2)))
    assert access_hash({**ACCESS, "at": elsewhere}, GENESIS) == access_hash(ACCESS, GENESIS)


@pytest.mark.parametrize("field", sorted(ACCESS_EDITS))
def test_editing_any_access_field_changes_its_hash(field: str) -> None:
    assert access_hash({**ACCESS, field: ACCESS_EDITS[field]}, GENESIS) != access_hash(
        ACCESS, GENESIS
    )


def test_the_link_is_hashed_so_a_rewritten_access_record_is_caught() -> None:
    assert access_hash(ACCESS, "f" * 64) != access_hash(ACCESS, GENESIS)
    first = {**ACCESS, "prev_hash": GENESIS}
    first["hash"] = access_hash(first, GENESIS)
    second = {**ACCESS, "id": 2, "prev_hash": first["hash"]}
    second["hash"] = access_hash(second, first["hash"])
    assert find_break([first, second], 2, second["hash"], hasher=access_hash) == (2, None)
    # record 1 rewritten with a consistent hash of its own: record 2's link no longer fits
    forged = {**first, "referral_ids": ["R-3"]}
    forged["hash"] = access_hash(forged, GENESIS)
    _, broken = find_break([forged, second], 2, second["hash"], hasher=access_hash)
    assert broken is not None and broken.record_id == 2


DECISION: dict[str, Any] = {
    "referral_id": "R-1",
    "reviewer": "night-shift",
    "decision": "override",
    "tier": "high",
    "viability": "lead",
    "reason": "seen before: é",
    "model_version": "3",
}


def test_known_answer_idempotency_key_with_a_token() -> None:
    assert idempotency_key(DECISION, 7, token_id=5) == (
        "71435bc027859611795970ce7591af01b6c3ea9649fbef392dc4f222b96b6f1b"
    )


def test_the_same_decision_by_two_tokens_is_two_decisions() -> None:
    keys = {
        idempotency_key(DECISION, 7, token_id=5),
        idempotency_key(DECISION, 7, token_id=6),
        idempotency_key(DECISION, 7),
    }
    assert len(keys) == 3
    assert idempotency_key(DECISION, 7, token_id=5) == idempotency_key(dict(DECISION), 7, 5)


def test_optional_fields_count_only_when_they_say_something() -> None:
    plain = idempotency_key(DECISION, 7)
    assert idempotency_key({**DECISION, "urgency_assessed": None, "review": "first"}, 7) == plain
    assert idempotency_key({**DECISION, "urgency_assessed": "high"}, 7) != plain
    blind = {**DECISION, "urgency_assessed": "high", "review": "second_blind"}
    assert idempotency_key(blind, 7) != idempotency_key({**DECISION, "urgency_assessed": "high"}, 7)


def test_times_hash_as_utc_whatever_the_hosts_zone(monkeypatch) -> None:
    """A service host set to local time must not change any hash (POSIX zone, no tzdata)."""
    monkeypatch.setenv("TZ", "XYZ3")  # three hours west of UTC
    time.tzset()
    try:
        at = datetime(2024, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=-4)))
        assert hash_time(at) == "2024-05-01T12:00:00.000000+00:00"
        assert access_hash(ACCESS, GENESIS) == (
            "bc2a78f7a020f9cd5d2d484f29975a52788ad484ec4d32628fa6e0ec51aa6cbe"
        )
    finally:
        monkeypatch.undo()
        time.tzset()
