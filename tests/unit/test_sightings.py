"""The linking history lives in the store (``serving/sightings.py``): two scorers on one
store (two workers, or two replicas) compute the features one scorer would, re-scoring
adds nothing, a decision's label enters the history with the decision, and seeding happens
once. Real SQLite and PostgreSQL stores; the rules score (no model needed)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from test_store import feedback, pg_database, store_url  # noqa: F401

from features.pipeline import build_features
from features.pseudonyms import Pseudonymiser
from serving.db_models import SightingRow
from serving.scoring import Scorer, load_history
from serving.store import Store

pytestmark = pytest.mark.timeout(180)
T0 = datetime(2024, 4, 1, 0, 0, tzinfo=UTC)
EMAILS = ["one@example.com", "two@example.com", "three@example.com"]


def doc(i: int) -> dict[str, Any]:
    """Referral ``i`` at hour ``i``; every third shares a subject, so later ones link."""
    return {
        "referral_id": f"R-{i}",
        "received_at": (T0 + timedelta(hours=i)).isoformat(),
        "source": "ncmec",
        "incident": {"type": "csam", "platform": f"ExampleChat{i % 2}"},
        "subjects": [
            {
                "identifiers": [{"kind": "email", "value": EMAILS[i % 3], "verified": True}],
                "ip_events": [{"ip": f"192.0.2.{i % 4}", "event": "login"}],
            }
        ],
    }


class Pinned:
    """The store's clock, set by the test (decisions are made at known times)."""

    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


def features(store: Store, rid: str) -> dict[str, Any]:
    rec = store.referral(rid)
    assert rec is not None
    return rec.scores[-1].features


def case_id(store: Store, rid: str) -> str | None:
    rec = store.referral(rid)
    assert rec is not None
    return rec.scores[-1].score.case_id


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def norm(v: Any) -> Any:
        return None if isinstance(v, float) and math.isnan(v) else v

    return {k: norm(v) for k, v in a.items()} == {k: norm(v) for k, v in b.items()}


def rows(store: Store) -> int:
    with store.ordered() as s:
        return int(s.scalar(select(func.count()).select_from(SightingRow)) or 0)


def play(scorers: list[Scorer], store: Store, clock: Pinned, n: int) -> None:
    """Referrals 0..n-1 in time order, request i to scorer ``i % len``; after every fourth,
    a decision with an urgency label, made half an hour after that referral came."""
    for i in range(n):
        clock.t = T0 + timedelta(hours=i, minutes=1)
        scorers[i % len(scorers)].score([doc(i)], f"req-{i}")
        if i % 4 == 3:
            clock.t = T0 + timedelta(hours=i, minutes=30)
            rec = store.referral(f"R-{i}")
            assert rec is not None
            last = rec.scores[-1]
            store.add_decision(
                feedback(
                    f"R-{i}",
                    score_id=last.id,
                    model_version=last.score.model_version,
                    urgency_assessed="immediate",
                    viability="package",
                )
            )


def test_two_scorers_on_one_store_compute_what_one_would(
    store_url: str,  # noqa: F811
    tmp_path: Path,
    pseudonymiser: Pseudonymiser,
) -> None:
    n = 16
    clock_one, clock_two = Pinned(), Pinned()
    with (
        Store(store_url, clock=clock_two) as shared,
        Store(f"sqlite:///{tmp_path / 'one.db'}", clock=clock_one) as alone,
    ):
        shared.migrate()
        alone.migrate()
        a, b = Scorer(shared, pseudonymiser, None), Scorer(shared, pseudonymiser, None)
        play([a, b], shared, clock_two, n)
        play([Scorer(alone, pseudonymiser, None)], alone, clock_one, n)
        linked = 0
        for i in range(n):
            got, want = features(shared, f"R-{i}"), features(alone, f"R-{i}")
            assert same(got, want), f"R-{i}: features differ between two scorers and one"
            linked += (got.get("link_prior_package") or 0) > 0
        assert linked > 0, "decisions made by the other scorer's requests were seen"
        cases = {i: case_id(shared, f"R-{i}") for i in range(n)}
        assert cases == {i: case_id(alone, f"R-{i}") for i in range(n)}, (
            "each scorer places the other's referrals in its cases: the same cases as one"
        )
        assert len(set(cases.values())) < n, "some referrals share a case"

        before = rows(shared)
        clock_two.t = T0 + timedelta(hours=n)
        again = b.score([doc(5), doc(n)], "req-again")  # R-5 re-scored, R-n new
        assert rows(shared) == before + _events_of(n, pseudonymiser)
        assert again.scores[0].referral_id == "R-5"
        assert same(features(shared, "R-5"), features(alone, "R-5"))  # idempotent

        # a restarted process (or a third replica) starts from the store: the same cache
        history, seen, seq = load_history(tmp_path / "no-such-file.parquet", shared)
        assert seen == {f"R-{i}" for i in range(n + 1)} and len(history) == rows(shared)
        c = Scorer(shared, pseudonymiser, None, history, seen, seq=seq)
        a.score([doc(n + 1)], "req-a")  # the cache of c is now behind the store
        c.score([doc(n + 2)], "req-c")
        b.score([doc(n + 2)], "req-b")  # re-scored by another: same features
        assert len(c.history) == len(b.history) == rows(shared)
        rec = shared.referral(f"R-{n + 2}")
        assert rec is not None and len(rec.scores) == 2
        assert same(rec.scores[0].features, rec.scores[1].features)


def _events_of(i: int, pseudonymiser: Pseudonymiser) -> int:
    from features.ingest import parse_documents

    refs = parse_documents([doc(i)], pseudonymiser).referrals
    return len(build_features(refs).events)


def test_a_decision_label_enters_the_history_with_the_decision(
    store_url: str,  # noqa: F811
    pseudonymiser: Pseudonymiser,
) -> None:
    clock = Pinned()
    with Store(store_url, clock=clock) as store:
        store.migrate()
        Scorer(store, pseudonymiser, None).score([doc(0)], "req-0")  # seeds, then scores
        n = rows(store)
        score = store.referral("R-0").scores[-1]  # type: ignore[union-attr]
        kw = {"score_id": score.id, "model_version": score.score.model_version}
        store.add_decision(feedback("R-0", **kw))  # no urgency assessed: no label
        assert rows(store) == n
        clock.t = T0 + timedelta(minutes=5)
        store.add_decision(
            feedback(
                "R-0",
                decision="override",
                reason="r",
                tier="immediate",
                urgency_assessed="immediate",
                **kw,
            )
        )
        assert rows(store) > n  # committed with the decision, before any scorer ran
