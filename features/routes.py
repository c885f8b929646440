"""Proposed police of jurisdiction for a referral or a case (``contract.md`` §4, §8).

A proposal only: the reviewer confirms or changes it with the package decision. Evidence
is weighed strongest first (``shared/domain.md`` §8), each kind with a weight:

=====================================  ======  ==============================================
evidence                               weight  what it can say
=====================================  ======  ==============================================
verified address (subject, verified)    4.0    country, province, city
subject's stated location               2.0    country, province, city
victim's location                       2.0    country, province, city
intended recipient's location           1.0    country, province, city
phone number's country (area code)      1.0    country; the province for Canadian area codes
=====================================  ======  ==============================================

Locations given as an anonymous proxy or satellite provider (A1, A2, O1) are no evidence.
IP geolocation and the platform's jurisdiction are not used: no geolocation database or
platform register is configured (``docs/cases.md``). Countries are voted by weight; the
confidence is the winning weight over the total plus one (one weak clue alone stays below
0.5). In Canada the province is voted among the Canadian clues and the agency is the
city's police service when a located city has one (``data/police_agencies.csv``), else
the provincial police. A case's members vote together, so one member's travel abroad or
missing location does not decide the case's route.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

from features.contract import Location, Referral, Route
from features.countries import CA_PROVINCES
from features.places import country_name, province_name

VERIFIED, STATED, VICTIM, RECIPIENT, PHONE = 4.0, 2.0, 2.0, 1.0, 1.0
NOT_PLACES = frozenset({"A1", "A2", "O1"})
MISSING = (
    "no location evidence: no verified address, no stated location of the subject, victim "
    "or recipient, no phone number with a country code (IP geolocation and platform "
    "jurisdiction are not available)"
)


class Clue(NamedTuple):
    """One piece of location evidence; ``rank`` orders kinds strongest first."""

    rank: int
    weight: float
    what: str
    country: str
    province: str | None
    city: str | None


class Agencies(NamedTuple):
    provincial: dict[str, str]
    municipal: dict[tuple[str, str], str]


@lru_cache(maxsize=1)
def agencies() -> Agencies:
    """The police agencies table (provincial/territorial and large municipal services)."""
    text = resources.files("features").joinpath("data/police_agencies.csv").read_text("utf-8")
    prov: dict[str, str] = {}
    muni: dict[tuple[str, str], str] = {}
    for row in csv.DictReader(text.splitlines()):
        if row["kind"] == "provincial":
            prov[row["province"]] = row["agency"]
        else:
            muni[(row["province"], row["city"].casefold())] = row["agency"]
    return Agencies(prov, muni)


def _place(loc: Location) -> str:
    if loc.country == "CA" and loc.region in CA_PROVINCES:
        city = f"{loc.city}, " if loc.city else ""
        return f"{city}{province_name(loc.region)}, Canada"
    return country_name(loc.country or "")


def _location_clue(loc: Location | None, rank: int, weight: float, what: str) -> Clue | None:
    if loc is None or not loc.country or loc.country in NOT_PLACES:
        return None
    prov = loc.region if loc.country == "CA" and loc.region in CA_PROVINCES else None
    return Clue(rank, weight, f"{what}: {_place(loc)}", loc.country, prov, loc.city)


def clues(ref: Referral) -> list[Clue]:
    """The referral's location evidence, strongest first."""
    out: list[Clue | None] = []
    for s in ref.subjects:
        ver = bool(s.location and s.location.verified)
        what = "verified address" if ver else "subject's stated location"
        out.append(_location_clue(s.location, 0 if ver else 1, VERIFIED if ver else STATED, what))
        for i in s.identifiers:
            if i.kind == "phone" and i.region:
                country, _, prov = i.region.partition("-")
                words = province_name(prov) + ", Canada" if prov else country_name(country)
                out.append(
                    Clue(4, PHONE, f"phone number's country: {words}", country, prov or None, None)
                )
    out += [_location_clue(v.location, 2, VICTIM, "victim's location") for v in ref.victims]
    out += [
        _location_clue(r.location, 3, RECIPIENT, "recipient's location") for r in ref.recipients
    ]
    return sorted((c for c in out if c is not None), key=lambda c: (c.rank, -c.weight))


def _words(found: Sequence[Clue], n_referrals: int) -> list[str]:
    """Evidence in words, strongest first; in a case, how many referrals showed each."""
    if n_referrals <= 1:
        return list(dict.fromkeys(c.what for c in found))
    seen: dict[str, tuple[int, float]] = {}
    count: Counter[str] = Counter()
    for c in found:
        count[c.what] += 1
        seen.setdefault(c.what, (c.rank, -c.weight))
    order = sorted(seen, key=lambda w: (seen[w], -count[w]))
    return [f"{w} ({count[w]} of {n_referrals} referrals)" for w in order]


def route_from(found: Sequence[Clue], n_referrals: int = 1) -> Route:
    """The route the clues vote for (of one referral, or of a case's members together)."""
    if not found:
        return Route(
            destination="undetermined", level="undetermined", confidence=0.0, evidence=[MISSING]
        )
    by_country: defaultdict[str, float] = defaultdict(float)
    for c in found:
        by_country[c.country] += c.weight
    total = sum(by_country.values())
    country = max(sorted(by_country), key=lambda k: by_country[k])
    conf = by_country[country] / (total + 1.0)
    agree = [c for c in found if c.country == country]
    evidence = _words(agree, n_referrals)
    if len(by_country) > 1:
        others = ", ".join(country_name(k) for k in sorted(by_country) if k != country)
        evidence.append(f"outvoted: {others}")
    if country != "CA":
        dest = f"{country}: {country_name(country)}, through international channels (INTERPOL NCB)"
        return Route(
            destination=dest, level="country", confidence=round(conf, 3), evidence=evidence
        )
    by_prov: defaultdict[str, float] = defaultdict(float)
    for c in agree:
        if c.province:
            by_prov[c.province] += c.weight
    if not by_prov:
        evidence.append("missing: the province (no Canadian location or area code names one)")
        return Route(
            destination="CA: Canada, province undetermined",
            level="country",
            confidence=round(conf, 3),
            evidence=evidence,
        )
    prov = max(sorted(by_prov), key=lambda k: by_prov[k])
    conf *= by_prov[prov] / (sum(by_prov.values()) + 0.5)
    table = agencies()
    cities = Counter(c.city.casefold() for c in agree if c.province == prov and c.city)
    for city, _ in cities.most_common():
        agency = table.municipal.get((prov, city))
        if agency:
            return Route(
                destination=f"CA-{prov}: {agency}",
                level="agency",
                confidence=round(conf, 3),
                evidence=evidence,
            )
    agency = table.provincial.get(prov, province_name(prov))
    return Route(
        destination=f"CA-{prov}: {agency}",
        level="province",
        confidence=round(conf, 3),
        evidence=evidence,
    )


def route_referral(ref: Referral) -> Route:
    return route_from(clues(ref))


def route_case(members: Iterable[Referral]) -> Route:
    """A case's route: every member's evidence votes."""
    refs = list(members)
    return route_from([c for r in refs for c in clues(r)], n_referrals=len(refs))


def destination_place(route: Route) -> tuple[str | None, str | None]:
    """(country, province) a route proposes, for comparing with ground truth."""
    if route.level == "undetermined":
        return None, None
    code = route.destination.split(":", 1)[0]
    country, _, prov = code.partition("-")
    return country, prov or None
