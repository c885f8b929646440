# ruff: noqa: F811  (fixtures imported from test_store are parameters here)
"""Oversight in the store, on SQLite and PostgreSQL: decisions bound to the score shown
and to the authenticated person, token lifetimes and their audit, the access log's chain
and retention, anchors that catch a cut-off tail, and private files."""

from __future__ import annotations

import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError
from test_store import (  # noqa: F401  (fixtures)
    Clock,
    drop_append_only_triggers,
    feedback,
    pg_database,
    raw_sql,
    scored,
    store,
    store_url,
)

from features.config import Settings
from serving import anchor, auth
from serving.access_log import Access
from serving.auth import Principal
from serving.records import NotThisPerson, StoreError, SupersededScore
from serving.store import Store
from triage.cli import main as triage

pytestmark = pytest.mark.timeout(120)

ADA = Principal(token_id=7, name="Reviewer Ada", role="reviewer")
BO = Principal(token_id=8, name="Reviewer Bo", role="reviewer")


# --- decisions --------------------------------------------------------------------------


def test_a_decision_names_the_score_it_was_made_on(store: Store, pseudonymiser) -> None:
    [first] = scored(store, pseudonymiser, "R-1")
    [second] = scored(store, pseudonymiser, "R-1")
    [elsewhere] = scored(store, pseudonymiser, "R-2")
    with pytest.raises(SupersededScore) as e:
        store.add_decision(feedback("R-1", score_id=first, reviewer=None), ADA)
    assert e.value.current_score_id == second and e.value.field == "score_id"
    with pytest.raises(StoreError, match="not a score of this referral"):
        store.add_decision(feedback("R-1", score_id=elsewhere, reviewer=None), ADA)
    rec, created = store.add_decision(feedback("R-1", score_id=second, reviewer=None), ADA)
    assert created and rec.score_id == second
    assert store.counts().decisions == 1


def test_a_retry_after_a_re_score_is_the_recorded_decision(store: Store, pseudonymiser) -> None:
    [first] = scored(store, pseudonymiser, "R-1")
    rec, created = store.add_decision(feedback("R-1", score_id=first, reviewer=None), ADA)
    assert created
    scored(store, pseudonymiser, "R-1")  # re-scored after the decision was acknowledged
    again, created = store.add_decision(feedback("R-1", score_id=first, reviewer=None), ADA)
    assert not created and again.id == rec.id  # the client's retry: 200 with its record
    with pytest.raises(SupersededScore):  # another person, or another decision: refused
        store.add_decision(feedback("R-1", score_id=first, reviewer=None), BO)
    with pytest.raises(SupersededScore):
        store.add_decision(
            feedback("R-1", score_id=first, reviewer=None, decision="override", reason="x"), ADA
        )
    assert store.counts().decisions == 1


def test_the_recorded_reviewer_is_the_authenticated_person(store: Store, pseudonymiser) -> None:
    [sid] = scored(store, pseudonymiser, "R-1")
    with pytest.raises(NotThisPerson):
        store.add_decision(feedback("R-1", score_id=sid, reviewer="Reviewer Ada"), BO)
    by_bo, _ = store.add_decision(feedback("R-1", score_id=sid, reviewer=None), BO)
    by_ada, created = store.add_decision(
        feedback("R-1", score_id=sid, reviewer="Reviewer Ada"), ADA
    )
    assert created, "Ada's identical decision is hers, not a retry of Bo's"
    assert (by_bo.reviewer, by_ada.reviewer) == ("Reviewer Bo", "Reviewer Ada")
    assert by_bo.idempotency_key != by_ada.idempotency_key
    retry, again = store.add_decision(feedback("R-1", score_id=sid, reviewer=None), ADA)
    assert not again and retry == by_ada
    with pytest.raises(StoreError, match="reviewer"):
        store.add_decision(feedback("R-1", reviewer=None))  # no token, no name
    assert store.verify_chain().ok


