"""Property: any referral restricted to what the XML can express survives JSON -> XML -> JSON.

The restrictions are exactly the documented losses (``docs/xml-mapping.md``): one ESP id
and one screen name per subject, ``verified`` only on e-mails and phones, no age band /
identified / access-to-children / known-offender, no ``similar`` hash match, and in a
batched report every subject says something and there are at least as many accounts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_xml_adapter import normalised, roundtrip
from xml_support import load_schema, xsd_errors

from features.contract import FileAnnotation, IncidentAnnotation, IncidentType, Source
from features.xml_export import referral_to_xml
from features.xml_vocab import CHANNELS, IP_EVENTS

WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789._- ", min_size=1, max_size=16).filter(
    lambda s: s.strip() != ""
)
OPT_WORD = st.none() | WORD
OPT_BOOL = st.none() | st.booleans()
TZ = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))])
WHEN = st.datetimes(datetime(2015, 1, 1), datetime(2024, 12, 31), timezones=TZ).map(
    lambda d: d.replace(microsecond=0).isoformat()
)
COUNTRIES = st.sampled_from(["CA", "US", "GB", "A1", "FR", None])


def _subset(values: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), unique=True, max_size=3)


LOCATION = st.none() | st.fixed_dictionaries(
    {"country": COUNTRIES, "region": OPT_WORD, "city": OPT_WORD, "verified": OPT_BOOL}
).filter(lambda loc: any(v is not None for v in loc.values()))


@st.composite
def identifiers(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(0, 2))):
        value = draw(WORD) + "@example.com"
        out.append({"kind": "email", "value": value, "verified": draw(OPT_BOOL)})
    for _ in range(draw(st.integers(0, 2))):
        value = f"+1-555-01{draw(st.integers(0, 99)):02d}"
        out.append({"kind": "phone", "value": value, "verified": draw(OPT_BOOL)})
    for kind in ("esp_user_id", "screen_name"):
        if draw(st.booleans()):
            out.append({"kind": kind, "value": draw(WORD), "verified": None})
    for kind in ("display_name", "profile_url", "device_id"):
        for value in draw(st.lists(WORD, max_size=2)):
            out.append({"kind": kind, "value": value, "verified": None})
    return out


IP_EVENT = st.fixed_dictionaries(
    {
        "ip": st.ip_addresses().map(str),
        "event": st.sampled_from(sorted(IP_EVENTS.values())),
        "at": st.none() | WHEN,
        "possible_proxy": OPT_BOOL,
    }
)
SUBJECT = st.fixed_dictionaries(
    {
        "identifiers": identifiers(),
        "ip_events": st.lists(IP_EVENT, max_size=3),
        "age": st.none() | st.integers(0, 120),
        "location": LOCATION,
        "prior_reports": st.integers(0, 4),
        "group_identifier": OPT_WORD,
        "associated_accounts": st.integers(0, 3),
        "account_disabled": OPT_BOOL,
        "compromised_account": OPT_BOOL,
    }
)
FILE = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["image", "video", "other"]),
        "hash_match": st.sampled_from(["known", "none", "unchecked"]),
        "viewed_by_reporter": OPT_BOOL,
        "publicly_available": OPT_BOOL,
        "relevance": st.sampled_from(["reported", "supplemental"]),
        "classification": st.sampled_from(["A1", "A2", "B1", "B2", None]),
        "annotations": _subset(FileAnnotation.__args__),
        "uploaded_at": st.none() | WHEN,
    }
)


def _says_something(s: dict[str, Any]) -> bool:
    keys = ("identifiers", "ip_events", "age", "location", "group_identifier")
    flags = ("account_disabled", "compromised_account")
    return (
        any(s[k] for k in keys)
        or s["age"] == 0
        or any(s[f] is not None for f in flags)
        or (s["prior_reports"] > 0 or s["associated_accounts"] > 0)
    )


@st.composite
def referrals(draw: st.DrawFn) -> dict[str, Any]:
    subjects = draw(st.lists(SUBJECT, max_size=3))
    batched = None
    if draw(st.booleans()):
        subjects = [s for s in subjects if _says_something(s)]
        batched = {
            "reason": "viral_potential_meme",
            "accounts": draw(st.integers(max(1, len(subjects)), len(subjects) + 5)),
        }
    return {
        "referral_id": "P-" + str(draw(st.integers(0, 10**6))),
        "received_at": "2024-12-31T23:00:00+00:00",
        "source": draw(st.sampled_from(Source.__args__)),
        "source_priority": draw(st.sampled_from([None, "E", "1", "2", "3"])),
        "escalation_reason": draw(OPT_WORD),
        "incident": {
            "type": draw(st.sampled_from(IncidentType.__args__)),
            "occurred_at": draw(st.none() | WHEN),
            "platform": draw(OPT_WORD),
            "channel": draw(st.sampled_from([*CHANNELS.values(), "unknown"])),
            "annotations": draw(_subset(IncidentAnnotation.__args__)),
        },
        "batched": batched,
        "subjects": subjects,
        "victims": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "age": st.none() | st.integers(0, 17),
                        "location": LOCATION,
                        "school_known": st.booleans(),
                    }
                ),
                max_size=2,
            )
        ),
        "recipients": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "age": st.none() | st.integers(0, 120),
                        "location": LOCATION,
                    }
                ),
                max_size=2,
            )
        ),
        "files": draw(st.lists(FILE, max_size=4)),
        "bsi_included": draw(st.booleans()),
        "narrative": draw(OPT_WORD),
    }


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=referrals())
def test_expressible_referrals_round_trip(doc: dict[str, Any], pseudonymiser: Any) -> None:
    """Our export and our reader only: no XSD needed."""
    assert normalised(roundtrip(doc), pseudonymiser) == normalised(doc, pseudonymiser)


@pytest.fixture(scope="module")
def schema() -> Any:
    return load_schema()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=referrals())
def test_exported_referrals_validate_against_the_xsd(doc: dict[str, Any], schema: Any) -> None:
    assert xsd_errors(schema, referral_to_xml(doc)) == []
