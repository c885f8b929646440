"""Cases: linking rules, hub guard, order independence and point-in-time snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.case_index import HUB_PER_KIND, CaseIndex
from features.cases import build_case
from features.contract import Referral
from features.ingest import parse_referral
from features.pseudonyms import Pseudonymiser

PSEUDO = Pseudonymiser(b"test-key-for-cases-0123456789")
T0 = datetime(2024, 3, 1, tzinfo=UTC)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def ref(
    rid: str,
    hours: float,
    ids: list[tuple[str, str]] = (),  # type: ignore[assignment]
    ips: list[tuple[str, float, bool]] = (),  # type: ignore[assignment]
    platform: str | None = "ExampleChat",
    verified: bool | None = None,
) -> Referral:
    """A referral with the given (kind, raw value) identifiers and (ip, hours, proxy) events."""
    t = T0 + timedelta(hours=hours)
    doc: dict[str, Any] = {
        "referral_id": rid,
        "received_at": t.isoformat(),
        "source": "ncmec",
        "incident": {"type": "csam", "platform": platform},
        "subjects": [
            {
                "identifiers": [{"kind": k, "value": v, "verified": verified} for k, v in ids],
                "ip_events": [
                    {"ip": ip, "at": (T0 + timedelta(hours=h)).isoformat(), "possible_proxy": px}
                    for ip, h, px in ips
                ],
            }
        ],
    }
    return parse_referral(doc, PSEUDO, now=NOW)


def partition(index: CaseIndex) -> set[frozenset[str]]:
    return {frozenset(m) for m in index.cases().values()}


def grouped(refs: list[Referral]) -> set[frozenset[str]]:
    idx = CaseIndex()
    idx.extend(refs)
    return partition(idx)


def test_shared_person_keys_link_across_platforms_and_account_keys_only_on_one() -> None:
    a = ref("a", 0, [("email", "x@example.com")], platform="ExampleChat")
    b = ref("b", 5, [("email", "X@example.com ")], platform="DemoGram")  # normalised
    c = ref("c", 6, [("screen_name", "sam_1")], platform="ExampleChat")
    d = ref("d", 7, [("screen_name", "sam_1")], platform="DemoGram")  # other platform
    e = ref("e", 8, [("display_name", "Sample Name")])
    f = ref("f", 9, [("display_name", "Sample Name")])  # display names never link
    assert grouped([a, b, c, d, e, f]) == {
        frozenset({"a", "b"}),
        frozenset({"c"}),
        frozenset({"d"}),
        frozenset({"e"}),
        frozenset({"f"}),
    }


def test_ips_link_only_close_in_time_and_never_through_a_flagged_proxy() -> None:
    a = ref("a", 0, ips=[("2001:db8::1", 0, False)])
    b = ref("b", 30, ips=[("2001:db8::1", 24, False)])  # a day later: linked
    c = ref("c", 1000, ips=[("2001:db8::1", 999, False)])  # 41 days later: not
    d = ref("d", 2, ips=[("192.0.2.7", 1, True)])
    e = ref("e", 3, ips=[("192.0.2.7", 2, True)])  # flagged proxy: not
    assert grouped([a, b, c, d, e]) == {
        frozenset({"a", "b"}),
        frozenset({"c"}),
        frozenset({"d"}),
        frozenset({"e"}),
    }


def test_planted_hubs_never_build_a_giant_case() -> None:
    """40 unrelated suspects (2 referrals each, own e-mail) all pass through one carrier-NAT
    address and one generic account: no case may hold more than two suspects' referrals
    beyond the first few sightings the hub rule needs to see."""
    refs = []
    for s in range(40):
        for k in range(2):
            refs.append(
                ref(
                    f"s{s}-{k}",
                    s * 10 + k * 3,
                    [("email", f"user{s}@example.org"), ("email", "noreply@example.com")],
                    ips=[("203.0.113.9", s * 10 + k * 3, False)],
                )
            )
    cases = grouped(refs)
    largest = max(len(c) for c in cases)
    # before a key is a hub it can join at most HUB_PER_KIND + 1 suspects' referrals
    assert largest <= 2 * (HUB_PER_KIND + 1)
    assert sum(1 for c in cases if len(c) == 2) >= 35  # the suspects' own pairs survive


def test_a_late_earlier_referral_that_makes_a_key_a_hub_unlinks_what_it_must() -> None:
    """r1 and r2 share an address and are linked; r0, received between them but arriving
    last, shows a third e-mail on it: at r2's time the address is a hub, so the batch never
    links r1 and r2, and the incremental index must drop that link to agree."""
    ip = "2001:db8::77"
    r1 = ref("r1", 0, [("email", "e1@example.com")], ips=[(ip, 0, False)])
    r2 = ref("r2", 10, [("email", "e2@example.com")], ips=[(ip, 10, False)])
    r0 = ref("r0", 5, [("email", "e3@example.com")], ips=[(ip, 5, False)])
    idx = CaseIndex()
    idx.extend([r1, r2])
    assert partition(idx) == {frozenset({"r1", "r2"})}
    idx.add(r0)
    assert partition(idx) == grouped([r1, r0, r2]) == {frozenset({"r0", "r1"}), frozenset({"r2"})}


def test_case_words_and_linked_by() -> None:
    a = ref("a", 0, [("email", "x@example.com"), ("phone", "+1-416-555-0100")], verified=True)
    b = ref("b", 5, [("email", "x@example.com")], platform="DemoGram", verified=True)
    c = ref("c", 9, [("phone", "+1 416 555 0100")], platform="DemoGram")
    idx = CaseIndex()
    idx.extend([a, b, c])
    (cid, members), *_ = idx.cases().items()
    case = build_case(cid, [a, b, c], idx, {"a": (40.0, "high"), "c": (90.0, "immediate")})
    assert cid == "case:a" and members == ["a", "b", "c"]
    assert {(x.kind, x.n_referrals) for x in case.linked_by} == {
        ("verified_email", 2),
        ("phone", 2),
    }
    assert case.reasons[0].startswith("3 referrals, same ")
    assert "verified e-mail" in case.reasons[0] and "2 platforms" in case.reasons[0]
    assert (case.priority_now, case.tier) == (90.0, "immediate")
    assert case.route.destination == "CA-ON: Ontario Provincial Police"


# --- properties: any arrival order, and the past never changes ----------------------------

_KEYS = [("email", f"p{i}@example.net") for i in range(4)] + [
    ("phone", "+1-204-555-0101"),
    ("device_id", "device-a"),
    ("screen_name", "sam_a"),
    ("esp_user_id", "1234"),
]
_IPS = ["2001:db8::1", "2001:db8::2", "192.0.2.1"]

referral_specs = st.lists(
    st.tuples(
        st.integers(0, 24 * 120).map(lambda m: m / 4),  # receipt, hours (ties happen)
        st.lists(st.sampled_from(_KEYS), max_size=3, unique=True),
        st.lists(st.tuples(st.sampled_from(_IPS), st.integers(-48, 0), st.booleans()), max_size=2),
        st.sampled_from(["ExampleChat", "DemoGram", None]),
    ),
    min_size=1,
    max_size=14,
)


def _build(specs: list[Any]) -> list[Referral]:
    return [
        ref(f"r{i}", h, ids, [(ip, h + dh, px) for ip, dh, px in ips], plat)
        for i, (h, ids, ips, plat) in enumerate(specs)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=referral_specs, data=st.data())
def test_incremental_grouping_equals_batch_for_any_arrival_order(specs: Any, data: Any) -> None:
    refs = _build(specs)
    batch = sorted(refs, key=lambda r: (r.received_at, r.referral_id))
    order = data.draw(st.permutations(refs))
    a, b = CaseIndex(), CaseIndex()
    a.extend(batch)
    b.extend(order)
    assert partition(a) == partition(b)
    assert a.edges == b.edges
    assert {r: a.case_of(r) for r in a.received} == {r: b.case_of(r) for r in b.received}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=referral_specs)
def test_later_referrals_never_change_a_case_as_it_was_known(specs: Any) -> None:
    refs = _build(specs)
    full = CaseIndex()
    full.extend(refs)
    for t in sorted(set(full.received.values())):
        earlier = [r for r in refs if full.received[r.referral_id] <= t]
        past = CaseIndex()
        past.extend(earlier)
        assert full.cases_as_of(t) == past.cases()