def test_model_version_must_be_the_scores(store: Store, pseudonymiser) -> None:
    scored(store, pseudonymiser, "R-1", version="m1")
    with pytest.raises(StoreError) as e:
        store.add_decision(feedback("R-1", model_version="m2"))
    assert e.value.field == "model_version"
    with pytest.raises(ValueError, match="model_version"):
        feedback("R-1", model_version="<script>")
    with pytest.raises(ValueError, match="reviewer"):
        feedback("R-1", reviewer="\u202eevil\u0000")
    assert store.counts().decisions == 0


def test_identifiers_in_a_reason_are_redacted_before_hashing(store: Store, pseudonymiser) -> None:
    scored(store, pseudonymiser, "R-1")
    rec, _ = store.add_decision(
        feedback("R-1", decision="override", tier="immediate", reason="mail a.b@example.org")
    )
    assert rec.reason == "mail [email]" and store.verify_chain().ok


def test_every_scored_version_of_a_referral_is_kept(store: Store, pseudonymiser) -> None:
    from test_store import referral, score

    first = referral(pseudonymiser, "R-1", source="ncmec")
    later = referral(pseudonymiser, "R-1", source="industry")
    store.record_scores([(first, score("R-1"), {})], "a")
    store.record_scores([(later, score("R-1"), {})], "b")
    view = store.referral("R-1")
    assert view is not None
    assert [s.referral.source for s in view.scores if s.referral] == ["ncmec", "industry"]
    assert view.referral.source == "industry"


# --- tokens -----------------------------------------------------------------------------


def test_tokens_expire_rotate_and_record_who_made_them(store: Store) -> None:
    raw = auth.create_token(store, "reviewer", "Reviewer Ada", hours=1, by="os:lead")
    assert auth.authenticate(store, raw) is not None
    [info] = store.tokens()
    assert info.expires_at == info.created_at + timedelta(hours=1)
    assert info.created_by == "os:lead"
    with pytest.raises(StoreError, match="name"):
        auth.create_token(store, "reviewer")  # a reviewer token names its person
    with pytest.raises(StoreError, match="name"):
        auth.create_token(store, "reviewer", "evil\u202e")
    new = auth.rotate_token(store, info.id, by="os:lead")
    assert auth.authenticate(store, raw) is None and auth.authenticate(store, new) is not None
    old, fresh = store.tokens()
    assert old.revoked and old.revoked_by == "os:lead" and fresh.rotated_from == old.id
    actions = [(r.action, r.actor) for r in store.access_recent()]
    assert actions == [
        ("token_created", "os:lead"),
        ("token_rotated", "os:lead"),
        ("token_revoked", "os:lead"),
    ]
    with pytest.raises(StoreError, match="token_id"):
        auth.rotate_token(store, old.id)


def test_an_expired_token_does_not_authenticate(store_url: str) -> None:
    clock = Clock()
    with Store(store_url, clock=clock) as s:
        s.migrate()
        raw = auth.create_token(s, "reviewer", "Reviewer Ada", hours=2)
        assert auth.authenticate(s, raw) is not None
        clock.t += timedelta(hours=2)
        assert auth.authenticate(s, raw) is None
        assert s.tokens()[0].state(s.now()) == "expired"


