"""Degraded mode, SIGKILL durability and the audit chain, on a server with no model.

The server starts on an empty home (no registry, no store): it must come up, answer every
valid referral with the safety rules (``degraded: true``, 200) and record it. Then
decisions are acknowledged, the server is killed with SIGKILL and restarted: every
acknowledged decision is there, the history is rebuilt from the store, and editing a
stored decision is caught by ``triage audit verify``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from service_support import (
    KEY,
    Server,
    at,
    check_score,
    shown,
    uid,
    variant,
    with_subject,
)
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from models.degraded import RULES_VERSION
from serving.store import Store

pytestmark = pytest.mark.timeout(300)
PG_URL = os.environ.get("TRIAGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def pg_schema_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL database (CI runs one), dropped afterwards."""
    schema = f"svc_{uuid.uuid4().hex[:12]}"
    engine = create_engine(PG_URL, connect_args={"connect_timeout": 5})
    try:
        with engine.begin() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except OperationalError as e:
        engine.dispose()
        pytest.fail(f"PostgreSQL unreachable ({type(e).__name__}): CI has one", pytrace=False)
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def empty(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A server on an empty home: no registry, no store (SQLite file or PostgreSQL schema)."""
    with contextlib.ExitStack() as stack:
        env = {}
        if request.param == "postgresql":
            env["TRIAGE_DATABASE_URL"] = stack.enter_context(pg_schema_url())
        server = Server(tmp_path_factory.mktemp("empty") / "home", env_extra=env)
        server.start()
        stack.callback(server.stop)
        server.make_tokens()
        yield server


def test_no_model_means_rules_answer_200_and_are_recorded(empty, raw_referrals):
    with empty.client() as c:
        ready = c.get("/readyz").json()
    assert ready["degraded"] is True and ready["model_version"] == RULES_VERSION
    assert ready["degraded_reason"] == "no model registry"
    one = variant(raw_referrals[20], "deg")
    many = [variant(d, "deg") for d in raw_referrals[21:40]]
    with empty.client("scorer") as c:
        r = c.post("/score", json=one)
        assert r.status_code == 200, r.text
        check_score(r.json(), RULES_VERSION, degraded=True)
        batch = c.post("/score", json=many).json()
        assert batch["degraded"] is True and batch["model_version"] == RULES_VERSION
        assert len(batch["scores"]) == len(many)
        # without a model nothing is ruled out: the doubt flag is up on every answer
        assert all(x["cannot_rule_out_immediate"] is True for x in batch["scores"])
        assert all(x["urgency_set"][0] == "immediate" for x in batch["scores"])
        model = c.get("/model").json()
    with empty.client("admin") as c:
        metrics = c.get("/metrics").text
    assert model["version"] == RULES_VERSION and model["degraded"] is True
    assert 'triage_degraded_answers_total{reason="no_model"} 20.0' in metrics
    with empty.client("reviewer") as c:
        stored = c.get(f"/referrals/{one['referral_id']}").json()
        queue = [i["referral_id"] for i in c.get("/queue", params={"limit": 1000}).json()["items"]]
    assert stored["scores"][0]["score"]["degraded"] is True
    assert {one["referral_id"], *(d["referral_id"] for d in many)} <= set(queue)


def test_acknowledged_decisions_survive_sigkill_and_history_is_rebuilt(empty, raw_referrals):
    shared = uid("restart-shared")
    t0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    docs = [
        at(variant(d, "ack"), t0 + timedelta(minutes=i)) for i, d in enumerate(raw_referrals[40:70])
    ]
    with_subject(docs[0], shared)
    with empty.client("scorer") as c:
        scores = c.post("/score", json=docs).json()["scores"]

    def decide(score: dict) -> tuple[int, int]:
        with empty.client("reviewer") as c:
            fb = {
                "referral_id": score["referral_id"],
                "score_id": shown(c, score["referral_id"]),
                "decision": "confirm",
                "tier": score["tier"],
                "viability": "lead",
                "model_version": score["model_version"],
            }
            r = c.post("/feedback", json=fb)
        assert r.status_code == 201, r.text
        return r.status_code, r.json()["decision"]["id"]

    with ThreadPoolExecutor(4) as pool:
        acked = [decision_id for _, decision_id in pool.map(decide, scores)]
    empty.kill()  # straight after the last acknowledgement: no shutdown, no flush
    empty.start()

    with empty.client("reviewer") as c:
        for s in scores:
            record = c.get(f"/referrals/{s['referral_id']}").json()
            assert [d["reviewer"] for d in record["decisions"]] == ["test-reviewer"]
        assert not {s["referral_id"] for s in scores} & {
            i["referral_id"] for i in c.get("/queue", params={"limit": 1000}).json()["items"]
        }
    with Store(empty.settings.store_url()) as store:
        assert {d.id for d in store.decisions()} >= set(acked)
        assert store.verify_chain().ok
    later = at(with_subject(variant(raw_referrals[70], "after"), shared), t0 + timedelta(days=30))
    with empty.client("scorer") as c:
        assert c.post("/score", json=later).status_code == 200
    with empty.client("reviewer") as c:
        feats = c.get(f"/referrals/{later['referral_id']}").json()["scores"][0]["features"]
    assert feats["link_prior_referrals"] == 1, "the restarted service remembers the suspect"


def audit(server: Server) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRIAGE_HOME": str(server.home), "TRIAGE_PSEUDONYM_KEY": KEY}
    env.update(server.env_extra)
    cmd = [sys.executable, "-m", "triage", "audit", "verify"]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def test_the_audit_chain_catches_an_edited_decision(empty, raw_referrals):
    """Self-contained (it used to edit decision 3 made by an earlier test): it records its
    own decisions, then edits the middle one of them."""
    docs = [variant(d, "audit") for d in raw_referrals[80:83]]
    with empty.client("scorer") as c:
        scores = c.post("/score", json=docs).json()["scores"]
    ids = []
    with empty.client("reviewer") as c:
        for sc in scores:
            fb = {
                "referral_id": sc["referral_id"],
                "score_id": shown(c, sc["referral_id"]),
                "decision": "confirm",
                "tier": sc["tier"],
                "viability": "lead",
                "model_version": sc["model_version"],
            }
            r = c.post("/feedback", json=fb)
            assert r.status_code == 201, r.text
            ids.append(r.json()["decision"]["id"])
    middle = ids[1]
    ok = audit(empty)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    engine = create_engine(empty.settings.store_url())
    with engine.begin() as conn:  # someone with database access, past the append-only guard
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER decisions_no_change ON decisions"))
        else:
            conn.execute(text("DROP TRIGGER decisions_no_update"))
        conn.execute(
            text("UPDATE decisions SET reviewer = 'someone-else' WHERE id = :id"), {"id": middle}
        )
    engine.dispose()
    broken = audit(empty)
    assert broken.returncode == 1
    assert f"BROKEN at decision {middle}" in broken.stdout
