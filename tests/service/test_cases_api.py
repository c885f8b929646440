"""Cases over HTTP on a real server (no model: the rules score, which is all cases need):
GET /cases and GET /cases/{id} for reviewers, with their bad input and the access log;
the package decision (one chained decision per member, all or nothing, idempotent);
opaque case ids the scorer never sees; a restart that rebuilds the same cases; and
``triage audit verify`` over the case events chain.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from service_support import KEY, Server, uid

from serving.case_ids import CASE_ID_PATTERN
from serving.store import Store

pytestmark = pytest.mark.timeout(600)


def doc(rid: str, hour: int, *idents: tuple[str, str], region: str = "ON") -> dict[str, Any]:
    return {
        "referral_id": rid,
        "received_at": f"2024-04-01T{hour:02d}:00:00Z",
        "source": "ncmec",
        "incident": {"type": "csam", "platform": f"ExampleChat{hour % 2}"},
        "subjects": [
            {
                "identifiers": [{"kind": k, "value": v, "verified": True} for k, v in idents],
                "location": {"country": "CA", "region": region},
            }
        ],
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("cases") / "home")
    srv.make_tokens()
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def family(server: Server) -> dict[str, Any]:
    """Two chains that a later referral merges (5 referrals), a pair, and a loner."""
    t = uid("t")
    mail_a, mail_b, phone = f"a.{t}@example.com", f"b.{t}@example.com", "+1-613-555-0101"
    ids = {k: uid(k) for k in ("a1", "b1", "a2", "b2", "m", "p1", "p2", "x")}
    docs = [
        doc(ids["a1"], 1, ("email", mail_a)),
        doc(ids["b1"], 2, ("email", mail_b)),
        doc(ids["a2"], 3, ("email", mail_a), ("phone", phone)),
        doc(ids["b2"], 4, ("email", mail_b)),
        doc(ids["m"], 5, ("phone", phone), ("email", mail_b)),
        doc(ids["p1"], 6, ("screen_name", f"pair_{t}")),
        doc(ids["p2"], 7, ("screen_name", f"pair_{t}")),
        doc(ids["x"], 8, ("email", f"x.{t}@example.com")),
    ]
    docs[5]["incident"]["platform"] = docs[6]["incident"]["platform"] = "ExamplePair"
    with server.client("scorer") as c:
        answers = [c.post("/score", json=d) for d in docs]
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    return {"ids": ids, "answers": [r.json() for r in answers]}


def stored_case(server: Server, rid: str) -> str:
    with server.client("reviewer") as c:
        return str(c.get(f"/referrals/{rid}").json()["scores"][-1]["score"]["case_id"])


def test_the_scorer_never_sees_a_case_id_and_reviewers_see_an_opaque_one(server, family):
    assert all(a["case_id"] is None for a in family["answers"])
    assert all(a["route"]["level"] in {"province", "agency"} for a in family["answers"])
    ids = family["ids"]
    merged = stored_case(server, ids["m"])
    assert re.fullmatch(CASE_ID_PATTERN, merged)
    assert ids["a1"] not in merged
    assert stored_case(server, ids["a2"]) == stored_case(server, ids["a1"]) == merged
    assert stored_case(server, ids["b1"]) != merged  # its case as known when it was scored


def test_get_cases_lists_open_cases_most_urgent_first(server, family):
    ids = family["ids"]
    with server.client("reviewer") as c:
        r = c.get("/cases", params={"limit": 100})
    assert r.status_code == 200, r.text
    page = r.json()
    mine = {c["case_id"]: c for c in page["items"] if set(c["referral_ids"]) & set(ids.values())}
    assert {frozenset(c["referral_ids"]) for c in mine.values()} == {
        frozenset(ids[k] for k in ("a1", "b1", "a2", "b2", "m")),
        frozenset((ids["p1"], ids["p2"])),
    }  # the loner is on the queue, not in the case list
    big = next(c for c in mine.values() if len(c["referral_ids"]) == 5)
    assert big["case_id"] == stored_case(server, ids["m"])
    assert {x["kind"] for x in big["linked_by"]} == {"verified_email", "phone"}
    assert big["reasons"][0].startswith("5 referrals, same ")
    assert "2 platforms" in big["reasons"][0]
    assert big["route"]["destination"].startswith("CA-ON")
    assert big["awaiting"] == 5 and len(big["members"]) == 5
    assert big["priority_now"] == max(m["priority_now"] for m in big["members"])
    prios = [c["priority_now"] for c in page["items"]]
    assert prios == sorted(prios, reverse=True)
    assert page["total"] >= 2


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"offset": 10**8}, {"limit": "x"}]
)
def test_get_cases_refuses_bad_pagination_naming_the_field(server, params):
    with server.client("reviewer") as c:
        r = c.get("/cases", params=params)
    assert r.status_code == 422, r.text
    assert next(iter(params)) in r.text


def test_get_case_by_id_404_names_the_id_and_bad_ids_are_refused(server, family):
    ids = family["ids"]
    cid = stored_case(server, ids["p2"])
    with server.client("reviewer") as c:
        one = c.get(f"/cases/{cid}")
        unknown = c.get("/cases/case-" + "0" * 24)
        bad = [c.get(f"/cases/{x}") for x in ("case:" + ids["a1"], "case-XYZ", "a" * 70)]
        alone = c.get(f"/cases/{stored_case(server, ids['x'])}")
    assert one.status_code == 200, one.text
    assert one.json()["referral_ids"] == [ids["p1"], ids["p2"]]
    assert [x["kind"] for x in one.json()["linked_by"]] == ["screen_name"]
    assert unknown.status_code == 404 and "case-" + "0" * 24 in unknown.json()["error"]
    assert [r.status_code for r in bad] == [422, 422, 422]
    assert alone.status_code == 200 and alone.json()["referral_ids"] == [ids["x"]]


def test_every_read_of_a_case_is_in_the_access_log(server, family):
    ids = family["ids"]
    cid = stored_case(server, ids["p1"])
    with server.client("reviewer") as c:
        assert c.get(f"/cases/{cid}").status_code == 200
    with Store(server.settings.store_url()) as store:
        actions = [(a.action, a.actor, a.status) for a in store.access_for(ids["p2"])]
    assert ("read_case", "test-reviewer", 200) in actions
    assert ("read_cases", "test-reviewer", 200) in actions  # from the list test


@pytest.mark.parametrize("role", ["scorer", "admin", None])
def test_cases_are_for_reviewers_only(server, family, role):
    cid = stored_case(server, family["ids"]["p1"])
    with server.client(role) as c:
        codes = [
            c.get("/cases").status_code,
            c.get(f"/cases/{cid}").status_code,
            c.post(f"/cases/{cid}/decision", json={}).status_code,
        ]
    assert codes == [401] * 3 if role is None else [403] * 3


def test_package_decision_records_one_chained_decision_per_member(server, family):
    ids = family["ids"]
    members = [ids[k] for k in ("a1", "b1", "a2", "b2", "m")]
    cid = stored_case(server, ids["m"])
    body = {"referral_ids": members, "viability": "package", "route": "confirm"}
    with server.client("reviewer") as c:
        stale = c.post(f"/cases/{cid}/decision", json={**body, "referral_ids": members[:4]})
        change = c.post(f"/cases/{cid}/decision", json={**body, "route": "change"})
        first = c.post(f"/cases/{cid}/decision", json=body)
        again = c.post(f"/cases/{cid}/decision", json=body)
        records = {m: c.get(f"/referrals/{m}").json() for m in members}
        left = c.get("/cases", params={"limit": 100}).json()["items"]
    assert stale.status_code == 409 and set(stale.json()["current"]["referral_ids"]) == set(members)
    assert change.status_code == 422 and "destination" in change.text
    assert first.status_code == 201, first.text
    answer = first.json()
    assert answer["created"] is True and answer["route"].startswith("CA-ON")
    assert [d["referral_id"] for d in answer["decisions"]] == members
    assert again.status_code == 200 and again.json()["created"] is False
    assert [d["id"] for d in again.json()["decisions"]] == [d["id"] for d in answer["decisions"]]
    for m in members:
        (decision,) = records[m]["decisions"]  # exactly one each, retry included
        assert decision["viability"] == "package" and decision["reviewer"] == "test-reviewer"
        assert cid in decision["reason"] and "route confirmed" in decision["reason"]
        assert decision["score_id"] == records[m]["scores"][-1]["id"]
    assert cid not in {c["case_id"] for c in left}  # decided: no longer open
    with Store(server.settings.store_url()) as store:
        from serving import case_log

        events = [e for e in case_log.store_events(store, cid) if e.event == "package_decided"]
    assert len(events) == 1
    assert events[0].detail["decision_ids"] == [d["id"] for d in answer["decisions"]]


def test_restart_rebuilds_the_same_cases_and_audit_verify_checks_them(server, family):
    ids = family["ids"]
    before = {k: stored_case(server, v) for k, v in ids.items()}
    with server.client("reviewer") as c:
        cases_before = c.get(f"/cases/{before['m']}").json()["referral_ids"]
    server.stop()
    server.start()
    with server.client("reviewer") as c:
        after = c.get(f"/cases/{before['m']}").json()
    assert after["case_id"] == before["m"] and after["referral_ids"] == cases_before
    env = {**os.environ, "TRIAGE_HOME": str(server.home), "TRIAGE_PSEUDONYM_KEY": KEY}
    out = subprocess.run(
        [sys.executable, "-m", "triage", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"OK: \d+ case events, chain intact", out.stdout), out.stdout
