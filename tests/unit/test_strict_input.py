"""Strict input at the door (issue 16): each input a hostile client sent is refused with the
field named, in a single document and inside a list (where the others are still taken).

The expected paths and bounds are written here from ``docs/service.md`` ("What the door
refuses"), not read from the code's constants.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from features import strict_json
from features.contract import Feedback
from features.ingest import parse_documents, parse_referral, problems_from, read_jsonl


def base() -> dict[str, Any]:
    return {
        "referral_id": "S-1",
        "received_at": "2024-03-01T12:00:00+00:00",
        "source": "industry",
        "incident": {"type": "csam", "occurred_at": "2024-02-28T10:00:00Z"},
        "subjects": [{"ip_events": [{"ip": "192.0.2.1", "at": "2024-02-27T09:00:00+00:00"}]}],
        "files": [{"uploaded_at": "2024-02-28T10:05:00+01:00"}],
        "batched": {"accounts": 3},
    }


def put(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node: Any = doc
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[int(last) if last.isdigit() else last] = value
    return doc


def problems(doc: dict[str, Any], pseudonymiser: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as e:
        parse_referral(doc, pseudonymiser)
    return {p.path: p.reason for p in problems_from(e.value)}


BAD: list[tuple[str, Any]] = [
    # times: text with an offset only, no epoch numbers, from 1990 on
    ("received_at", 1577836800),
    ("received_at", 1577836800.5),
    ("received_at", "1577836800"),
    ("received_at", True),
    ("received_at", "2024-03-01T12:00:00"),
    ("received_at", "2024-03-01"),
    ("received_at", "0001-01-01T00:00:00+00:00"),
    ("received_at", "1500-06-01T00:00:00+00:00"),
    ("received_at", "1677-01-01T00:00:00+00:00"),
    ("received_at", "1989-12-31T23:59:59+00:00"),
    ("received_at", "9999-01-01T00:00:00+00:00"),
    ("incident.occurred_at", 1577836800),
    ("incident.occurred_at", "1677-01-01T00:00:00+00:00"),
    ("incident.occurred_at", "9999-01-01T00:00:00+00:00"),
    ("incident.occurred_at", "2024-03-02T12:00:01+00:00"),  # a day and a second after receipt
    ("files.0.uploaded_at", 1577836800),
    ("files.0.uploaded_at", "1000-01-01T00:00:00+00:00"),
    ("files.0.uploaded_at", "2030-01-01T00:00:00+00:00"),
    ("subjects.0.ip_events.0.at", 1577836800000),
    ("subjects.0.ip_events.0.at", "2030-01-01T00:00:00+00:00"),
    # ids exactly as the pattern: never trimmed
    ("referral_id", " S-1"),
    ("referral_id", "S-1 "),
    ("referral_id", "S 1"),
    ("referral_id", ""),
    ("referral_id", "x" * 65),
    # bounded integers
    ("subjects.0.prior_reports", 100_001),
    ("subjects.0.prior_reports", 10**308),
    ("subjects.0.prior_reports", 10**309),
    ("subjects.0.associated_accounts", 1_000_001),
    ("subjects.0.associated_accounts", -1),
    ("batched.accounts", 1_000_001),
    ("batched.accounts", 0),
]


@pytest.mark.parametrize(("path", "value"), BAD, ids=[f"{p}={v!r}"[:60] for p, v in BAD])
def test_a_bad_value_is_refused_naming_its_field(path, value, pseudonymiser) -> None:
    found = problems(put(base(), path, value), pseudonymiser)
    assert list(found) == [path], found
    assert str(value) not in found[path] or len(str(value)) < 3, "never echo the value"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("received_at", "1990-01-01T00:00:00+00:00"),
        ("received_at", "2024-03-01T12:00:00Z"),
        ("received_at", "2024-03-01T07:00:00.123456-05:00"),
        ("incident.occurred_at", "2024-03-02T12:00:00+00:00"),  # exactly a day later
        ("subjects.0.prior_reports", 100_000),
        ("subjects.0.associated_accounts", 1_000_000),
        ("batched.accounts", 1_000_000),
        ("referral_id", "a" * 64),
        ("referral_id", "A.b_c:d-9"),
    ],
)
def test_the_edges_of_each_rule_are_accepted(path, value, pseudonymiser) -> None:
    doc = put(base(), path, value)
    if path == "received_at":  # the other times would follow it by decades
        doc = put(put(doc, "incident.occurred_at", None), "files.0.uploaded_at", None)
        doc = put(doc, "subjects.0.ip_events.0.at", None)
    parse_referral(doc, pseudonymiser)


def test_a_bad_referral_in_a_list_is_rejected_alone(pseudonymiser) -> None:
    docs = [
        put(base(), "referral_id", "ok-1"),
        put(base(), "received_at", "0001-01-01T00:00:00+00:00"),
        put(base(), "referral_id", "ok-2"),
    ]
    docs[1]["referral_id"] = "bad-1"
    batch = parse_documents(docs, pseudonymiser)
    assert [r.referral_id for r in batch.referrals] == ["ok-1", "ok-2"]
    assert [(r.index, r.referral_id) for r in batch.rejected] == [(1, "bad-1")]
    assert [p.path for p in batch.rejected[0].problems] == ["received_at"]


def test_feedback_ids_and_lengths_are_exact() -> None:
    good = {
        "referral_id": "S-1",
        "reviewer": "r",
        "decision": "confirm",
        "tier": "high",
        "viability": "lead",
        "model_version": "3",
    }
    Feedback.model_validate(good)
    for field, value in [("referral_id", " S-1"), ("model_version", "9" * 129)]:
        with pytest.raises(ValidationError) as e:
            Feedback.model_validate({**good, field: value})
        assert [p.path for p in problems_from(e.value)] == [field]


def test_an_override_without_reason_names_reason() -> None:
    doc = {
        "referral_id": "S-1",
        "reviewer": "r",
        "decision": "override",
        "tier": "high",
        "viability": "lead",
        "model_version": "3",
    }
    with pytest.raises(ValidationError) as e:
        Feedback.model_validate(doc)
    assert [p.path for p in problems_from(e.value)] == ["reason"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"referral_id": "a", "referral_id": "b"}', "duplicate key 'referral_id'"),
        ('{"incident": {"type": "csam", "type": "trafficking"}}', "duplicate key 'type'"),
        ('{"someone@example.com": 1, "someone@example.com": 2}', "not a contract field"),
        ('{"prior_reports": NaN}', "NaN is not a JSON number"),
        ('{"prior_reports": -Infinity}', "-Infinity is not a JSON number"),
        ('{"prior_reports": ' + "9" * 5000 + "}", "too many digits"),
        ('{"a": ', "not valid JSON"),
        ("[" * 100_000, "nested too deeply"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_strict_json_refuses_what_json_loads_would_take(text, words) -> None:
    with pytest.raises(strict_json.JsonProblem) as e:
        strict_json.loads(text)
    assert words in str(e.value)
    assert "someone@example.com" not in str(e.value)


def test_a_json_lines_file_rejects_a_line_with_a_duplicate_key(tmp_path: Path, pseudonymiser):
    good = json.dumps(base())
    dup = good[:-1] + ', "source": "public"}'
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([good.replace("S-1", "L-1"), dup, good]) + "\n", encoding="utf-8")
    batch = read_jsonl(path, pseudonymiser)
    assert [r.referral_id for r in batch.referrals] == ["L-1", "S-1"]
    assert [r.index for r in batch.rejected] == [1]
    assert "duplicate key 'source'" in str(batch.rejected[0].problems[0])
