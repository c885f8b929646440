"""Property (issue 16): no input of any shape makes the door raise anything but a
validation error, and whatever it accepts can be turned into features (a year-1 date once
passed validation and crashed the feature clock, losing a whole batch).

Inputs: arbitrary JSON values; and valid referrals with one field anywhere replaced by an
arbitrary JSON value (numbers of any size, dates of any year, odd strings), which is where
the real failures were.
"""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from features import strict_json
from features.contract import Feedback, Referral
from features.ingest import parse_referral
from features.pipeline import build_features

DATES = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])).map(
    lambda d: d.isoformat()
) | st.datetimes(timezones=st.none()).map(lambda d: d.isoformat())
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
    | DATES
    | st.sampled_from([" ref1", "ref1 ", "", "1577836800", "0001-01-01T00:00:00+00:00"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
VALID: dict[str, Any] = {
    "referral_id": "P-1",
    "received_at": "2024-03-01T12:00:00+00:00",
    "source": "ncmec",
    "escalation_reason": None,
    "incident": {"type": "csam", "occurred_at": "2024-02-28T10:00:00Z", "annotations": []},
    "batched": {"reason": "viral_potential_meme", "accounts": 2},
    "subjects": [
        {
            "identifiers": [{"kind": "email", "value": "a@example.com"}],
            "ip_events": [{"ip": "192.0.2.1", "at": "2024-02-27T09:00:00+00:00"}],
            "age": 30,
            "location": {"country": "CA", "region": "ON"},
            "prior_reports": 2,
            "group_identifier": "g-1",
            "associated_accounts": 1,
        }
    ],
    "victims": [{"age": 12, "age_band": "pubescent"}],
    "recipients": [{"age": 13}],
    "files": [{"kind": "image", "annotations": ["infant"], "uploaded_at": "2024-02-28T10:05:00Z"}],
}


TIME_FIELDS = {"received_at", "occurred_at", "uploaded_at", "at"}
#: Only the required fields: a changed time has no other time to be checked against.
MINIMAL: dict[str, Any] = {
    "referral_id": "P-2",
    "received_at": "2024-03-01T12:00:00+00:00",
    "source": "public",
    "incident": {"type": "csam"},
}


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    doc = copy.deepcopy(draw(st.sampled_from([VALID, MINIMAL])))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        node: Any = doc
        try:
            for p in path[:-1]:
                node = node[p]
            timed = path[-1] in TIME_FIELDS
            node[path[-1]] = draw(st.one_of(DATES, JSON) if timed else JSON)
        except (KeyError, IndexError, TypeError):  # an earlier change removed the parent
            continue
    return doc


def accepts_or_explains(doc: Any, pseudonymiser: Any) -> None:
    try:
        ref = parse_referral(doc, pseudonymiser)
    except ValidationError:
        return
    assert isinstance(ref, Referral)
    feats = build_features([ref])
    assert len(feats) == 1


COMMON = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@COMMON
@given(doc=JSON)
def test_any_json_value_is_a_referral_or_a_validation_error(doc: Any, pseudonymiser: Any) -> None:
    accepts_or_explains(doc, pseudonymiser)


@COMMON
@given(doc=near_valid())
def test_a_valid_referral_with_any_field_changed_is_taken_or_refused(
    doc: dict[str, Any], pseudonymiser: Any
) -> None:
    accepts_or_explains(doc, pseudonymiser)


@COMMON
@given(value=JSON)
def test_any_json_value_is_feedback_or_a_validation_error(value: Any) -> None:
    with contextlib.suppress(ValidationError):
        Feedback.model_validate(value)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | JSON.map(json.dumps))
def test_the_json_reader_raises_only_its_own_problem(text: str) -> None:
    with contextlib.suppress(strict_json.JsonProblem):
        strict_json.loads(text)
