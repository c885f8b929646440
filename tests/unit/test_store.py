"""The durable store on both backends: inference log, decision chain, queue, labels, auth.

Every store test runs on SQLite (a file per test) and on PostgreSQL (a fresh database per
session on ``TRIAGE_TEST_PG_URL``, default the local server's ``test`` database, and a
fresh schema per test). PostgreSQL being unreachable is a failure, not a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import URL, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from features.contract import Feedback, Reason, Score
from features.ingest import parse_referral
from serving import auth
from serving.database import make_engine
from serving.db_models import Base
from serving.records import StoreError, UnknownReferral
from serving.store import Store
from triage.cli import main as triage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pg_databases import fresh_database  # noqa: E402
from roles import OPEN, ROLE_TABLE, ROLES  # noqa: E402  (the tests' own copy of contract §6)

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
NARRATIVE = "SYNTHETIC-NARRATIVE-TEXT"
ESCALATION = "SYNTHETIC-ESCALATION-TEXT"
RAW_EMAIL = "fake.person@example.com"


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_database() -> Iterator[URL]:
    """A fresh, uniquely named PostgreSQL database for this session, dropped at the end."""
    with fresh_database("triage_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or a new schema in the session's PG database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'triage.db'}"
    db: URL = request.getfixturevalue("pg_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(db)
    with engine.begin() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    url = db.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


class Clock:
    """Strictly increasing time, one second per reading, or pinned with ``at``."""

    def __init__(self) -> None:
        self.t = datetime(2025, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.t += timedelta(seconds=1)
            return self.t


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url, clock=Clock())
    s.migrate()
    yield s
    s.close()


def referral(p, rid: str, *, hours: float = 0, source: str = "ncmec", escalated: bool = False):
    return parse_referral(
        {
            "referral_id": rid,
            "received_at": (T0 + timedelta(hours=hours)).isoformat(),
            "source": source,
            "escalation_reason": ESCALATION if escalated else None,
            "incident": {"type": "online_enticement", "platform": "Example Chat"},
            "subjects": [{"identifiers": [{"kind": "email", "value": RAW_EMAIL}]}],
            "narrative": NARRATIVE,
        },
        p,
    )


def score(rid: str, *, tier: str = "high", priority: float = 50.0, version: str = "m1") -> Score:
    return Score(
        referral_id=rid,
        priority=priority,
        tier=tier,
        urgency={"immediate": 0.1, "high": 0.6, "routine": 0.3},
        viability={"package": 0.2, "lead": 0.5, "unactionable": 0.3},
        reasons=[Reason(feature="prior_reports", value=2, contribution=0.4, text="seen before")],
        safety_rules=[],
        retention_deadline=T0 + timedelta(days=365),
        model_version=version,
        scored_at=T0 + timedelta(days=1),
        degraded=False,
    )


def scored(store: Store, p, *rids: str, **kw) -> list[int]:
    return store.record_scores([(referral(p, r), score(r, **kw), {"x": 1.0}) for r in rids], "rq")


def feedback(rid: str, **kw) -> Feedback:
    fields = dict(
        referral_id=rid,
        reviewer="reviewer-1",
        decision="confirm",
        tier="high",
        viability="lead",
        model_version="m1",
    )
    fields.update(kw)
    return Feedback(**fields)


def raw_sql(url: str, *statements: str) -> None:
    """Run SQL as someone with direct database access would (no store, no triggers)."""
    engine = make_engine(url)
    with engine.begin() as c:
        for stmt in statements:
            c.exec_driver_sql(stmt)
    engine.dispose()


def drop_append_only_triggers(url: str) -> None:
    if make_url(url).get_backend_name() == "postgresql":
        raw_sql(url, "DROP TRIGGER decisions_no_change ON decisions")
    else:
        raw_sql(url, "DROP TRIGGER decisions_no_update", "DROP TRIGGER decisions_no_delete")


# --- schema ---------------------------------------------------------------------------


def test_migrate_is_idempotent_and_matches_the_models(store: Store, store_url: str) -> None:
    store.migrate()
    assert store.is_current()
    engine = make_engine(store_url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []
    engine.dispose()


def test_concurrent_migrations_from_several_workers(store_url: str) -> None:
    stores = [Store(store_url) for _ in range(4)]
    errors: list[BaseException] = []

    def go(s: Store) -> None:
        try:
            s.migrate()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(s.is_current() for s in stores)
    for s in stores:
        s.close()


def test_workers_opening_a_new_sqlite_file_together_all_connect(tmp_path: Path) -> None:
    """The switch to WAL on a brand-new file needs an exclusive lock, and SQLite answers a
    racing connection "database is locked" at once (no busy wait); several workers
    starting together must all get in (this raced in ~2% of attempts before the retry)."""
    from serving.database import make_engine

    errors: list[BaseException] = []

    def connect(url: str) -> None:
        engine = make_engine(url)
        try:
            with engine.connect() as c:
                assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            engine.dispose()

    for rep in range(150):
        url = f"sqlite:///{tmp_path / f'race-{rep}' / 'triage.db'}"
        threads = [threading.Thread(target=connect, args=(url,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(StoreError, match="database_url"):
        Store("mysql://localhost/x")


# --- inference log --------------------------------------------------------------------


def test_free_text_and_raw_identifiers_never_reach_the_database(
    store: Store, store_url: str, pseudonymiser
) -> None:
    ref = referral(pseudonymiser, "R-1", escalated=True)
    store.record_scores([(ref, score("R-1"), {"x": 1.0})], "rq-1")
    engine = make_engine(store_url)
    with engine.connect() as c:
        dump = " ".join(
            str(row)
            for table in ("referrals", "scores")
            for row in c.execute(text(f"SELECT * FROM {table}"))
        )
    engine.dispose()
    assert "R-1" in dump  # the dump is real
    for secret in (NARRATIVE, ESCALATION, RAW_EMAIL):
        assert secret not in dump
    back = store.referral("R-1")
    assert back is not None
    assert back.referral.escalated and back.referral.narrative is None
    assert back.referral.subjects == ref.subjects
    plain = referral(pseudonymiser, "R-2")
    store.record_scores([(plain, score("R-2"), {})], "rq-2")
    assert not store.referral("R-2").referral.escalated


def test_rescoring_appends_and_the_queue_shows_the_latest(store: Store, pseudonymiser) -> None:
    first = scored(store, pseudonymiser, "R-1", priority=10, tier="routine")
    second = scored(store, pseudonymiser, "R-1", priority=90, tier="immediate", version="m2")
    assert second[0] > first[0]
    rec = store.referral("R-1")
    assert [s.id for s in rec.scores] == first + second
    assert [s.score.model_version for s in rec.scores] == ["m1", "m2"]
    assert rec.scores[0].score.reasons[0].text == "seen before"
    assert rec.scores[0].features == {"x": 1.0}
    [item] = store.queue()
    assert (item.score_id, item.score.tier, item.score.priority) == (second[0], "immediate", 90)


def test_record_scores_is_one_transaction(store: Store, pseudonymiser) -> None:
    good = (referral(pseudonymiser, "R-1"), score("R-1"), {})
    bad_score = score("R-2").model_copy(update={"tier": "bogus"})  # refused by the database
    with pytest.raises(DBAPIError):
        store.record_scores([good, (referral(pseudonymiser, "R-2"), bad_score, {})], "rq")
    counts = store.counts()
    assert (counts.referrals, counts.scores) == (0, 0)


def test_record_scores_errors_name_the_item_and_field(store: Store, pseudonymiser) -> None:
    ref = referral(pseudonymiser, "R-1")
    with pytest.raises(StoreError) as e:
        store.record_scores([(ref, score("R-1"), {}), (ref, score("R-1"), {"f": object()})], "r")
    assert e.value.field == "items[1].features"
    with pytest.raises(StoreError) as e:
        store.record_scores([(ref, score("R-9"), {})], "r")
    assert e.value.field == "items[0].score.referral_id"
    with pytest.raises(StoreError) as e:
        store.record_scores([(ref, score("R-1"), {})], "")
    assert e.value.field == "request_id"


def test_non_finite_feature_values_are_stored_as_null(store: Store, pseudonymiser) -> None:
    ref = referral(pseudonymiser, "R-1")
    store.record_scores([(ref, score("R-1"), {"a": float("nan"), "b": float("inf"), "c": 2})], "r")
    assert store.referral("R-1").scores[0].features == {"a": None, "b": None, "c": 2}


# --- decisions ------------------------------------------------------------------------


def test_the_same_decision_twice_is_stored_once(store: Store, pseudonymiser) -> None:
    [sid] = scored(store, pseudonymiser, "R-1")
    first, created = store.add_decision(feedback("R-1"))
    again, created_again = store.add_decision(feedback("R-1"))
    assert created and not created_again
    assert again == first
    assert first.score_id == sid and first.id == 1
    other, created_other = store.add_decision(
        feedback("R-1", decision="override", tier="immediate", reason="victim at risk")
    )
    assert created_other and other.id == 2 and other.prev_hash == first.hash
    assert len(store.decisions()) == 2


def test_the_same_decision_on_a_new_score_is_a_new_decision(store: Store, pseudonymiser) -> None:
    scored(store, pseudonymiser, "R-1")
    store.add_decision(feedback("R-1"))
    assert store.queue() == []
    [new_sid] = scored(store, pseudonymiser, "R-1")
    assert [q.referral_id for q in store.queue()] == ["R-1"]
    rec, created = store.add_decision(feedback("R-1"))
    assert created and rec.score_id == new_sid
    assert store.queue() == []


def test_a_decision_for_an_unknown_referral_is_refused(store: Store) -> None:
    with pytest.raises(UnknownReferral) as e:
        store.add_decision(feedback("NEVER-SCORED-42"))
    assert e.value.field == "referral_id"
    assert "NEVER-SCORED-42" not in str(e.value)
    assert store.counts().decisions == 0


def test_decisions_survive_a_new_engine(store: Store, store_url: str, pseudonymiser) -> None:
    scored(store, pseudonymiser, *[f"R-{i}" for i in range(5)])
    acked = [store.add_decision(feedback(f"R-{i}"))[0] for i in range(5)]
    store.close()
    with Store(store_url) as reopened:
        assert reopened.decisions() == acked
        assert reopened.verify_chain().ok


CHILD = """
import os, signal, sys
from features.contract import Feedback
from serving.store import Store
store = Store(sys.argv[1])
for i in range(int(sys.argv[2])):
    rec, _ = store.add_decision(Feedback(referral_id=f"R-{i}", reviewer="r", decision="confirm",
                                         tier="high", viability="lead", model_version="m1"))
    print(rec.id, rec.hash, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_acknowledged_decisions_survive_sigkill(
    store: Store, store_url: str, pseudonymiser
) -> None:
    n = 6
    scored(store, pseudonymiser, *[f"R-{i}" for i in range(n)])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, store_url, str(n)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    acked = [line.split() for line in proc.stdout.splitlines()]
    assert len(acked) == n
    with Store(store_url) as reopened:
        stored = {str(d.id): d.hash for d in reopened.decisions()}
        assert all(stored.get(i) == h for i, h in acked)
        assert reopened.verify_chain().ok


def test_concurrent_writers_never_fork_the_chain(store_url: str, store: Store, pseudonymiser):
    workers, each = 6, 5
    scored(store, pseudonymiser, *[f"R-{w}-{i}" for w in range(workers) for i in range(each)])
    scored(store, pseudonymiser, "R-same")
    start = threading.Barrier(workers)
    errors: list[BaseException] = []
    created_same: list[bool] = []

    def worker(w: int) -> None:
        with Store(store_url) as mine:  # its own engine, like another process
            try:
                start.wait()
                for i in range(each):
                    mine.add_decision(feedback(f"R-{w}-{i}"))
                    created_same.append(mine.add_decision(feedback("R-same"))[1])
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert created_same.count(True) == 1
    records = store.decisions()
    assert [r.id for r in records] == list(range(1, workers * each + 2))
    assert len({r.prev_hash for r in records}) == len(records)
    assert store.verify_chain().ok


# --- the chain under tampering ----------------------------------------------------------


@pytest.fixture
def three_decisions(store: Store, pseudonymiser) -> Store:
    scored(store, pseudonymiser, "R-1", "R-2", "R-3")
    for rid in ("R-1", "R-2", "R-3"):
        store.add_decision(feedback(rid))
    check = store.verify_chain()
    assert check.ok and check.checked == 3
    return store


def test_the_log_refuses_updates_and_deletes(three_decisions: Store, store_url: str) -> None:
    for stmt in ("UPDATE decisions SET tier = 'routine' WHERE id = 2", "DELETE FROM decisions"):
        with pytest.raises(DBAPIError, match="append-only"):
            raw_sql(store_url, stmt)
    assert three_decisions.verify_chain().ok


def test_verify_names_an_edited_record(three_decisions: Store, store_url: str) -> None:
    drop_append_only_triggers(store_url)
    raw_sql(store_url, "UPDATE decisions SET tier = 'routine' WHERE id = 2")
    check = three_decisions.verify_chain()
    assert not check.ok and check.first_bad_id == 2 and "hash" in (check.reason or "")


def test_verify_finds_a_rehashed_record_by_its_successor(
    three_decisions: Store, store_url: str
) -> None:
    drop_append_only_triggers(store_url)
    raw_sql(store_url, f"UPDATE decisions SET hash = '{'f' * 64}' WHERE id = 2")
    check = three_decisions.verify_chain()
    assert not check.ok and check.first_bad_id == 2


def test_verify_detects_a_deleted_middle_record(three_decisions: Store, store_url: str) -> None:
    drop_append_only_triggers(store_url)
    raw_sql(store_url, "DELETE FROM decisions WHERE id = 2")
    check = three_decisions.verify_chain()
    assert not check.ok and check.first_bad_id == 2 and "missing" in (check.reason or "")


def test_verify_detects_records_cut_off_the_end(three_decisions: Store, store_url: str) -> None:
    drop_append_only_triggers(store_url)
    raw_sql(store_url, "DELETE FROM decisions WHERE id = 3")
    check = three_decisions.verify_chain()
    assert not check.ok and check.first_bad_id == 3


def test_the_recording_token_is_kept_and_hashed(
    store: Store, pseudonymiser, store_url: str
) -> None:
    from serving.auth import Principal

    scored(store, pseudonymiser, "R-1", "R-2")
    plain, _ = store.add_decision(feedback("R-1"))  # no token: as records made before 0002
    by = Principal(token_id=41, name="desk-3", role="reviewer")
    rec, _ = store.add_decision(feedback("R-2", reviewer=None), by)
    assert (plain.recorded_by, plain.recorded_by_token) == (None, None)
    assert (rec.recorded_by, rec.recorded_by_token) == ("desk-3", 41)
    assert rec.reviewer == "desk-3"  # the token's person, not the client's word
    stored = store.referral("R-2")
    assert stored is not None and stored.decisions[0].recorded_by == "desk-3"
    assert store.verify_chain().ok
    drop_append_only_triggers(store_url)
    raw_sql(store_url, "UPDATE decisions SET recorded_by = 'someone-else' WHERE id = 2")
    check = store.verify_chain()
    assert not check.ok and check.first_bad_id == 2


def test_audit_verify_command(three_decisions: Store, store_url: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    assert triage(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("OK: 3 decisions")
    drop_append_only_triggers(store_url)
    raw_sql(store_url, "UPDATE decisions SET viability = 'package' WHERE id = 1")
    assert triage(["audit", "verify"]) == 1
    assert "decision 1" in capsys.readouterr().out


def test_audit_refuses_a_database_that_is_not_a_store(store_url: str, monkeypatch, capsys):
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    assert triage(["audit", "verify"]) == 2
    assert "no current store schema" in capsys.readouterr().err


# --- reads ------------------------------------------------------------------------------


def test_queue_order_filters_and_pages(store: Store, pseudonymiser) -> None:
    rows = [  # id, received (hours), priority, tier, source
        ("A", 3, 80, "high", "ncmec"),
        ("B", 1, 80, "high", "industry"),
        ("C", 1, 80, "high", "ncmec"),  # ties B on priority and time: id decides
        ("D", 0, 95, "immediate", "public"),
        ("E", 0, 10, "routine", "ncmec"),
        ("F", 0, 50, "high", "ncmec"),  # decided below: not in the queue
    ]
    store.record_scores(
        [
            (
                referral(pseudonymiser, rid, hours=h, source=src),
                score(rid, priority=pr, tier=tier),
                {},
            )
            for rid, h, pr, tier, src in rows
        ],
        "rq",
    )
    store.add_decision(feedback("F"))
    assert [q.referral_id for q in store.queue()] == ["D", "B", "C", "A", "E"]
    assert [q.referral_id for q in store.queue(limit=2, offset=1)] == ["B", "C"]
    assert [q.referral_id for q in store.queue(tier="high")] == ["B", "C", "A"]
    assert [q.referral_id for q in store.queue(source="ncmec")] == ["C", "A", "E"]
    assert store.counts().awaiting_review == 5
    for kwargs, field in [({"limit": 0}, "limit"), ({"offset": -1}, "offset")]:
        with pytest.raises(StoreError) as e:
            store.queue(**kwargs)
        assert e.value.field == field
    with pytest.raises(StoreError, match="tier"):
        store.queue(tier="urgent")  # type: ignore[arg-type]


def test_queue_is_ordered_when_read(store: Store, pseudonymiser) -> None:
    """Priority now, at the moment given: R2 (industry, priority 5 at scoring) passes R1
    (priority 32) once its preservation deadline is 20 h away; paging follows that order."""
    r2_received = -384  # hours from T0; industry: deadline 504 h later = T0 + 120 h
    rows = [  # id, received (hours from T0), priority, tier, source, deadline
        ("H", 30, 40.0, "high", "public", None),
        ("R1", -700, 32.0, "routine", "public", None),
        ("R2", r2_received, 5.0, "routine", "industry", r2_received + 504),
    ]
    store.record_scores(
        [
            (
                referral(pseudonymiser, rid, hours=h, source=src),
                score(rid, priority=pr, tier=tier).model_copy(
                    update={"retention_deadline": None if dl is None else T0 + timedelta(hours=dl)}
                ),
                {},
            )
            for rid, h, pr, tier, src, dl in rows
        ],
        "rq",
    )
    early, late = T0 + timedelta(hours=30), T0 + timedelta(hours=100)
    assert [q.referral_id for q in store.queue(now=early)] == ["H", "R1", "R2"]
    items = store.queue(now=late)
    assert [q.referral_id for q in items] == ["H", "R2", "R1"]
    r2 = items[1]
    assert r2.priority == 5.0 and r2.score.priority == 5.0
    assert r2.priority_now > items[2].priority_now > 32.0
    assert r2.priority_now < 100 / 3  # never past the routine band
    assert r2.aged_because == ("waited 484 h against a 336 h target; preservation deadline in 20 h")
    assert [q.referral_id for q in store.queue(limit=1, offset=1, now=late)] == ["R2"]
    assert [q.referral_id for q in store.queue(tier="routine", now=late)] == ["R2", "R1"]
    [h] = store.queue(tier="high", now=early)
    assert h.priority_now == h.priority == 40.0 and h.aged_because is None


def test_referral_view_holds_scores_and_decisions(store: Store, pseudonymiser) -> None:
    assert store.referral("nope") is None
    scored(store, pseudonymiser, "R-1")
    rec1, _ = store.add_decision(feedback("R-1"))
    scored(store, pseudonymiser, "R-1")
    rec2, _ = store.add_decision(feedback("R-1", decision="override", tier="routine", reason="x"))
    view = store.referral("R-1")
    assert [s.id for s in view.scores] == [rec1.score_id, rec2.score_id]
    assert view.decisions == [rec1, rec2]
    assert view.decisions[1].reason == "x"


def test_labels_history_and_decisions_since(store: Store, pseudonymiser) -> None:
    scored(store, pseudonymiser, "R-1", "R-2", "R-3")
    store.add_decision(feedback("R-1", viability="package"))
    later, _ = store.add_decision(
        feedback("R-1", decision="override", tier="immediate", viability="lead", reason="why")
    )
    store.add_decision(feedback("R-2", tier="routine", viability="unactionable"))
    # a tier alone is never an urgency label (contract §5): these decisions give none,
    # and nothing for the history features either
    assert store.confirmed_labels() == []
    history = {ref.referral_id: out for ref, out in store.history_referrals()}
    assert set(history) == {"R-1", "R-2", "R-3"} and set(history.values()) == {None}
    assert [d.id for d in store.decisions(since=later.decided_at)] == [2, 3]


def test_override_rates_by_window_and_model_tier(store_url: str, pseudonymiser) -> None:
    day = [datetime(2025, 3, d, 12, tzinfo=UTC) for d in (1, 2)]
    times = iter([day[0]] * 4 + [day[1]] * 4)
    with Store(store_url, clock=lambda: next(times, day[1])) as s:
        s.migrate()
        s.record_scores(
            [
                (referral(pseudonymiser, f"R-{i}"), score(f"R-{i}", tier="high"), {})
                for i in range(4)
            ]
            + [(referral(pseudonymiser, "I-0"), score("I-0", tier="immediate"), {})],
            "rq",
        )
        times = iter([day[0]] * 3 + [day[1]] * 2)
        s.add_decision(feedback("R-0"))
        s.add_decision(feedback("R-1", decision="override", tier="routine", reason="r"))
        s.add_decision(feedback("I-0", decision="override", tier="high", reason="r"))
        s.add_decision(feedback("R-2"))
        s.add_decision(feedback("R-3", decision="override", tier="immediate", reason="r"))
        rates = s.override_rates(timedelta(days=1))
    got = [(r.start.day, r.tier, r.decisions, r.overrides) for r in rates]
    assert got == [(1, "immediate", 1, 1), (1, "high", 2, 1), (2, "high", 2, 1)]
    assert rates[1].rate == 0.5


# --- tokens and permissions -------------------------------------------------------------


def test_tokens_are_shown_once_and_stored_hashed(store: Store, store_url: str) -> None:
    raw = auth.create_token(store, "reviewer", "alice")
    principal = auth.authenticate(store, raw)
    assert principal is not None and (principal.name, principal.role) == ("alice", "reviewer")
    engine = make_engine(store_url)
    with engine.connect() as c:
        dump = str(c.execute(text("SELECT * FROM tokens")).all())
    engine.dispose()
    assert raw not in dump and auth.hash_token(raw) in dump
    assert auth.authenticate(store, raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None
    assert auth.authenticate(store, None) is None
    assert auth.revoke_token(store, principal.token_id)
    assert auth.authenticate(store, raw) is None
    assert not auth.revoke_token(store, principal.token_id)
    with pytest.raises(StoreError, match="role"):
        auth.create_token(store, "root")  # type: ignore[arg-type]


def test_token_command_prints_only_the_token(store_url: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    assert triage(["token", "create", "--role", "scorer", "--name", "queue-system"]) == 0
    raw = capsys.readouterr().out
    assert raw.endswith("\n") and raw.count("\n") == 1
    raw = raw.strip()
    assert triage(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "queue-system" in listing and "scorer" in listing and raw not in listing
    with Store(store_url) as s:
        assert auth.authenticate(s, raw).role == "scorer"


@pytest.mark.parametrize(("key", "role"), [(k, r) for k in ROLE_TABLE for r in (*ROLES, None)])
def test_permission_matrix_is_the_contract_table(key, role) -> None:
    """The service's table agrees with the tests' own copy (tests/roles.py), both ways."""
    method, _, template = key.partition(" ")
    path = template.replace("{id}", "R-1")
    assert auth.is_allowed(role, method, path) is (role in ROLE_TABLE[key] or key in OPEN)


def test_routes_outside_the_table_are_closed_to_everyone() -> None:
    assert set(auth.PERMISSIONS) | auth.PUBLIC == set(ROLE_TABLE) | OPEN
    for role in (*ROLES, None):
        assert not auth.is_allowed(role, "DELETE", "/queue")
        assert not auth.is_allowed(role, "GET", "/referrals/R-1/extra")
    assert auth.route_key("get", "/referrals/R-1?x=1") == "GET /referrals/{id}"
    assert auth.bearer("Bearer abc") == "abc" and auth.bearer("Basic abc") is None
