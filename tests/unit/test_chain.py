"""The decision log's hash chain (serving/chain.py), as pure functions: each hashed field,
a rewritten record, a rewritten last record, gaps and cut-offs.

The fields the hash must cover are listed here from the store's promise ("changing any
field of a stored record changes its hash", docs/service.md), not read from
``HASHED_FIELDS``, so dropping one from the code fails a test. The known answers were
computed once outside this code: SHA-256 of the sorted, compact, UTF-8 JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from serving.chain import GENESIS, find_break, hash_time, idempotency_key, record_hash

CONTENT: dict[str, Any] = {
    "id": 1,
    "referral_id": "R-1",
    "score_id": 7,
    "reviewer": "night-shift",
    "decision": "override",
    "tier": "high",
    "viability": "lead",
    "reason": "seen before: é",
    "model_version": "3",
    "decided_at": datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
    "idempotency_key": "k" * 64,
}
#: Every field of a decision the chain must protect, and an edit of each.
EDITS: dict[str, Any] = {
    "id": 2,
    "referral_id": "R-other",
    "score_id": 8,
    "reviewer": "someone-else",
    "decision": "confirm",
    "tier": "immediate",
    "viability": "package",
    "reason": "another reason",
    "model_version": "4",
    "decided_at": datetime(2024, 5, 1, 12, 0, 0, 1, tzinfo=UTC),
    "idempotency_key": "j" * 64,
}
OPTIONAL_EDITS: dict[str, Any] = {"recorded_by_token": 5, "recorded_by": "desk-3"}


def test_known_answer_record_hash() -> None:
    assert (
        record_hash(CONTENT, GENESIS)
        == "fddb2545892c5d4fd771d547513c90b8c6a0bc1a435c3c11f05015a9ac8cbc49"
    )
    with_token = {**CONTENT, "recorded_by_token": 4, "recorded_by": "desk-2"}
    assert (
        record_hash(with_token, GENESIS)
        == "373288b3ce5208eee972e3b9a0d09bf7032e3706a0af5f437fdb7d6165667156"
    )
    assert record_hash({**CONTENT, "recorded_by_token": None, "recorded_by": None}, GENESIS) == (
        record_hash(CONTENT, GENESIS)
    ), "records made before the token fields existed hash as before"


def test_known_answer_idempotency_key() -> None:
    assert (
        idempotency_key(CONTENT, 7)
        == "dbe8659b3406bade0a272072af28e211c0a997f626d2d6a8fdcaf04e59137667"
    )
    assert idempotency_key(CONTENT, 8) != idempotency_key(CONTENT, 7), "the score is in the key"
    assert idempotency_key({**CONTENT, "decided_at": None, "id": 9}, 7) == idempotency_key(
        CONTENT, 7
    ), "a retry later is the same decision"


def test_times_hash_as_utc_microseconds() -> None:
    assert hash_time(datetime(2024, 5, 1, 8, 0, tzinfo=timezone(timedelta(hours=-4)))) == (
        "2024-05-01T12:00:00.000000+00:00"
    )
    with pytest.raises(ValueError) as e:
        hash_time(datetime(2024, 5, 1, 12, 0))
    assert str(e.value) == "decided_at: must carry a UTC offset"


def test_canonical_json_is_one_byte_form() -> None:
    from serving.chain import canonical_json

    assert canonical_json({"b": 1, "a": ["é", 2.5]}) == '{"a":["é",2.5],"b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"a": float("nan")})


def chain(n: int, **extra: Any) -> list[dict[str, Any]]:
    """``n`` records linked from GENESIS, as the store writes them."""
    out: list[dict[str, Any]] = []
    prev = GENESIS
    for i in range(1, n + 1):
        rec = {**CONTENT, **extra, "id": i, "referral_id": f"R-{i}", "prev_hash": prev}
        rec["hash"] = record_hash(rec, prev)
        prev = rec["hash"]
        out.append(rec)
    return out


def verify(records: list[dict[str, Any]], head_id: int | None = None, head: str | None = None):
    last = records[-1] if records else None
    head_id = (last["id"] if last else 0) if head_id is None else head_id
    head = (last["hash"] if last else GENESIS) if head is None else head
    return find_break(records, head_id, head)


def test_an_intact_chain_verifies() -> None:
    records = chain(4)
    assert verify(records) == (4, None)
    assert find_break([], 0, GENESIS) == (0, None)


@pytest.mark.parametrize("field", sorted(EDITS))
def test_editing_any_hashed_field_breaks_the_chain(field: str) -> None:
    records = chain(3)
    head_id, head = records[-1]["id"], records[-1]["hash"]
    records[1][field] = EDITS[field] if field != "id" else records[1]["id"]
    if field == "id":  # an id cannot change alone without a gap: change its hash input
        assert (
            record_hash({**records[1], "id": 99}, records[1]["prev_hash"]) != (records[1]["hash"])
        )
        return
    checked, brk = verify(records, head_id, head)
    assert brk is not None and brk.record_id == 2 and checked == 1
    assert brk.reason == "content does not match its hash (altered after writing)"


@pytest.mark.parametrize("field", sorted(OPTIONAL_EDITS))
def test_editing_who_recorded_it_breaks_the_chain(field: str) -> None:
    records = chain(3, recorded_by_token=4, recorded_by="desk-2")
    head_id, head = records[-1]["id"], records[-1]["hash"]
    records[1][field] = OPTIONAL_EDITS[field]
    checked, brk = verify(records, head_id, head)
    assert brk is not None and brk.record_id == 2 and checked == 1


def test_a_rewritten_record_with_its_own_hash_is_caught_by_its_successor() -> None:
    records = chain(3)
    head_id, head = records[-1]["id"], records[-1]["hash"]
    records[1]["reviewer"] = "someone-else"
    records[1]["hash"] = record_hash(records[1], records[1]["prev_hash"])  # self-consistent
    checked, brk = verify(records, head_id, head)
    assert brk is not None and brk.record_id == 3 and checked == 2
    assert brk.reason == (
        "prev_hash does not match the previous record's hash "
        "(the previous record was altered or replaced)"
    )


def test_a_rewritten_last_record_is_caught_by_the_head() -> None:
    records = chain(3)
    head_id, head = records[-1]["id"], records[-1]["hash"]
    records[2]["tier"] = "routine"
    records[2]["hash"] = record_hash(records[2], records[2]["prev_hash"])
    checked, brk = verify(records, head_id, head)
    assert brk is not None and brk.record_id == 3 and checked == 3
    assert brk.reason == "the last record's hash does not match the chain head (altered?)"


def test_a_deleted_first_or_middle_record_leaves_a_gap() -> None:
    records = chain(4)
    head_id, head = records[-1]["id"], records[-1]["hash"]
    checked, brk = verify([records[0], *records[2:]], head_id, head)
    assert brk is not None and brk.record_id == 2 and checked == 1
    assert "record 2 is missing" in brk.reason and "follows record 1" in brk.reason
    checked, brk = verify(records[1:], head_id, head)
    assert brk is not None and brk.record_id == 1 and checked == 0
    assert "follows the start" in brk.reason


def test_records_cut_off_the_end_are_caught_by_the_head() -> None:
    records = chain(4)
    head_id, head = records[-1]["id"], records[-1]["hash"]
    checked, brk = verify(records[:2], head_id, head)
    assert brk is not None and brk.record_id == 3 and checked == 2
    assert brk.reason == (
        "the log ends at record 2 but the chain head records 4 (records cut off the end?)"
    )


def test_a_first_record_not_linked_to_genesis_is_caught() -> None:
    records = chain(2)
    records[0]["prev_hash"] = "f" * 64
    records[0]["hash"] = record_hash(records[0], records[0]["prev_hash"])
    checked, brk = verify(records, 2, records[-1]["hash"])
    assert brk is not None and brk.record_id == 1 and checked == 0
