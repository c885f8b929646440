"""The scorer places each referral in a case when it scores it, and a restart rebuilds
the same cases from the store (real SQLite store; the rules score: no model needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from markupsafe import escape

from features.pseudonyms import Pseudonymiser
from serving.case_ids import case_namer
from serving.scoring import Scorer, load_cases
from serving.store import Store


def doc(rid: str, hour: int, email: str, region: str = "NS") -> dict[str, Any]:
    return {
        "referral_id": rid,
        "received_at": f"2024-04-01T{hour:02d}:00:00Z",
        "source": "ncmec",
        "incident": {"type": "csam", "platform": "ExampleChat"},
        "subjects": [
            {
                "identifiers": [{"kind": "email", "value": email, "verified": True}],
                "location": {"country": "CA", "region": region},
            }
        ],
    }


def test_scores_carry_the_case_as_known_and_a_restart_keeps_it(
    tmp_path: Path, pseudonymiser: Pseudonymiser
) -> None:
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.migrate()
        scorer = Scorer(store, pseudonymiser, None)
        first = scorer.score([doc("a", 1, "one@example.com"), doc("b", 2, "two@example.com")], "r1")
        name = case_namer(pseudonymiser)
        assert [s.case_id for s in first.scores] == [name("a"), name("b")]
        assert first.scores[0].route is not None
        assert first.scores[0].route.destination == "CA-NS: RCMP H Division (Nova Scotia)"

        restarted = Scorer(store, pseudonymiser, None, cases=load_cases(store))
        later = restarted.score([doc("c", 3, "TWO@example.com")], "r2")
        assert later.scores[0].case_id == name("b")  # joins the stored referral's case
        again = restarted.score([doc("a", 1, "one@example.com")], "r3")  # re-scored
        assert again.scores[0].case_id == name("a")
        record = store.referral("c")
        assert record is not None
        assert record.scores[-1].score.case_id == name("b")  # recorded with the score
        assert record.scores[-1].score.route == later.scores[0].route


def test_explanation_page_shows_the_case_and_the_route(
    tmp_path: Path, pseudonymiser: Pseudonymiser
) -> None:
    from reports.explain import record_from_store, render_referral_html

    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.migrate()
        scorer = Scorer(store, pseudonymiser, None)
        scorer.score([doc("a", 1, "one@example.com"), doc("b", 2, "ONE@example.com")], "r")
        record = record_from_store(store, "b")
        assert record is not None
        page = render_referral_html(record)
    name = case_namer(pseudonymiser)
    assert "Case and proposed route" in page
    assert name("a") in page  # b joined a's case
    assert "CA-NS: RCMP H Division (Nova Scotia)" in page
    assert record.score.route is not None and record.score.route.evidence
    assert str(escape(record.score.route.evidence[0])) in page  # escaped text, like all
