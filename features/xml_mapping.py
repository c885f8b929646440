"""CyberTipline XML elements -> the raw referral dict of ``contract.md`` §1.

The output is *raw*: identifiers and IPs are still clear text, and the caller validates
and pseudonymises it with :func:`features.ingest.parse_documents`. Mapping only decides
where each XSD field goes; checks the contract already makes (country codes, lengths,
ranges of counts) are left to the contract so there is one place that says what is
valid. The table in ``docs/xml-mapping.md`` is the human-readable version of this file.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from xml.etree.ElementTree import Element

from features import known_hashes, xml_people, xml_vocab
from features.ingest import Problem
from features.xml_values import Reader, is_empty, kid, kids, safe_name, text

NARRATIVE_MAX = 10_000  # contract limits for free text; longer text is cut, not rejected
ESCALATION_MAX = 3_000


def map_referral(
    root: Element, known: frozenset[str] | None
) -> tuple[dict[str, Any], list[Problem]]:
    """Map a ``<referral>`` element; returns the raw document and every problem found."""
    r = Reader()
    for child in root:
        if child.tag not in ("report", "fileDetails"):
            r.bad(
                f"referral/{safe_name(child.tag)}", "unexpected element (only report, fileDetails)"
            )
    doc: dict[str, Any] = {}
    for attr, key in (
        ("id", "referral_id"),
        ("receivedAt", "received_at"),
        ("source", "source"),
        ("sourcePriority", "source_priority"),
    ):
        value = root.get(attr)
        if value is not None:
            doc[key] = value.strip()
    bsi = r.attr_bool(root, "bsiIncluded", "referral")
    if bsi is not None:
        doc["bsi_included"] = bsi
    reports = kids(root, "report")
    if len(reports) != 1:
        r.bad("referral/report", f"exactly one report element is required, found {len(reports)}")
    else:
        doc.update(_report(r, reports[0], _received(doc.get("received_at"))))
    doc["files"] = [
        _file(r, el, f"referral/fileDetails[{i}]", known)
        for i, el in enumerate(kids(root, "fileDetails"), 1)
    ]
    return doc, r.problems


def _received(raw: str | None) -> date | None:
    try:
        return datetime.fromisoformat(raw).date() if raw else None
    except ValueError:
        return None  # the contract reports the bad received_at


def _report(r: Reader, rep: Element, received: date | None) -> dict[str, Any]:
    base = "referral/report"
    sp = f"{base}/incidentSummary"
    summary = kid(rep, "incidentSummary")
    if summary is None:
        summary = Element("incidentSummary")  # reported once, as its required incidentType
    itype = r.choice(
        text(kid(summary, "incidentType")),
        xml_vocab.INCIDENT_TYPES,
        f"{sp}/incidentType",
        "8 CyberTipline incident types",
    )
    if kid(summary, "incidentType") is None:
        r.bad(f"{sp}/incidentType", "required element missing")
    occurred = r.moment(kid(summary, "incidentDateTime"), f"{sp}/incidentDateTime")
    mark = text(kid(summary, "incidentDateTimeDescription"))
    if mark is not None and mark.casefold() == xml_vocab.UNKNOWN_TIME_MARK:
        occurred = None
    ref = occurred.date() if occurred else received
    incident = {
        "type": itype,
        "occurred_at": occurred.isoformat() if occurred else None,
        "platform": text(kid(summary, "platform")),
        "channel": _channel(rep),
        "annotations": _flags(
            r,
            kid(summary, "reportAnnotations"),
            xml_vocab.REPORT_ANNOTATIONS,
            f"{sp}/reportAnnotations",
        ),
    }
    escalation = text(kid(summary, "escalateToHighPriority"))
    narrative = text(kid(rep, "additionalInfo"))
    people = kids(rep, "personOrUserReported")
    batched = _batched(r, kid(rep, "batchedReport"), len(people), f"{base}/batchedReport")
    subjects = [
        xml_people.subject(r, el, f"{base}/personOrUserReported[{i}]", ref)
        for i, el in enumerate(people, 1)
        if not (batched and is_empty(el))  # batch padding: an account, not a subject
    ]
    _p2p_ips(r, rep, subjects)
    return {
        "escalation_reason": escalation[:ESCALATION_MAX] if escalation else None,
        "incident": incident,
        "batched": batched,
        "subjects": subjects,
        "victims": [
            xml_people.victim(r, el, f"{base}/victim[{i}]", ref)
            for i, el in enumerate(kids(rep, "victim"), 1)
        ],
        "recipients": [
            xml_people.recipient(r, el, f"{base}/intendedRecipient[{i}]", ref)
            for i, el in enumerate(kids(rep, "intendedRecipient"), 1)
        ],
        "narrative": narrative[:NARRATIVE_MAX] if narrative else None,
    }


def _channel(rep: Element) -> str:
    """The first internetDetails subtype; a report may list several, the first is primary."""
    for details in kids(rep, "internetDetails"):
        for child in details:
            if child.tag in xml_vocab.CHANNELS:
                return xml_vocab.CHANNELS[str(child.tag)]
    return "unknown"


def _flags(r: Reader, el: Element | None, table: dict[str, str], path: str) -> list[str]:
    """Annotation sets (xs:all of fixed-true booleans) in the contract's order."""
    if el is None:
        return []
    on = {table[str(c.tag)] for c in el if c.tag in table and r.boolean(c, f"{path}/{c.tag}")}
    return [v for v in table.values() if v in on]


