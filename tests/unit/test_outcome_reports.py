# ruff: noqa: F811  (the store fixtures come from test_store)
"""Outcome reports (contract §5b, issue 12): idempotent per (referral, agency, finding),
append-only and hash-chained, the strongest urgency label, importable from a file."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from test_store import (  # noqa: F401  (fixtures)
    drop_append_only_triggers,
    feedback,
    pg_database,
    raw_sql,
    scored,
    store,
    store_url,
)

from features.contract import OutcomeReport
from serving.records import UnknownReferral
from serving.store import Store
from triage.cli import main

AT = datetime(2025, 2, 1, 12, tzinfo=UTC)


def outcome(rid: str, **kw) -> OutcomeReport:
    fields = dict(
        referral_id=rid,
        reported_at=AT,
        agency="Fake City Police (test)",
        finding="child_safe_identified",
        urgency_in_hindsight="high",
    )
    fields.update(kw)
    return OutcomeReport(**fields)


def test_outcomes_are_idempotent_chained_and_the_strongest_label(store: Store, pseudonymiser):
    scored(store, pseudonymiser, "R-1", "R-2")
    store.add_decision(feedback("R-1", urgency_assessed="routine", viability="package"))
    first, created = store.add_outcome(outcome("R-1"))
    again, created_again = store.add_outcome(outcome("R-1"))
    assert created and not created_again and again == first
    other, created_other = store.add_outcome(outcome("R-1", finding="offender_identified"))
    assert created_other and other.id == first.id + 1 and other.prev_hash == first.hash
    with pytest.raises(UnknownReferral):
        store.add_outcome(outcome("NEVER-SCORED"))
    labels = {lab.referral.referral_id: lab for lab in store.confirmed_labels()}
    assert set(labels) == {"R-1"}  # R-2 has no decision: no viability, no label
    lab = labels["R-1"]
    assert (lab.outcome.urgency, lab.outcome.viability, lab.provenance) == (
        "high",
        "package",
        "outcome",
    )
    assert lab.outcome.decided_at == AT  # known from when it was reported
    history = {r.referral_id: o for r, o in store.history_referrals()}
    assert history["R-1"].urgency == "high" and history["R-2"] is None
    assert store.verify_outcomes().ok and store.verify_outcomes().checked == 2


def test_an_edited_outcome_breaks_its_chain(store: Store, store_url, pseudonymiser):
    scored(store, pseudonymiser, "R-1")
    store.add_outcome(outcome("R-1"))
    store.add_outcome(outcome("R-1", finding="no_offence_found", urgency_in_hindsight=None))
    with pytest.raises(Exception, match="append-only"):
        raw_sql(store_url, "DELETE FROM outcome_reports WHERE id = 1")
    if "sqlite" in store_url:
        raw_sql(store_url, "DROP TRIGGER outcome_reports_no_update")
    else:
        raw_sql(store_url, "DROP TRIGGER outcome_reports_no_change ON outcome_reports")
    raw_sql(store_url, "UPDATE outcome_reports SET urgency_in_hindsight = 'routine' WHERE id = 1")
    check = store.verify_outcomes()
    assert not check.ok and check.first_bad_id == 1


def test_a_report_in_the_future_or_with_an_unknown_finding_is_refused():
    with pytest.raises(ValidationError, match="reported_at"):
        outcome("R-1", reported_at=datetime(2999, 1, 1, tzinfo=UTC))
    with pytest.raises(ValidationError, match="finding"):
        outcome("R-1", finding="solved")


@pytest.mark.parametrize("when", [0, 1577836800, "1970-01-01T00:00:00+00:00", "2025-02-01"])
def test_a_report_time_follows_the_documents_time_rule(when):
    # an epoch number or a date before 1990 stored here would become a label that the
    # history load refuses (Outcome.decided_at), stopping every restart of the service
    with pytest.raises(ValidationError, match="reported_at"):
        OutcomeReport.model_validate(
            {
                "referral_id": "R-1",
                "reported_at": when,
                "agency": "Fake City Police (test)",
                "finding": "not_investigated",
            }
        )


def test_an_agency_name_must_be_printable():
    with pytest.raises(ValidationError, match="agency"):
        outcome("R-1", agency="Fake\u202ePolice\u0000")


def test_outcomes_import_command(
    store: Store, store_url, pseudonymiser, tmp_path, monkeypatch, capsys
):
    scored(store, pseudonymiser, "R-1", "R-2")
    good = json.loads(outcome("R-1").model_dump_json())
    lines = [
        json.dumps(good),
        json.dumps({**good, "referral_id": "R-2", "finding": "whatever"}),
        "{not json",
        json.dumps({**good, "referral_id": "NEVER-SCORED"}),
    ]
    path = tmp_path / "outcomes.jsonl"
    path.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    assert main(["outcomes", "import", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "recorded 1 outcome reports (0 already recorded, 3 refused)" in out
    assert "line 2: finding" in err and "line 3:" in err and "line 4: referral_id" in err
    assert "whatever" not in err  # values are never echoed
    path.write_text(lines[0] + "\n")
    assert main(["outcomes", "import", str(path)]) == 0
    assert "0 outcome reports (1 already recorded" in capsys.readouterr().out
    assert main(["outcomes", "verify"]) == 0
    assert "OK" in capsys.readouterr().out
