# ruff: noqa: F811  (the store fixtures come from test_store)
"""Outcome reports under the audit (issue 12): their chain has a head (migration 0005), so
``triage audit verify`` catches an edited, a deleted, a cut-off and a rewritten last
report; the anchors sign its head with the others; reports recorded before 0005 keep
verifying. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from test_outcome_reports import outcome
from test_store import (  # noqa: F401  (fixtures)
    pg_database,
    raw_sql,
    scored,
    store,
    store_url,
)

from serving import anchor, chain
from serving.database import alembic_config, make_engine, writer
from serving.db_models import OutcomeReportRow
from serving.outcomes import HASHED, outcome_hash
from serving.store import Store
from triage.cli import main as triage

FINDINGS = ("child_safe_identified", "offender_identified", "no_offence_found", "unknown")


def unguard(url: str) -> None:
    """What someone with direct database access does first: drop the append-only triggers."""
    if "sqlite" in url:
        raw_sql(
            url,
            "DROP TRIGGER outcome_reports_no_update",
            "DROP TRIGGER outcome_reports_no_delete",
        )
    else:
        raw_sql(url, "DROP TRIGGER outcome_reports_no_change ON outcome_reports")


@pytest.fixture
def four(store: Store, store_url: str, pseudonymiser) -> Store:
    scored(store, pseudonymiser, "R-1", "R-2")
    for finding in FINDINGS:
        store.add_outcome(outcome("R-1", finding=finding))
    assert store.verify_outcomes().ok and store.verify_outcomes().checked == 4
    assert store.heads()["outcomes"][0] == 4
    unguard(store_url)
    return store


def test_a_deleted_report_is_caught(four: Store, store_url: str):
    raw_sql(store_url, "DELETE FROM outcome_reports WHERE id = 2")
    check = four.verify_outcomes()
    assert not check.ok and check.first_bad_id == 2 and "missing" in (check.reason or "")


def test_an_edited_report_is_caught(four: Store, store_url: str):
    raw_sql(store_url, "UPDATE outcome_reports SET agency = 'Other (test)' WHERE id = 3")
    check = four.verify_outcomes()
    assert not check.ok and check.first_bad_id == 3


def test_a_cut_off_last_report_is_caught_by_the_head(four: Store, store_url: str):
    raw_sql(store_url, "DELETE FROM outcome_reports WHERE id = 4")
    check = four.verify_outcomes()
    assert not check.ok and "chain head records 4" in (check.reason or "")


def test_a_rewritten_last_report_with_a_fresh_hash_is_caught_by_the_head(
    four: Store, store_url: str
):
    last = four.outcomes_for("R-1")[-1]
    forged = {**last.model_dump(), "urgency_in_hindsight": "routine"}
    new_hash = outcome_hash({k: forged[k] for k in HASHED}, last.prev_hash)
    raw_sql(
        store_url,
        f"UPDATE outcome_reports SET urgency_in_hindsight = 'routine', hash = '{new_hash}' "
        "WHERE id = 4",
    )
    check = four.verify_outcomes()
    assert not check.ok and "does not match the chain head" in (check.reason or "")


def test_audit_verify_and_the_anchors_cover_outcomes(
    four: Store, store_url: str, tmp_path: Path, monkeypatch, capsys
):
    key_file = tmp_path / "outside-home" / "anchor.key"
    key_file.parent.mkdir()
    key_file.write_text("k" * 48)
    anchors = tmp_path / "anchors.jsonl"
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRIAGE_ANCHOR_KEY_FILE", str(key_file))
    assert triage(["audit", "anchor", "--file", str(anchors)]) == 0
    assert json.loads(anchors.read_text())["outcomes"]["id"] == 4
    assert triage(["audit", "verify", "--anchor", str(anchors)]) == 0
    assert "OK: 4 outcome reports, chain intact" in capsys.readouterr().out
    # cut the last two reports and reset the head: the chain alone passes, the anchor not
    kept = four.outcomes_for("R-1")[1]
    raw_sql(
        store_url,
        "DELETE FROM outcome_reports WHERE id > 2",
        f"UPDATE outcome_chain_head SET last_id = 2, last_hash = '{kept.hash}'",
    )
    assert four.verify_outcomes().ok
    assert triage(["audit", "verify", "--anchor", str(anchors)]) == 1
    out = capsys.readouterr().out
    assert "ANCHOR MISMATCH: outcomes: the chain ends at record 2 but record 4" in out
    # an anchor written before 0005 has no outcome head: still checked for the others
    line = json.loads(anchors.read_text())
    del line["outcomes"]
    body = {k: v for k, v in line.items() if k != "mac"}
    line["mac"] = anchor._mac(anchor.load_key(key_file, tmp_path / "home"), body)
    anchors.write_text(json.dumps(line) + "\n")
    assert triage(["audit", "verify", "--anchor", str(anchors)]) == 0


def test_reports_recorded_before_0005_keep_verifying(store_url: str, pseudonymiser):
    engine = make_engine(store_url)
    with writer(engine).begin() as conn:
        command.upgrade(alembic_config(conn), "0004")
    engine.dispose()
    # rows as 0004's code wrote them: its own chain, no head
    rows, prev = [], chain.GENESIS
    for i, finding in enumerate(FINDINGS[:2], 1):
        content = {
            **outcome("R-1", finding=finding).model_dump(),
            "id": i,
            "recorded_at": outcome("R-1").reported_at,
            "recorded_by": None,
            "recorded_by_token": None,
        }
        content["hash"] = outcome_hash(content, prev)
        content["prev_hash"], prev = prev, content["hash"]
        rows.append(content)
    store = Store(store_url)
    try:
        scored(store, pseudonymiser, "R-1")  # the 0004 schema has every table this uses
        engine = make_engine(store_url)
        with engine.begin() as conn:
            conn.execute(OutcomeReportRow.__table__.insert(), rows)
        engine.dispose()
        store.migrate()
        check = store.verify_outcomes()
        assert check.ok and check.checked == 2 and check.head_hash == prev
        scored(store, pseudonymiser, "R-2")
        record, _ = store.add_outcome(outcome("R-2"))
        assert record.id == 3 and record.prev_hash == prev and store.verify_outcomes().ok
    finally:
        store.close()
