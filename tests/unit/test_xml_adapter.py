"""The XML adapter: fixtures are XSD-valid, map to valid referrals, and round-trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from xml_support import FIXTURE_FILES, KNOWN_LIST, load_schema, rich, xsd_errors

from features.ingest import parse_documents
from features.known_hashes import load_known_hashes
from features.xml_adapter import XmlRejected, read_referral_file, read_referral_xml
from features.xml_export import known_hashes_for, referral_to_xml, write_referral_xml


@pytest.fixture(scope="module")
def schema() -> Any:
    return load_schema()


@pytest.fixture(scope="module")
def known() -> frozenset[str]:
    return load_known_hashes([KNOWN_LIST])


def read(name: str, known: frozenset[str] | None) -> dict[str, Any]:
    return read_referral_file(Path(KNOWN_LIST.parent / name), known=known)


def test_there_is_a_fixture_for_each_case() -> None:
    names = {p.stem for p in FIXTURE_FILES}
    assert {
        "full_report",
        "minimal_report",
        "batched_viral",
        "hashed_files",
        "escalation",
        "ip_events_proxy",
        "proxy_location_a1",
        "victim_age",
        "multiple_subjects",
    } <= names


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixture_report_and_files_validate_against_xsd(schema: Any, path: Path) -> None:
    assert xsd_errors(schema, path.read_bytes()) == []


def test_fixtures_map_to_valid_referrals(known: frozenset[str], pseudonymiser: Any) -> None:
    docs = [read_referral_file(p, known=known) for p in FIXTURE_FILES]
    batch = parse_documents(docs, pseudonymiser)
    assert [r.as_dict() for r in batch.rejected] == []
    assert len(batch.good) == len(FIXTURE_FILES)


def test_full_report(known: frozenset[str]) -> None:
    doc = read("full_report.xml", known)
    assert (doc["source"], doc["source_priority"], doc["bsi_included"]) == ("ncmec", "2", True)
    assert doc["incident"] == {
        "type": "csam",
        "occurred_at": "2024-03-10T14:05:00+00:00",
        "platform": "Examplegram",
        "channel": "web",
        "annotations": ["csam_solicitation", "spam"],
    }
    (s,) = doc["subjects"]
    kinds = [(i["kind"], i["verified"]) for i in s["identifiers"]]
    assert kinds == [
        ("phone", True),
        ("email", True),
        ("email", False),
        ("esp_user_id", None),
        ("screen_name", None),
        ("display_name", None),
        ("profile_url", None),
        ("device_id", None),
    ]
    assert [(e["event"], e["possible_proxy"]) for e in s["ip_events"]] == [
        ("login", False),
        ("upload", None),
    ]
    assert s["prior_reports"] == 2  # two distinct prior report ids, one repeated
    assert (s["associated_accounts"], s["account_disabled"], s["compromised_account"]) == (
        2,
        True,
        False,
    )
    assert s["age"] == 34 and s["group_identifier"] == "placeholder-group-7"
    assert s["location"] == {"country": "CA", "region": "ON", "city": "Ottawa", "verified": True}
    assert doc["victims"][0]["age"] == 14 and doc["victims"][0]["school_known"] is True
    assert doc["recipients"][0]["age"] == 14
    assert doc["narrative"] == "Placeholder additional information."
    assert [(f["kind"], f["hash_match"], f["relevance"]) for f in doc["files"]] == [
        ("image", "known", "reported"),
        ("video", "unchecked", "supplemental"),
    ]
    assert doc["files"][0]["classification"] == "B2"
    assert doc["files"][0]["annotations"] == ["possible_self_production"]


def test_minimal_report_leaves_everything_else_empty(known: frozenset[str]) -> None:
    doc = read("minimal_report.xml", known)
    assert doc["incident"]["type"] == "misleading_domain"
    assert doc["incident"]["channel"] == "unknown"
    assert doc["subjects"] == doc["victims"] == doc["files"] == []
    assert doc["escalation_reason"] is None and doc["batched"] is None


def test_batched_viral_report_counts_accounts_not_subjects(known: frozenset[str]) -> None:
    doc = read("batched_viral.xml", known)
    assert doc["batched"] == {"reason": "viral_potential_meme", "accounts": 4}
    assert doc["subjects"] == []
    assert doc["files"][0]["annotations"] == ["potential_meme", "viral"]
    assert doc["files"][0]["publicly_available"] is True


def test_hash_match_against_known_lists(known: frozenset[str]) -> None:
    doc = read("hashed_files.xml", known)
    assert [f["hash_match"] for f in doc["files"]] == ["known", "none", "unchecked", "known"]
    assert [f["kind"] for f in doc["files"]] == ["image", "video", "other", "image"]
    assert doc["files"][3]["annotations"] == ["potential_meme"]  # the lone legacy flag
    empty = read("hashed_files.xml", frozenset())
    assert [f["hash_match"] for f in empty["files"]] == ["none", "none", "unchecked", "none"]
    no_lists = read("hashed_files.xml", None)  # nothing configured: nothing was checked
    assert {f["hash_match"] for f in no_lists["files"]} == {"unchecked"}


def test_escalation(known: frozenset[str]) -> None:
    doc = read("escalation.xml", known)
    assert doc["escalation_reason"] == "Placeholder escalation reason for testing."
    assert doc["incident"]["annotations"] == ["sextortion", "minor_to_minor"]
    assert doc["incident"]["channel"] == "chat" and doc["source_priority"] == "E"
    assert doc["subjects"][0]["account_disabled"] is True


def test_ip_capture_events(known: frozenset[str]) -> None:
    (s,) = read("ip_events_proxy.xml", known)["subjects"]
    assert [(e["event"], e["possible_proxy"]) for e in s["ip_events"]] == [
        ("registration", True),
        ("purchase", False),
        ("unknown", None),
        ("other", None),
    ]
    assert s["ip_events"][1]["at"] == "2024-08-14T19:58:00-04:00"
    assert s["ip_events"][3]["ip"] == "203.0.113.77"  # the P2P capture belongs to the subject


def test_offset_less_times_are_read_as_utc(known: frozenset[str]) -> None:
    assert read("ip_events_proxy.xml", known)["incident"]["occurred_at"] == (
        "2024-08-14T20:00:00+00:00"
    )


def test_anonymous_proxy_location(known: frozenset[str]) -> None:
    (s,) = read("proxy_location_a1.xml", known)["subjects"]
    assert s["location"] == {"country": "A1", "region": None, "city": None, "verified": False}
    assert s["ip_events"][0]["possible_proxy"] is True


def test_victim_ages(known: frozenset[str]) -> None:
    victims = read("victim_age.xml", known)["victims"]
    assert [v["age"] for v in victims] == [9, 13, None]  # DOB on the incident day; 19 is no child
    assert victims[1]["location"] == {
        "country": "CA",
        "region": "MB",
        "city": "Winnipeg",
        "verified": None,
    }
    assert [v["age_band"] for v in victims] == ["unknown"] * 3


def test_multiple_people(known: frozenset[str]) -> None:
    doc = read("multiple_subjects.xml", known)
    assert len(doc["subjects"]) == 3
    assert doc["subjects"][1]["age"] == 33  # born 1990-10-02, incident 2024-10-01
    assert doc["subjects"][2]["compromised_account"] is True
    assert doc["recipients"] == [{"age": 14, "location": None}]
    assert doc["incident"]["channel"] == "gaming"  # the first internetDetails


def _xml(
    report: str, attrs: str = 'id="X-1" receivedAt="2024-01-01T00:00:00Z" source="ncmec"'
) -> bytes:
    return f"<referral {attrs}><report>{report}</report></referral>".encode()


def test_bad_values_are_listed_without_echoing_them() -> None:
    secret = "SECRET-VALUE-42"
    xml = _xml(
        f"<incidentSummary><incidentType>{secret}</incidentType>"
        f"<incidentDateTime>{secret}</incidentDateTime></incidentSummary>"
        f"<personOrUserReported><compromisedAccount>{secret}</compromisedAccount>"
        f"<ipCaptureEvent><ipAddress>192.0.2.1</ipAddress><eventName>{secret}</eventName>"
        f"</ipCaptureEvent></personOrUserReported>"
    )
    with pytest.raises(XmlRejected) as e:
        read_referral_xml(xml)
    paths = [p.path for p in e.value.problems]
    assert paths == [
        "referral/report/incidentSummary/incidentType",
        "referral/report/incidentSummary/incidentDateTime",
        "referral/report/personOrUserReported[1]/ipCaptureEvent[1]/eventName",
        "referral/report/personOrUserReported[1]/compromisedAccount",
    ]
    assert e.value.referral_id == "X-1"
    assert secret not in str(e.value) and all(secret not in p.reason for p in e.value.problems)


def test_structure_problems() -> None:
    with pytest.raises(XmlRejected) as e:
        read_referral_xml(b'<referral id="X-2"><other/></referral>')
    assert {p.path for p in e.value.problems} == {"referral/other", "referral/report"}
    with pytest.raises(XmlRejected) as e:
        read_referral_xml(_xml("<incidentSummary/>"))
    assert [p.path for p in e.value.problems] == ["referral/report/incidentSummary/incidentType"]


def normalised(doc: dict[str, Any], pseudonymiser: Any) -> dict[str, Any]:
    """The contract form, with orders that carry no meaning (identifiers, tags) made canonical."""
    batch = parse_documents([doc], pseudonymiser)
    assert [r.as_dict() for r in batch.rejected] == []
    out = batch.good[0].referral.model_dump(mode="json")
    for s in out["subjects"]:
        s["identifiers"].sort(key=lambda i: (i["kind"], i["value"]))
    for part in [out["incident"], *out["files"]]:
        part["annotations"].sort()
    return out


def roundtrip(doc: dict[str, Any], extra_known: frozenset[str] = frozenset()) -> dict:
    """JSON -> XML -> JSON with our own code only: no XSD needed (its checks are below)."""
    xml = referral_to_xml(doc)
    return read_referral_xml(xml, known=frozenset(known_hashes_for(doc)) | extra_known)


def edge_doc() -> dict[str, Any]:
    doc = rich(
        batched={"reason": "viral_potential_meme", "accounts": 7},
        escalation_reason=None,
        bsi_included=False,
        source_priority=None,
        narrative=None,
    )
    doc["incident"] = {"type": "csam", "occurred_at": None, "channel": "unknown"}
    return doc


def test_exported_xml_validates_against_the_xsd(schema: Any, known: frozenset[str]) -> None:
    docs = [rich(), edge_doc(), *(read_referral_file(p, known=known) for p in FIXTURE_FILES)]
    for doc in docs:
        assert xsd_errors(schema, referral_to_xml(doc)) == [], doc["referral_id"]


def test_round_trip_keeps_every_field_xml_can_express(pseudonymiser: Any) -> None:
    doc = rich()
    back = normalised(roundtrip(doc), pseudonymiser)
    expected = normalised(doc, pseudonymiser)
    assert back == expected


def test_round_trip_edge_cases(pseudonymiser: Any, tmp_path: Path) -> None:
    doc = edge_doc()
    back = normalised(roundtrip(doc), pseudonymiser)
    assert back["incident"]["occurred_at"] is None
    assert back["batched"] == {"reason": "viral_potential_meme", "accounts": 7}
    assert back == normalised(doc, pseudonymiser)
    write_referral_xml(doc, tmp_path / "sub" / "x.xml")
    assert (tmp_path / "sub" / "x.xml").read_bytes() == referral_to_xml(doc)


def test_round_trip_drops_what_xml_cannot_express() -> None:
    doc = rich()
    doc["victims"][0].update(age_band="pubescent", identified=True)
    doc["subjects"][0].update(access_to_children=True, known_offender=True)
    doc["subjects"][0]["identifiers"][3]["verified"] = True  # esp id: no verified flag in XSD
    doc["files"][1]["hash_match"] = "similar"
    back = roundtrip(doc)
    assert back["victims"][0]["age_band"] == "unknown" and back["victims"][0]["identified"] is None
    assert back["subjects"][0]["access_to_children"] is None
    esp = [i for i in back["subjects"][0]["identifiers"] if i["kind"] == "esp_user_id"]
    assert esp[0]["verified"] is None
    assert back["files"][1]["hash_match"] == "none"  # a near match is on no exact list


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: p.stem)
def test_fixtures_survive_xml_json_xml(
    path: Path, known: frozenset[str], pseudonymiser: Any
) -> None:
    first = read_referral_file(path, known=known)
    assert normalised(roundtrip(first), pseudonymiser) == normalised(first, pseudonymiser)
