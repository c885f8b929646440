"""The service records every case it opens, joins or merges in the store's case events
log, in the scoring transaction, hash-chained and append-only; replaying the log gives
the same cases as the service's index and as the batch grouping (``triage cases``) of the
same referrals, for any arrival order; case ids are opaque and survive a restart (real
SQLite and PostgreSQL stores; the rules score, no model needed)."""

# ruff: noqa: F811  (fixtures imported from test_store are parameters here)
from __future__ import annotations

import random
import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from test_store import pg_database, raw_sql, store, store_url  # noqa: F401  (fixtures)

from features.case_index import CaseIndex
from features.contract import Referral
from features.pseudonyms import Pseudonymiser
from serving import case_log
from serving.case_ids import CASE_ID_PATTERN, case_namer
from serving.scoring import Scorer, load_cases
from serving.store import Store


def doc(rid: str, hour: int, *idents: tuple[str, str]) -> dict[str, Any]:
    return {
        "referral_id": rid,
        "received_at": f"2024-04-01T{hour:02d}:00:00Z",
        "source": "ncmec",
        "incident": {"type": "csam", "platform": "ExampleChat"},
        "subjects": [
            {"identifiers": [{"kind": k, "value": v, "verified": True} for k, v in idents]}
        ],
    }


#: Two suspects' chains that one later referral (m) merges, a loner, a phone pair.
DOCS = [
    doc("a1", 1, ("email", "alpha@example.com")),
    doc("b1", 2, ("email", "beta@example.com")),
    doc("a2", 3, ("email", "alpha@example.com"), ("phone", "+1-613-555-0101")),
    doc("c1", 4, ("email", "gamma@example.com")),
    doc("b2", 5, ("email", "beta@example.com")),
    doc("m", 6, ("phone", "+1-613-555-0101"), ("email", "beta@example.com")),
    doc("p1", 7, ("phone", "+1-902-555-0199")),
    doc("p2", 8, ("phone", "+1-902-555-0199")),
]


def members(cases: dict[str, Any]) -> set[frozenset[str]]:
    return {frozenset(m) for m in cases.values()}


def batch(refs: list[Referral]) -> set[frozenset[str]]:
    """What ``triage cases`` groups: a batch index over the referrals in receipt order."""
    index = CaseIndex()
    index.extend(sorted(refs, key=lambda r: (r.received_at, r.referral_id)))
    return members(index.cases())


def test_score_records_opened_joined_merged_in_the_chain(
    store: Store, pseudonymiser: Pseudonymiser
) -> None:
    scorer = Scorer(store, pseudonymiser, None)
    for d in DOCS:
        scorer.score([d], "r-" + d["referral_id"])
    scorer.score([DOCS[0]], "again")  # a re-score places nothing: no event
    events = case_log.store_events(store)
    assert [(e.event, e.referral_ids) for e in events] == [
        ("opened", ["a1"]),
        ("opened", ["b1"]),
        ("joined", ["a2"]),
        ("opened", ["c1"]),
        ("joined", ["b2"]),
        ("merged", ["m"]),
        ("opened", ["p1"]),
        ("joined", ["p2"]),
    ]
    name = scorer.cases.namer
    merge = events[5]
    assert merge.case_id == name("a1") and merge.detail["merged"] == [name("b1")]
    assert set(merge.detail["link_kinds"]) == {"phone", "verified_email"}
    assert all(re.fullmatch(CASE_ID_PATTERN, e.case_id) for e in events)
    check = case_log.verify_store(store)
    assert check.ok and check.checked == len(events)
    # each score names the case its event names, and the stored score keeps it
    record = store.referral("m")
    assert record is not None and record.scores[-1].score.case_id == merge.case_id


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_replay_equals_the_index_and_the_batch_for_any_arrival_order(
    tmp_path: Any, pseudonymiser: Pseudonymiser, seed: int
) -> None:
    order = list(DOCS)
    random.Random(seed).shuffle(order)
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as st:
        st.migrate()
        scorer = Scorer(st, pseudonymiser, None)
        for d in order:
            scorer.score([d], "r-" + d["referral_id"])
        replayed = case_log.replay(case_log.store_events(st))
        refs = [r for r, _ in st.history_referrals()]
        assert members(replayed) == members(scorer.cases.cases()) == batch(refs)
        # the ids too: the replay names each case as the index does
        assert replayed == {k: set(v) for k, v in scorer.cases.cases().items()}
        restarted = load_cases(st, case_namer(pseudonymiser))
        assert restarted.cases() == scorer.cases.cases()  # a restart: the same cases, ids


def test_case_ids_are_opaque_and_keyed(pseudonymiser: Pseudonymiser) -> None:
    name = case_namer(pseudonymiser)
    other = case_namer(Pseudonymiser(b"another-key-0123456789"))
    assert name("a1") == name("a1") != other("a1")
    assert re.fullmatch(CASE_ID_PATTERN, name("a1")) and "a1" not in name("a1")


def test_audit_verify_catches_an_edited_case_event(
    store: Store, store_url: str, pseudonymiser: Pseudonymiser, monkeypatch: Any, capsys: Any
) -> None:
    from sqlalchemy import make_url

    from triage.cli import main as triage

    Scorer(store, pseudonymiser, None).score(DOCS[:3], "r")
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    assert triage(["audit", "verify"]) == 0
    assert "OK: 3 case events, chain intact" in capsys.readouterr().out
    if make_url(store_url).get_backend_name() == "postgresql":
        raw_sql(store_url, "DROP TRIGGER case_events_no_change ON case_events")
    else:
        raw_sql(store_url, "DROP TRIGGER case_events_no_update")
    raw_sql(store_url, "UPDATE case_events SET event = 'opened' WHERE id = 3")  # was joined
    assert triage(["audit", "verify"]) == 1
    assert "BROKEN at case event 3" in capsys.readouterr().out


