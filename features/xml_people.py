"""Reported persons, victims and intended recipients: XSD person records -> contract parts.

Split from :mod:`features.xml_mapping` (which maps the report as a whole) because the
three person-like records of the XSD share most of their fields: identifiers, IP
captures, age or date of birth, estimated location, account flags.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from xml.etree.ElementTree import Element

from features import xml_vocab
from features.xml_values import Reader, kid, kids, text, years_between

VICTIM_MAX_AGE = 17
PERSON_MAX_AGE = 120


def _identifiers(r: Reader, el: Element, person: Element | None, path: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if person is not None:
        pp = f"{path}/{person.tag}"
        for kind, tag in (("phone", "phone"), ("email", "email")):
            for i, node in enumerate(kids(person, tag), 1):
                value = text(node)
                if value is not None:
                    verified = r.attr_bool(node, "verified", f"{pp}/{tag}[{i}]")
                    out.append({"kind": kind, "value": value, "verified": verified})
    singles = (("esp_user_id", "espIdentifier"), ("screen_name", "screenName"))
    multis = (("display_name", "displayName"), ("profile_url", "profileUrl"))
    for kind, tag in singles + multis:
        for node in kids(el, tag):
            value = text(node)
            if value is not None:
                out.append({"kind": kind, "value": value, "verified": None})
    for node in kids(el, "deviceId"):
        value = text(kid(node, "idValue"))
        if value is not None:
            out.append({"kind": "device_id", "value": value, "verified": None})
    return out


def ip_events(r: Reader, nodes: list[Element], path: str) -> list[dict[str, Any]]:
    out = []
    for i, node in enumerate(nodes, 1):
        p = f"{path}[{i}]"
        ip = text(kid(node, "ipAddress"))
        if ip is None:
            r.bad(f"{p}/ipAddress", "required element missing")
            continue
        event = r.choice(
            text(kid(node, "eventName")),
            xml_vocab.IP_EVENTS,
            f"{p}/eventName",
            "ipCaptureType values",
        )
        at = r.moment(kid(node, "dateTime"), f"{p}/dateTime")
        out.append(
            {
                "ip": ip,
                "event": event or "unknown",
                "at": at.isoformat() if at else None,
                "possible_proxy": r.boolean(kid(node, "possibleProxy"), f"{p}/possibleProxy"),
            }
        )
    return out


def _age(r: Reader, person: Element | None, path: str, ref: date | None, top: int) -> int | None:
    """Stated age, else age from date of birth on the incident day; out of range -> null.

    An age outside the contract's range (a victim of 18+ is not a child victim) is a
    data-quality problem of the report, not a reason to reject the whole referral.
    """
    if person is None:
        return None
    pp = f"{path}/{person.tag}"
    age = r.integer(kid(person, "age"), f"{pp}/age")
    born = r.day(kid(person, "dateOfBirth"), f"{pp}/dateOfBirth")
    if age is None and born is not None and ref is not None:
        age = years_between(born, ref)
    return age if age is not None and 0 <= age <= top else None


def _country(raw: str | None) -> str | None:
    if raw is None:
        return None
    code = raw.strip().upper()
    return xml_vocab.COUNTRY_ALIASES.get(code, code) if code else None


def _location(r: Reader, el: Element, person: Element | None, path: str) -> dict[str, Any] | None:
    """estimatedLocation; failing that, the person's first address naming a place."""
    est = kid(el, "estimatedLocation")
    if est is not None:
        loc = {
            "country": _country(text(kid(est, "countryCode"))),
            "region": text(kid(est, "region")),
            "city": text(kid(est, "city")),
            "verified": r.attr_bool(est, "verified", f"{path}/estimatedLocation"),
        }
        if any(v is not None for v in loc.values()):
            return loc
    for addr in kids(person, "address") if person is not None else []:
        loc = {
            "country": _country(text(kid(addr, "country"))),
            "region": text(kid(addr, "state")) or text(kid(addr, "nonUsaState")),
            "city": text(kid(addr, "city")),
            "verified": None,
        }
        if any(v is not None for v in loc.values()):
            return loc
    return None


def _disabled(r: Reader, el: Element, path: str) -> bool | None:
    flags = [
        r.boolean(kid(el, tag), f"{path}/{tag}")
        for tag in ("accountTemporarilyDisabled", "accountPermanentlyDisabled")
    ]
    known = [f for f in flags if f is not None]
    return any(known) if known else None


def _prior_reports(r: Reader, el: Element, path: str) -> int:
    """priorCTReports lists report *ids*, so the count of distinct ids is the number."""
    ids = {
        r.integer(node, f"{path}/priorCTReports[{i}]")
        for i, node in enumerate(kids(el, "priorCTReports"), 1)
    }
    return len(ids - {None})


def subject(r: Reader, el: Element, path: str, ref: date | None) -> dict[str, Any]:
    person = kid(el, "personOrUserReportedPerson")
    return {
        "identifiers": _identifiers(r, el, person, path),
        "ip_events": ip_events(r, kids(el, "ipCaptureEvent"), f"{path}/ipCaptureEvent"),
        "age": _age(r, person, path, ref, PERSON_MAX_AGE),
        "location": _location(r, el, person, path),
        "prior_reports": _prior_reports(r, el, path),
        "group_identifier": text(kid(el, "groupIdentifier")),
        "associated_accounts": len(kids(el, "associatedAccount")),
        "account_disabled": _disabled(r, el, path),
        "compromised_account": r.boolean(
            kid(el, "compromisedAccount"), f"{path}/compromisedAccount"
        ),
        "access_to_children": None,
        "known_offender": None,
    }


def victim(r: Reader, el: Element, path: str, ref: date | None) -> dict[str, Any]:
    person = kid(el, "victimPerson")
    return {
        "age": _age(r, person, path, ref, VICTIM_MAX_AGE),
        "age_band": "unknown",
        "identified": None,
        "location": _location(r, el, person, path),
        "school_known": text(kid(el, "schoolName")) is not None,
    }


def recipient(r: Reader, el: Element, path: str, ref: date | None) -> dict[str, Any]:
    person = kid(el, "intendedRecipientPerson")
    return {
        "age": _age(r, person, path, ref, PERSON_MAX_AGE),
        "location": _location(r, el, person, path),
    }