def test_token_commands_list_expiry_and_rotate(store_url: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    monkeypatch.setenv("TRIAGE_TOKEN_HOURS", '{"reviewer": 8}')
    assert triage(["token", "create", "--role", "reviewer", "--name", "Ada", "--by", "lead"]) == 0
    raw = capsys.readouterr().out.strip()
    assert triage(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "Ada" in listing and "lead" in listing and "active" in listing and raw not in listing
    with Store(store_url) as s:
        [t] = s.tokens()
        assert t.expires_at - t.created_at == timedelta(hours=8)
    assert triage(["token", "rotate", str(t.id)]) == 0
    rotated = capsys.readouterr().out.strip()
    with Store(store_url) as s:
        assert auth.authenticate(s, raw) is None and auth.authenticate(s, rotated) is not None
    with pytest.raises(SystemExit):  # --name is required
        triage(["token", "create", "--role", "reviewer"])


# --- the access log ---------------------------------------------------------------------


def test_the_access_log_is_chained_and_append_only(store: Store, store_url: str) -> None:
    store.record_access(
        Access(
            action="read_referral",
            status=200,
            actor="Ada",
            role="reviewer",
            client="10.1.2.3",
            referral_ids=("R-1",),
        ),
        Access(
            action="read_queue",
            status=200,
            actor="Bo",
            role="reviewer",
            referral_ids=("R-2", "R-1"),
        ),
        Access(action="refused", status=401, client="10.9.9.9", referral_ids=("R-1",)),
    )
    seen = store.access_for("R-1")
    assert [(r.action, r.actor) for r in seen] == [
        ("read_referral", "Ada"),
        ("read_queue", "Bo"),
        ("refused", None),
    ]
    assert [r.action for r in store.access_for("R-2")] == ["read_queue"]
    assert store.verify_access().ok and store.verify_access().checked == 3
    for stmt in ("UPDATE access_log SET actor = 'Eve' WHERE id = 1", "DELETE FROM access_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            raw_sql(store_url, stmt)
    drop_access_triggers(store_url)
    raw_sql(store_url, "UPDATE access_log SET actor = 'Eve' WHERE id = 1")
    check = store.verify_access()
    assert not check.ok and check.first_bad_id == 1


def test_retention_cuts_the_oldest_and_the_rest_verifies(store_url: str) -> None:
    clock = Clock()
    with Store(store_url, clock=clock) as s:
        s.migrate()
        s.record_access(Access(action="read_queue", status=200, referral_ids=("R-1",)))
        s.record_access(Access(action="read_queue", status=200))
        clock.t += timedelta(days=30)
        s.record_access(Access(action="read_referral", status=200, referral_ids=("R-1",)))
        assert s.prune_access(timedelta(days=10)) == 2
        assert [r.action for r in s.access_for("R-1")] == ["read_referral"]
        check = s.verify_access()
        assert check.ok and check.checked == 1 and check.head_id == 3
        with pytest.raises(DBAPIError, match="append-only"):
            raw_sql(store_url, "DELETE FROM access_log WHERE id = 3")


def test_audit_access_command_answers_who_saw_a_referral(
    store: Store, store_url, monkeypatch, capsys
):
    store.record_access(
        Access(
            action="read_referral",
            status=200,
            actor="Reviewer Ada",
            role="reviewer",
            client="10.1.2.3",
            referral_ids=("R-7",),
        ),
    )
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    assert triage(["audit", "access", "--referral", "R-7"]) == 0
    out = capsys.readouterr().out
    assert "Reviewer Ada" in out and "10.1.2.3" in out and "read_referral" in out
    assert triage(["audit", "access", "--referral", "R-8"]) == 0
    assert "Reviewer Ada" not in capsys.readouterr().out


# --- anchors ----------------------------------------------------------------------------


@pytest.fixture
def anchor_key(tmp_path: Path) -> Path:
    key = tmp_path / "outside-home" / "anchor.key"
    key.parent.mkdir()
    key.write_text("k" * 48)
    return key


def test_a_cut_off_tail_with_a_reset_head_is_caught_by_the_anchor(
    store: Store, store_url: str, pseudonymiser, anchor_key: Path, tmp_path, monkeypatch, capsys
) -> None:
    scored(store, pseudonymiser, *[f"R-{i}" for i in range(12)])
    for i in range(12):
        store.add_decision(feedback(f"R-{i}"))
    anchors = tmp_path / "anchors" / "anchors.jsonl"
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRIAGE_ANCHOR_KEY_FILE", str(anchor_key))
    assert triage(["audit", "anchor", "--file", str(anchors)]) == 0
    assert stat.S_IMODE(anchors.stat().st_mode) == 0o600
    capsys.readouterr()
    # the attack: drop the trigger, delete the last 10 decisions, reset the head
    drop_append_only_triggers(store_url)
    kept = store.decisions()[1]
    raw_sql(
        store_url,
        "DELETE FROM decisions WHERE id > 2",
        f"UPDATE decision_chain_head SET last_id = 2, last_hash = '{kept.hash}'",
    )
    assert store.verify_chain().ok, "the chain alone cannot see it"
    assert triage(["audit", "verify"]) == 0
    capsys.readouterr()
    assert triage(["audit", "verify", "--anchor", str(anchors)]) == 1
    out = capsys.readouterr().out
    assert "ANCHOR MISMATCH: decisions: the chain ends at record 2 but record 12" in out


def test_a_rewritten_tail_and_a_forged_anchor_are_caught(
    store: Store, store_url: str, pseudonymiser, anchor_key: Path, tmp_path
) -> None:
    scored(store, pseudonymiser, "R-1", "R-2")
    store.add_decision(feedback("R-1"))
    key = anchor.load_key(anchor_key, tmp_path / "home")
    path = tmp_path / "anchors.jsonl"
    anchor.write_anchor(store, key, path)
    assert anchor.check(store, key, path) == []
    store.add_decision(feedback("R-2"))
    assert anchor.check(store, key, path) == [], "a longer chain is fine"
    drop_append_only_triggers(store_url)
    raw_sql(store_url, f"UPDATE decisions SET hash = '{'e' * 64}' WHERE id = 1")
    assert any("record 1 no longer has the hash" in p for p in anchor.check(store, key, path))
    line = json.loads(path.read_text())
    line["decisions"]["id"] = 0
    path.write_text(json.dumps(line) + "\n")
    problems = anchor.check(store, key, path)
    assert problems[0].startswith("anchor line 1: signature does not match")


def test_the_anchor_key_must_live_outside_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "keys").mkdir(parents=True)
    inside = home / "keys" / "anchor.key"
    inside.write_text("k" * 48)
    with pytest.raises(StoreError, match="outside TRIAGE_HOME"):
        anchor.load_key(inside, home)
    short = tmp_path / "short.key"
    short.write_text("k" * 8)
    with pytest.raises(StoreError, match="32 bytes"):
        anchor.load_key(short, home)


# --- files --------------------------------------------------------------------------------


def test_store_and_key_files_are_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    s = Settings(home=home)
    with Store(s.store_url()) as store:
        store.migrate()
    db = home / "store" / "triage.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    s.resolve_pseudonym_key()
    assert stat.S_IMODE(s.key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(s.key_file.parent.stat().st_mode) == 0o700
    elsewhere = tmp_path / "secrets" / "pseudonym.key"
    moved = Settings(home=home, pseudonym_key_file=elsewhere)
    assert moved.resolve_pseudonym_key() != s.resolve_pseudonym_key()
    assert elsewhere.is_file() and not (home / "secrets").exists()


def drop_access_triggers(url: str) -> None:
    if url.startswith("postgresql"):
        raw_sql(url, "DROP TRIGGER access_log_no_change ON access_log")
    else:
        raw_sql(url, "DROP TRIGGER access_log_no_update", "DROP TRIGGER access_log_no_delete")


def test_the_service_anchors_at_start_and_at_shutdown(store: Store, anchor_key: Path, tmp_path):
    """What ``serving.service`` does: retention, an anchor at start, the schedule, and a
    last anchor at shutdown (the interval is long, so exactly those two are written)."""
    from types import SimpleNamespace

    path = tmp_path / "anchors" / "anchors.jsonl"
    settings = Settings(
        home=tmp_path / "home", anchor_key_file=anchor_key, anchor_file=path, anchor_minutes=60
    )
    schedule = anchor.start_anchoring(SimpleNamespace(settings=settings, store=store))
    assert schedule is not None and len(path.read_text().splitlines()) == 1
    store.record_access(Access(action="read_queue", status=200))
    schedule.stop()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["access"]["id"] for x in lines] == [0, 1]
    unset = Settings(home=tmp_path / "home")
    assert anchor.start_anchoring(SimpleNamespace(settings=unset, store=store)) is None