def _batched(r: Reader, el: Element | None, accounts: int, path: str) -> dict[str, Any] | None:
    if el is None:
        return None
    reason = r.choice(
        el.get("reason"),
        xml_vocab.BATCHED_REASONS,
        f"{path}/@reason",
        "batchedReport reasons the contract knows (VIRAL_POTENTIAL_MEME)",
    )
    if el.get("reason") is None:
        r.bad(f"{path}/@reason", "required attribute missing")
    return {"reason": reason, "accounts": max(1, accounts)} if reason else None


def _p2p_ips(r: Reader, rep: Element, subjects: list[dict[str, Any]]) -> None:
    """peer2peerIncident IP captures are "used by the person or user reported": subject 1's."""
    events: list[dict[str, Any]] = []
    for i, details in enumerate(kids(rep, "internetDetails"), 1):
        p2p = kid(details, "peer2peerIncident")
        if p2p is not None:
            path = f"referral/report/internetDetails[{i}]/peer2peerIncident/ipCaptureEvent"
            events += xml_people.ip_events(r, kids(p2p, "ipCaptureEvent"), path)
    if not events:
        return
    if not subjects:
        subjects.append(
            xml_people.subject(r, Element("personOrUserReported"), "referral/report", None)
        )
    subjects[0]["ip_events"] += events


def _kind(*names: str | None) -> str:
    for name in names:
        if name and "." in name:
            ext = name.rsplit(".", 1)[1].strip().lower()
            if ext in xml_vocab.IMAGE_EXTENSIONS:
                return "image"
            if ext in xml_vocab.VIDEO_EXTENSIONS:
                return "video"
    return "other"


def _file(r: Reader, el: Element, path: str, known: frozenset[str] | None) -> dict[str, Any]:
    annotations = _flags(
        r, kid(el, "fileAnnotations"), xml_vocab.FILE_ANNOTATIONS, f"{path}/fileAnnotations"
    )
    if r.boolean(kid(el, "potentialMeme"), f"{path}/potentialMeme"):  # the older, lone flag
        on = set(annotations) | {"potential_meme"}
        annotations = [v for v in xml_vocab.FILE_ANNOTATIONS.values() if v in on]
    relevance = r.choice(
        text(kid(el, "fileRelevance")),
        xml_vocab.RELEVANCE,
        f"{path}/fileRelevance",
        "fileRelevance values",
    )
    uploaded = r.moment(kid(el, "uploadedToEspTimestamp"), f"{path}/uploadedToEspTimestamp")
    classification = text(kid(el, "industryClassification"))
    return {
        "kind": _kind(text(kid(el, "fileName")), text(kid(el, "originalFileName"))),
        "hash_match": known_hashes.match(
            [text(h) or "" for h in kids(el, "originalFileHash")], known
        ),
        "viewed_by_reporter": r.boolean(kid(el, "fileViewedByEsp"), f"{path}/fileViewedByEsp"),
        "publicly_available": r.boolean(kid(el, "publiclyAvailable"), f"{path}/publiclyAvailable"),
        "relevance": relevance or "reported",
        "classification": classification.upper() if classification else None,
        "annotations": annotations,
        "uploaded_at": uploaded.isoformat() if uploaded else None,
    }