def test_the_anchor_catches_a_cut_off_case_chain(
    store: Store, store_url: str, pseudonymiser: Pseudonymiser, tmp_path: Any, monkeypatch: Any
) -> None:
    """A tail of case events deleted with the head reset passes the chain check alone; the
    signed anchor, which holds the case chain's head, catches it."""
    from sqlalchemy import make_url

    from triage.cli import main as triage

    Scorer(store, pseudonymiser, None).score(DOCS[:4], "r")
    key = tmp_path / "outside-home" / "anchor.key"
    key.parent.mkdir()
    key.write_text("k" * 48)
    anchors = tmp_path / "anchors.jsonl"
    monkeypatch.setenv("TRIAGE_DATABASE_URL", store_url)
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRIAGE_ANCHOR_KEY_FILE", str(key))
    assert triage(["audit", "anchor", "--file", str(anchors)]) == 0
    assert triage(["audit", "verify", "--anchor", str(anchors)]) == 0
    kept = case_log.store_events(store)[1]
    if make_url(store_url).get_backend_name() == "postgresql":
        raw_sql(store_url, "DROP TRIGGER case_events_no_change ON case_events")
    else:
        raw_sql(store_url, "DROP TRIGGER case_events_no_delete")
    raw_sql(
        store_url,
        "DELETE FROM case_events WHERE id > 2",
        f"UPDATE case_chain_head SET last_id = 2, last_hash = '{kept.hash}'",
    )
    assert case_log.verify_store(store).ok  # the chain alone cannot tell
    assert triage(["audit", "verify", "--anchor", str(anchors)]) == 1


def test_the_case_log_is_append_only(store: Store, pseudonymiser: Pseudonymiser) -> None:
    Scorer(store, pseudonymiser, None).score(DOCS[:2], "r")
    for stmt in ("UPDATE case_events SET case_id = 'x'", "DELETE FROM case_events"):
        with pytest.raises(DBAPIError), store.transaction() as s:
            s.execute(text(stmt))
    assert case_log.verify_store(store).ok


@pytest.mark.parametrize("seed", [3, 4])
def test_service_cases_equal_batch_cases_on_a_synthetic_stream(
    tmp_path: Any, pseudonymiser: Pseudonymiser, seed: int
) -> None:
    """600 generated referrals (suspects across platforms, shared hub addresses) scored
    through the service's scorer in shuffled requests of 1-40: the case events' replay,
    the index and a restart all give the batch's cases, and every case id is its batch
    case's earliest member, keyed."""
    from datetime import date

    from training.synthetic import generate

    docs = generate(600, seed, date(2024, 2, 1), 20, labels=False)
    for d in docs:
        d.pop("_truth", None)
    rng = random.Random(seed)
    rng.shuffle(docs)
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as st:
        st.migrate()
        scorer = Scorer(st, pseudonymiser, None)
        i = 0
        while i < len(docs):
            n = rng.randint(1, 40)
            answer = scorer.score(docs[i : i + n], f"r{i}")
            assert not answer.rejected
            i += n
        refs = [r for r, _ in st.history_referrals()]
        expected = batch(refs)
        assert max(len(m) for m in expected) >= 2  # the stream does make cases
        replayed = case_log.replay(case_log.store_events(st))
        assert members(replayed) == members(scorer.cases.cases()) == expected
        assert load_cases(st, case_namer(pseudonymiser)).cases() == scorer.cases.cases()
        assert case_log.verify_store(st).ok
        name = case_namer(pseudonymiser)
        received = {r.referral_id: (r.received_at, r.referral_id) for r in refs}
        for cid, ms in replayed.items():
            assert cid == name(min(ms, key=received.__getitem__))


def test_a_failed_commit_stores_no_event_and_the_retry_records_it(
    tmp_path: Any, pseudonymiser: Pseudonymiser
) -> None:
    """The events commit with the scores or not at all; after a failed commit the index is
    rebuilt from the store, so the retried referral is placed (and recorded) again."""

    class FailOnce:
        def __init__(self, store: Store) -> None:
            self.store, self.failed = store, False

        def record_scores(
            self, items: Any, request_id: Any, also: Any = None, session: Any = None
        ) -> Any:
            def failing(s: Any, now: Any) -> None:
                also(s, now)  # the events are written, then the transaction fails
                raise OSError("simulated failure after the events")

            if not self.failed:
                self.failed = True
                return self.store.record_scores(items, request_id, also=failing, session=session)
            return self.store.record_scores(items, request_id, also=also, session=session)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.store, name)

    with Store(f"sqlite:///{tmp_path / 'store.db'}") as st:
        st.migrate()
        scorer = Scorer(FailOnce(st), pseudonymiser, None)  # type: ignore[arg-type]
        with pytest.raises(OSError):
            scorer.score(DOCS[:2], "first")
        assert case_log.store_events(st) == [] and st.referral("a1") is None
        scorer.score(DOCS[:3], "retry")
        events = case_log.store_events(st)
        assert [(e.event, e.referral_ids) for e in events] == [
            ("opened", ["a1"]),
            ("opened", ["b1"]),
            ("joined", ["a2"]),
        ]
        assert case_log.verify_store(st).ok
