"""Contract referral -> CyberTipline XML: the inverse of :mod:`features.xml_mapping`.

Used by the synthetic generator (``triage generate --format xml``) so the XML path can be
exercised end to end on data with known answers. The ``<report>`` and each
``<fileDetails>`` it writes validate against the XSD; reading the file back gives the
same referral for every field the XML can express (``docs/xml-mapping.md`` lists the
ones it cannot: they are dropped here).

Where the XSD requires something the contract does not hold, a neutral fake value is
written: a fictional reporting company at example.com, placeholder file ids and names,
and a synthetic SHA-256 per file when the file's hash was checked (``hash_match`` other
than ``unchecked``). The digests of files marked ``known`` come from
:func:`known_hashes_for`; write them to a known-hash list so they match on ingestion.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, SubElement, indent, tostring

from features import xml_vocab

_INCIDENT_TYPES = xml_vocab.invert(xml_vocab.INCIDENT_TYPES)
_CHANNELS = xml_vocab.invert(xml_vocab.CHANNELS)
_REPORT_FLAGS = xml_vocab.invert(xml_vocab.REPORT_ANNOTATIONS)
_FILE_FLAGS = xml_vocab.invert(xml_vocab.FILE_ANNOTATIONS)
_IP_EVENTS = xml_vocab.invert(xml_vocab.IP_EVENTS)
_RELEVANCE = xml_vocab.invert(xml_vocab.RELEVANCE)
_BATCHED = xml_vocab.invert(xml_vocab.BATCHED_REASONS)
_EXTENSION = {"image": "jpg", "video": "mp4", "other": "bin"}
# characters XML 1.0 cannot carry at all; free text is cleaned rather than refused
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
HASH_TYPE = "SHA256"


def synthetic_file_hash(referral_id: str, index: int) -> str:
    """The placeholder SHA-256 written for file ``index`` of a referral (stable)."""
    return hashlib.sha256(
        f"referral-triage synthetic file|{referral_id}|{index}".encode()
    ).hexdigest()


def known_hashes_for(doc: Mapping[str, Any]) -> list[str]:
    """Digests of the files of ``doc`` marked ``known``: what a known-hash list must hold."""
    rid = str(doc["referral_id"])
    return [
        synthetic_file_hash(rid, i)
        for i, f in enumerate(doc.get("files") or [])
        if f.get("hash_match") == "known"
    ]


def _s(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return _NOT_XML.sub("", str(value))


def _add(parent: Element, tag: str, value: Any = None, **attrs: Any) -> Element:
    el = SubElement(parent, tag, {k: _s(v) for k, v in attrs.items() if v is not None})
    if value is not None:
        el.text = _s(value)
    return el


def _location(parent: Element, loc: Mapping[str, Any] | None) -> None:
    if not loc:
        return
    el = _add(parent, "estimatedLocation", verified=loc.get("verified"))
    for tag, key in (("city", "city"), ("region", "region"), ("countryCode", "country")):
        if loc.get(key) is not None:
            _add(el, tag, loc[key])


def _ids(subject: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    return [i for i in subject.get("identifiers") or [] if i.get("kind") == kind]


def _subject(report: Element, subject: Mapping[str, Any]) -> None:
    el = _add(report, "personOrUserReported")
    phones, emails = _ids(subject, "phone"), _ids(subject, "email")
    if phones or emails or subject.get("age") is not None:
        person = _add(el, "personOrUserReportedPerson")
        for kind, items in (("phone", phones), ("email", emails)):
            for i in items:
                _add(person, kind, i["value"], verified=i.get("verified"))
        if subject.get("age") is not None:
            _add(person, "age", subject["age"])
    # the XSD holds one espIdentifier and one screenName per person: extras are dropped
    for kind, tag in (("esp_user_id", "espIdentifier"),):
        if _ids(subject, kind):
            _add(el, tag, _ids(subject, kind)[0]["value"])
    if subject.get("compromised_account") is not None:
        _add(el, "compromisedAccount", subject["compromised_account"])
    if _ids(subject, "screen_name"):
        _add(el, "screenName", _ids(subject, "screen_name")[0]["value"])
    for kind, tag in (("display_name", "displayName"), ("profile_url", "profileUrl")):
        for i in _ids(subject, kind):
            _add(el, tag, i["value"])
    for ev in subject.get("ip_events") or []:
        cap = _add(el, "ipCaptureEvent")
        _add(cap, "ipAddress", ev["ip"])
        _add(cap, "eventName", _IP_EVENTS[ev.get("event") or "unknown"])
        if ev.get("at") is not None:
            _add(cap, "dateTime", ev["at"])
        if ev.get("possible_proxy") is not None:
            _add(cap, "possibleProxy", ev["possible_proxy"])
    for i in _ids(subject, "device_id"):
        dev = _add(el, "deviceId")
        _add(dev, "idType", "unspecified")
        _add(dev, "idValue", i["value"])
    for n in range(int(subject.get("prior_reports") or 0)):
        _add(el, "priorCTReports", n + 1)  # placeholder report ids: only the count matters
    if subject.get("group_identifier"):
        _add(el, "groupIdentifier", subject["group_identifier"])
    if subject.get("account_disabled") is not None:
        _add(el, "accountPermanentlyDisabled", subject["account_disabled"])
    _location(el, subject.get("location"))
    for _ in range(int(subject.get("associated_accounts") or 0)):
        _add(el, "associatedAccount", type="Other")


def _summary(report: Element, doc: Mapping[str, Any]) -> None:
    incident = doc["incident"]
    summary = _add(report, "incidentSummary")
    _add(summary, "incidentType", _INCIDENT_TYPES[incident["type"]])
    if incident.get("platform"):
        _add(summary, "platform", incident["platform"])
    if doc.get("escalation_reason"):
        _add(summary, "escalateToHighPriority", doc["escalation_reason"])
    flags = incident.get("annotations") or []
    if flags:
        ann = _add(summary, "reportAnnotations")
        for flag in flags:
            _add(ann, _REPORT_FLAGS[flag], True)
    if incident.get("occurred_at") is not None:
        _add(summary, "incidentDateTime", incident["occurred_at"])
    else:  # the XSD requires a time: write the receipt time, marked as a placeholder
        _add(summary, "incidentDateTime", doc["received_at"])
        _add(summary, "incidentDateTimeDescription", xml_vocab.UNKNOWN_TIME_MARK)


def _report(root: Element, doc: Mapping[str, Any]) -> None:
    report = _add(root, "report")
    batched = doc.get("batched")
    if batched:
        _add(
            report, "batchedReport", reason=_BATCHED[batched.get("reason", "viral_potential_meme")]
        )
    _summary(report, doc)
    channel = doc["incident"].get("channel") or "unknown"
    if channel != "unknown":
        _add(_add(report, "internetDetails"), _CHANNELS[channel])
    person = _add(_add(report, "reporter"), "reportingPerson")
    _add(person, "firstName", "Example")
    _add(person, "lastName", "Reporter")
    _add(person, "email", "reports@esp.example.com")
    subjects = doc.get("subjects") or []
    for s in subjects:
        _subject(report, s)
    if batched:  # the account count is the number of reported users: pad with empty ones
        for _ in range(int(batched.get("accounts") or 1) - len(subjects)):
            _add(report, "personOrUserReported")
    for rec in doc.get("recipients") or []:
        el = _add(report, "intendedRecipient")
        if rec.get("age") is not None:
            _add(_add(el, "intendedRecipientPerson"), "age", rec["age"])
        _location(el, rec.get("location"))
    for vic in doc.get("victims") or []:
        el = _add(report, "victim")
        person = _add(el, "victimPerson")
        if vic.get("age") is not None:
            _add(person, "age", vic["age"])
        if vic.get("school_known"):
            _add(el, "schoolName", "Example School")
        _location(el, vic.get("location"))
    if doc.get("narrative"):
        _add(report, "additionalInfo", doc["narrative"])


def _file(root: Element, doc: Mapping[str, Any], index: int, f: Mapping[str, Any]) -> None:
    el = _add(root, "fileDetails")
    _add(el, "reportId", zlib.crc32(str(doc["referral_id"]).encode()))
    _add(el, "fileId", f"file-{index + 1:05d}")
    _add(el, "fileName", f"file-{index + 1:05d}.{_EXTENSION[f.get('kind') or 'other']}")
    if f.get("uploaded_at") is not None:
        _add(el, "uploadedToEspTimestamp", f["uploaded_at"])
    for key, tag in (
        ("viewed_by_reporter", "fileViewedByEsp"),
        ("publicly_available", "publiclyAvailable"),
    ):
        if f.get(key) is not None:
            _add(el, tag, f[key])
    _add(el, "fileRelevance", _RELEVANCE[f.get("relevance") or "reported"])
    flags = f.get("annotations") or []
    if flags:
        ann = _add(el, "fileAnnotations")
        for flag in flags:
            _add(ann, _FILE_FLAGS[flag], True)
    if f.get("classification"):
        _add(el, "industryClassification", f["classification"])
    if (f.get("hash_match") or "unchecked") != "unchecked":
        # "similar" cannot be said in XML: its hash is on no exact list, so it reads "none"
        digest = synthetic_file_hash(str(doc["referral_id"]), index)
        _add(el, "originalFileHash", digest, hashType=HASH_TYPE)


def referral_to_xml(doc: Mapping[str, Any]) -> bytes:
    """One referral (a raw contract dict) as a UTF-8 XML file's bytes."""
    root = Element(
        "referral",
        {
            "id": _s(doc["referral_id"]),
            "receivedAt": _s(doc["received_at"]),
            "source": _s(doc["source"]),
        },
    )
    if doc.get("source_priority") is not None:
        root.set("sourcePriority", _s(doc["source_priority"]))
    if doc.get("bsi_included"):
        root.set("bsiIncluded", "true")
    _report(root, doc)
    for i, f in enumerate(doc.get("files") or []):
        _file(root, doc, i, f)
    indent(root)
    return tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_referral_xml(doc: Mapping[str, Any], path: Path) -> None:
    """Write :func:`referral_to_xml` to ``path`` (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(referral_to_xml(doc))
