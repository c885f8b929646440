"""Shared helpers for the XML adapter tests: fixture paths, the XSD, a rich referral."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from skipping import unavailable

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "xml"
KNOWN_LIST = FIXTURES / "known_hashes.txt"
FIXTURE_FILES = sorted(FIXTURES.glob("*.xml"))
XSD_NAME = Path("shared") / "reference" / "cybertipline-report.xsd"


def find_xsd() -> Path | None:
    """NCMEC's published XSD lives in the project's ``shared/`` folder, never inside the
    repository: beside a clone (``../shared``) or higher up (``main`` and the worktrees
    share one). ``TRIAGE_SHARED_DIR`` names the folder when it is elsewhere."""
    if os.environ.get("TRIAGE_SHARED_DIR"):
        candidates = [Path(os.environ["TRIAGE_SHARED_DIR"]) / XSD_NAME.relative_to("shared")]
    else:
        candidates = [parent / XSD_NAME for parent in REPO.parents]
    return next((c for c in candidates if c.is_file()), None)


def load_schema() -> Any:
    """The XSD, for the tests that check exported XML against it (the round trip itself
    needs no XSD). Skips, with what to do, only outside CI."""
    xsd = find_xsd()
    if xsd is None:
        where = os.environ.get("TRIAGE_SHARED_DIR") or f"any folder above {REPO}"
        unavailable(
            f"the reference XSD ({XSD_NAME}) was not found in {where}: put the project's "
            "shared/ folder beside this clone, or set TRIAGE_SHARED_DIR to it"
        )
    import xmlschema

    return xmlschema.XMLSchema(str(xsd))


def xsd_errors(schema: Any, xml: bytes) -> list[str]:
    """Validate each child of ``<referral>`` (``report``, ``fileDetails``) as a global element."""
    import defusedxml.ElementTree as safe_et

    root = safe_et.fromstring(xml, forbid_dtd=True)
    assert root.tag == "referral"
    assert [c.tag for c in root].count("report") == 1
    errors = []
    for child in root:
        assert child.tag in ("report", "fileDetails")
        errors += [f"{child.tag}: {e.reason} at {e.path}" for e in schema.iter_errors(child)]
    return errors


RICH: dict[str, Any] = {
    "referral_id": "RT-0001",
    "received_at": "2024-02-01T12:00:00+00:00",
    "source": "ncmec",
    "source_priority": "1",
    "escalation_reason": "Placeholder escalation text.",
    "incident": {
        "type": "online_enticement",
        "occurred_at": "2024-01-30T08:00:00-05:00",
        "platform": "FictionChat",
        "channel": "chat",
        "annotations": ["sextortion", "minor_to_minor"],
    },
    "batched": None,
    "subjects": [
        {
            "identifiers": [
                {"kind": "email", "value": "rt.subject@example.com", "verified": True},
                {"kind": "email", "value": "rt.other@example.com", "verified": None},
                {"kind": "phone", "value": "+1-555-0177", "verified": False},
                {"kind": "esp_user_id", "value": "rt-esp-1", "verified": None},
                {"kind": "screen_name", "value": "rt_screen", "verified": None},
                {"kind": "display_name", "value": "RT Display", "verified": None},
                {
                    "kind": "profile_url",
                    "value": "https://fiction.example.com/rt",
                    "verified": None,
                },
                {"kind": "device_id", "value": "rt-device-1", "verified": None},
            ],
            "ip_events": [
                {
                    "ip": "192.0.2.77",
                    "event": "login",
                    "at": "2024-01-30T07:00:00+00:00",
                    "possible_proxy": True,
                },
                {"ip": "2001:db8::77", "event": "unknown", "at": None, "possible_proxy": None},
            ],
            "age": 41,
            "location": {"country": "CA", "region": "BC", "city": "Example City", "verified": True},
            "prior_reports": 3,
            "group_identifier": "rt-group",
            "associated_accounts": 2,
            "account_disabled": False,
            "compromised_account": True,
            "access_to_children": None,
            "known_offender": None,
        },
        {
            "identifiers": [{"kind": "screen_name", "value": "rt_second", "verified": None}],
            "ip_events": [],
            "location": {"country": "A1", "region": None, "city": None, "verified": False},
        },
    ],
    "victims": [
        {
            "age": 12,
            "age_band": "unknown",
            "identified": None,
            "location": None,
            "school_known": True,
        },
        {
            "age": None,
            "location": {"country": "US", "region": "WA", "city": None, "verified": None},
        },
    ],
    "recipients": [{"age": 13, "location": None}, {"age": None, "location": None}],
    "files": [
        {
            "kind": "image",
            "hash_match": "known",
            "viewed_by_reporter": True,
            "publicly_available": False,
            "relevance": "reported",
            "classification": "A2",
            "annotations": ["generative_ai", "infant"],
            "uploaded_at": "2024-01-30T07:30:00+00:00",
        },
        {"kind": "video", "hash_match": "none", "relevance": "supplemental", "annotations": []},
        {"kind": "other", "hash_match": "unchecked", "viewed_by_reporter": False},
    ],
    "bsi_included": True,
    "narrative": "Placeholder narrative.",
}


def rich(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(RICH)
    doc.update(changes)
    return doc
