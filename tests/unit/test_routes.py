"""Routes on hand-built referrals: evidence order, agencies, votes, undetermined."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from features.contract import Referral
from features.ingest import load_trusted, parse_referral
from features.pseudonyms import Pseudonymiser
from features.routes import MISSING, agencies, route_case, route_referral

PSEUDO = Pseudonymiser(b"test-key-for-routes-0123456789")
NOW = datetime(2030, 1, 1, tzinfo=UTC)

# the contract's provinces and territories, and domain.md section 8's exceptions: our own
# copy, so a wrong table cannot pass by agreeing with itself
PROVINCES = {"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"}
NOT_RCMP = {"ON": "Ontario Provincial Police", "QC": "Sûreté du Québec"}


def ref(
    rid: str = "r1",
    subject_loc: dict[str, Any] | None = None,
    victim_loc: dict[str, Any] | None = None,
    phone: str | None = None,
) -> Referral:
    subject: dict[str, Any] = {"location": subject_loc}
    if phone:
        subject["identifiers"] = [{"kind": "phone", "value": phone}]
    doc = {
        "referral_id": rid,
        "received_at": "2024-05-01T10:00:00Z",
        "source": "ncmec",
        "incident": {"type": "csam"},
        "subjects": [subject],
        "victims": [{"location": victim_loc}] if victim_loc else [],
    }
    return parse_referral(doc, PSEUDO, now=NOW)


def test_agency_table_covers_every_province_and_territory() -> None:
    table = agencies()
    assert set(table.provincial) == PROVINCES
    for prov, agency in table.provincial.items():
        assert agency == NOT_RCMP.get(prov, agency)
        assert prov in NOT_RCMP or agency.startswith("RCMP ")
    cities = {city for _, city in table.municipal}
    for city in ("toronto", "montréal", "vancouver", "calgary", "edmonton", "winnipeg", "ottawa"):
        assert city in cities


def test_verified_address_in_a_city_with_its_own_police_goes_to_that_service() -> None:
    r = route_referral(
        ref(subject_loc={"country": "CA", "region": "ON", "city": "Toronto", "verified": True})
    )
    assert (r.destination, r.level) == ("CA-ON: Toronto Police Service", "agency")
    assert r.evidence[0] == "verified address: Toronto, Ontario, Canada"
    assert r.confidence >= 0.5


def test_stated_province_without_a_city_goes_to_the_provincial_police() -> None:
    r = route_referral(ref(subject_loc={"country": "CA", "region": "QC"}))
    assert (r.destination, r.level) == ("CA-QC: Sûreté du Québec", "province")
    r = route_referral(ref(subject_loc={"country": "CA", "region": "MB"}))
    assert r.destination.startswith("CA-MB: RCMP")


def test_foreign_location_goes_abroad_through_international_channels() -> None:
    r = route_referral(ref(subject_loc={"country": "PH"}))
    assert r.level == "country" and r.destination.startswith("PH: Philippines")
    assert "international channels" in r.destination


def test_proxy_only_is_undetermined_and_says_what_is_missing() -> None:
    r = route_referral(ref(subject_loc={"country": "A1"}))
    assert (r.destination, r.level, r.confidence) == ("undetermined", "undetermined", 0.0)
    assert r.evidence == [MISSING]


def test_phone_region_is_weak_evidence_read_before_the_digest() -> None:
    referral = ref(phone="+1 (416) 555-0142")
    r = route_referral(referral)
    assert r.destination == "CA-ON: Ontario Provincial Police"
    assert r.evidence == ["phone number's country: Ontario, Canada"]
    assert r.confidence < 0.5  # one weak clue alone
    stored = json.dumps(referral.model_dump(mode="json"))
    assert "555" not in stored and "416" not in stored  # only the region is kept
    assert load_trusted(json.loads(stored)).subjects[0].identifiers[0].region == "CA-ON"


def test_stronger_evidence_outvotes_weaker_and_order_is_strongest_first() -> None:
    r = route_referral(
        ref(
            subject_loc={"country": "CA", "region": "BC", "verified": True},
            victim_loc={"country": "CA", "region": "BC"},
            phone="+1-212-555-0100",  # a New York number
        )
    )
    assert r.destination.startswith("CA-BC: ")
    assert r.evidence[0].startswith("verified address")
    assert r.evidence[1].startswith("victim's location")
    assert r.evidence[-1] == "outvoted: United States"


def test_a_case_votes_so_one_trip_abroad_does_not_move_it() -> None:
    home = {"country": "CA", "region": "AB"}
    members = [ref("a", home), ref("b", home), ref("c", {"country": "TH"})]
    assert route_referral(members[2]).destination.startswith("TH: ")
    r = route_case(members)
    assert r.destination == "CA-AB: RCMP K Division (Alberta)"
    assert r.evidence[0] == "subject's stated location: Alberta, Canada (2 of 3 referrals)"
