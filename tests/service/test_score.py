"""``POST /score`` on a real server: one and many, bad input, limits, history, recording."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from service_support import at, check_score, uid, variant, with_subject

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def version(trained) -> str:
    return str(trained[1].version)


def test_one_referral_gets_a_score_from_the_champion_version(live, raw_referrals, version):
    doc = variant(raw_referrals[0], "one")
    with live.client("scorer") as c:
        r = c.post("/score", json=doc)
    assert r.status_code == 200, r.text
    score = check_score(r.json(), version, degraded=False)
    assert score.referral_id == doc["referral_id"]
    assert r.headers["X-Model-Version"] == version
    assert score.reasons, "a model answer explains itself"


def test_a_batch_is_scored_in_order_and_recorded(live, raw_referrals, version):
    docs = [variant(d, "batch") for d in raw_referrals[:60]]
    with live.client("scorer") as c:
        r = c.post("/score", json=docs)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rejected"] == [] and body["degraded"] is False
    assert body["model_version"] == version
    assert [s["referral_id"] for s in body["scores"]] == [d["referral_id"] for d in docs]
    for s in body["scores"]:
        check_score(s, version, degraded=False)
    with live.client("reviewer") as c:
        stored = c.get(f"/referrals/{docs[7]['referral_id']}").json()
    assert [s["request_id"] for s in stored["scores"]] == [r.headers["X-Request-ID"]]
    # the scorer is not told the case (docs/security.md); the stored score, for reviewers, is
    kept = stored["scores"][0]["score"]
    assert body["scores"][7]["case_id"] is None and kept.pop("case_id").startswith("case-")
    assert kept == {k: v for k, v in body["scores"][7].items() if k != "case_id"}
    assert stored["scores"][0]["features"], "the inference log keeps the model inputs"


def test_a_bad_referral_gets_422_naming_every_field(live, raw_referrals):
    doc = variant(raw_referrals[1], "bad")
    doc["received_at"] = "2023-01-01T00:00:00"  # no offset
    doc["source"] = "pigeon"
    doc["subjects"] = [{"identifiers": [{"kind": "fax", "value": "x"}]}]
    with live.client("scorer") as c:
        r = c.post("/score", json=doc)
    assert r.status_code == 422, r.text
    paths = {e["path"] for e in r.json()["errors"]}
    assert {"received_at", "source", "subjects.0.identifiers.0.kind"} <= paths
    with live.client("reviewer") as c:
        assert c.get(f"/referrals/{doc['referral_id']}").status_code == 404


def test_a_mixed_batch_keeps_the_good_ones_and_lists_the_bad(live, raw_referrals):
    good = [variant(d, "mixed") for d in raw_referrals[2:5]]
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    bad = variant(raw_referrals[5], "mixed", received_at=future)
    docs = [good[0], bad, good[1], "not an object", good[2], good[0]]
    with live.client("scorer") as c:
        r = c.post("/score", json=docs)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["referral_id"] for s in body["scores"]] == [g["referral_id"] for g in good]
    rejected = {x["index"]: x for x in body["rejected"]}
    assert set(rejected) == {1, 3, 5}
    assert rejected[1]["referral_id"] == bad["referral_id"]
    assert rejected[1]["errors"][0]["path"] == "received_at"
    assert rejected[3]["referral_id"] is None
    assert "duplicate" in rejected[5]["errors"][0]["reason"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        (b'{"referral_id": ', 400, "not valid JSON"),
        (b"", 400, "empty body"),
        (b"\xff\xfe", 400, "UTF-8"),
        (b"42", 422, "expected a referral"),
        (b"[]", 422, "empty list"),
        (json.dumps([{}] * 1001).encode(), 422, "at most 1000"),
        (b'["nope"]', 422, "no valid referral"),
    ],
)
def test_unusable_bodies_get_a_clear_message(live, body, status, words):
    with live.client("scorer") as c:
        r = c.post("/score", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert words in r.json()["error"]


def test_a_body_over_the_limit_is_refused_with_413(live):
    big = b"[" + b" " * (10 * 1024 * 1024) + b"]"
    with live.client("scorer") as c:
        r = c.post("/score", content=big, headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        chunks = (b" " * (1024 * 1024) for _ in range(12))  # streamed: no Content-Length
        r = c.post("/score", content=chunks, headers={"Content-Type": "application/json"})
        assert r.status_code == 413


def test_the_history_grows_with_every_referral_scored(live, raw_referrals):
    """A later referral sharing a suspect's identifier sees the earlier one; point in
    time: re-scoring the earlier one does not see the later."""
    shared = uid("shared-screen-name")
    t0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    first = at(with_subject(variant(raw_referrals[6], "hist"), shared), t0)
    later = at(with_subject(variant(raw_referrals[7], "hist"), shared), t0 + timedelta(hours=5))
    with live.client("scorer") as c:
        assert c.post("/score", json=first).status_code == 200
        assert c.post("/score", json=later).status_code == 200
        assert c.post("/score", json=first).status_code == 200
    with live.client("reviewer") as c:
        a = c.get(f"/referrals/{first['referral_id']}").json()
        b = c.get(f"/referrals/{later['referral_id']}").json()
    assert b["scores"][0]["features"]["link_prior_referrals"] == 1
    assert [s["features"]["link_prior_referrals"] for s in a["scores"]] == [0, 0]
    assert len(a["scores"]) == 2, "re-scoring keeps the earlier score"


# -- strict input (issue 16): what a hostile client sent, each refused by name -----------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("received_at", "0001-01-01T00:00:00+00:00"),
        ("received_at", "1677-01-01T00:00:00+00:00"),
        ("received_at", 1577836800),
        ("received_at", 1577836800.5),
        ("referral_id", " padded"),
    ],
)
def test_a_bad_referral_in_a_list_is_rejected_alone_and_the_rest_scored(
    live, raw_referrals, field, value
):
    good = [variant(d, "strict") for d in raw_referrals[8:10]]
    bad = variant(raw_referrals[10], "strict", **{field: value})
    with live.client("scorer") as c:
        r = c.post("/score", json=[good[0], bad, good[1]])
        assert r.status_code == 200, r.text
        body = r.json()
        assert [s["referral_id"] for s in body["scores"]] == [g["referral_id"] for g in good]
        assert [(x["index"], [e["path"] for e in x["errors"]]) for x in body["rejected"]] == [
            (1, [field])
        ]
        alone = c.post("/score", json=bad)
        assert alone.status_code == 422, alone.text
        assert [e["path"] for e in alone.json()["errors"]] == [field]


def test_an_incident_years_after_receipt_is_refused(live, raw_referrals):
    doc = variant(raw_referrals[11], "strict")
    doc["incident"] = {**doc["incident"], "occurred_at": "9999-01-01T00:00:00+00:00"}
    with live.client("scorer") as c:
        r = c.post("/score", json=doc)
    assert r.status_code == 422, r.text
    assert [e["path"] for e in r.json()["errors"]] == ["incident.occurred_at"]
    with live.client("reviewer") as c:
        assert c.get(f"/referrals/{doc['referral_id']}").status_code == 404


@pytest.mark.parametrize("digits", [309, 310, 5000])
def test_huge_integers_are_refused_not_stored(live, raw_referrals, digits):
    doc = variant(raw_referrals[12], "strict")
    doc["subjects"] = [{"prior_reports": 1}]
    text = json.dumps(doc).replace('"prior_reports": 1', '"prior_reports": ' + "9" * digits)
    with live.client("scorer") as c:
        r = c.post("/score", content=text, headers={"Content-Type": "application/json"})
    expected = 400 if digits > 4300 else 422  # Python's int parser limit, else the bound
    assert r.status_code == expected, r.text
    if expected == 422:
        assert [e["path"] for e in r.json()["errors"]] == ["subjects.0.prior_reports"]
    with live.client("reviewer") as c:
        assert c.get(f"/referrals/{doc['referral_id']}").status_code == 404


def test_duplicate_keys_are_refused(live, raw_referrals):
    doc = variant(raw_referrals[13], "strict")
    text = json.dumps(doc)[:-1] + ', "source": "public"}'
    with live.client("scorer") as c:
        r = c.post("/score", content=text, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert "duplicate key 'source'" in r.json()["error"]
    with live.client("reviewer") as c:
        assert c.get(f"/referrals/{doc['referral_id']}").status_code == 404


def test_an_all_rejected_list_answers_the_documented_shape(live):
    with live.client("scorer") as c:
        r = c.post("/score", json=["nope", {"referral_id": "only-id"}])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "no valid referral in the list"
    assert [(x["index"], x["referral_id"]) for x in body["rejected"]] == [
        (0, None),
        (1, "only-id"),
    ]
    assert all(x["errors"] for x in body["rejected"])


@pytest.mark.parametrize(
    "query", ["offset=9223372036854775808", "offset=10000001", "offset=-1", "limit=0"]
)
def test_queue_parameters_are_bounded(live, query):
    with live.client("reviewer") as c:
        r = c.get(f"/queue?{query}")
    assert r.status_code == 422, r.text
    assert [e["path"] for e in r.json()["errors"]] == [f"query.{query.split('=')[0]}"]


def test_a_referral_path_outside_the_id_pattern_is_refused(live):
    with live.client("reviewer") as c:
        r = c.get("/referrals/has%20space")
    assert r.status_code == 422, r.text
    assert [e["path"] for e in r.json()["errors"]] == ["path.referral_id"]
