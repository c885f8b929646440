"""The generator's ground truth for cases and routes (``_truth``) says what it claims."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from training.synthetic import generate


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return generate(12_000, 3, date(2024, 1, 1), 150, "baseline", labels=True)


def _emails(d: dict[str, Any]) -> list[str]:
    subj = (d.get("subjects") or [{}])[0]
    return [i["value"] for i in subj.get("identifiers") or [] if i["kind"] == "email"]


def test_every_labelled_referral_has_truth_and_a_suspect_when_it_names_one(docs) -> None:  # type: ignore[no-untyped-def]
    for d in docs:
        t = d["_truth"]
        assert len(t["country"]) == 2 and t["country"] not in {"A1", "A2", "O1"}
        assert (t["province"] is not None) == (t["country"] == "CA")
        if not d.get("subjects") or d.get("batched"):
            assert t["suspect_id"] is None


def test_own_emails_belong_to_one_suspect_and_generic_accounts_to_many(docs) -> None:  # type: ignore[no-untyped-def]
    owners: dict[str, set[str]] = defaultdict(set)
    for d in docs:
        for e in _emails(d):
            owners[e].add(d["_truth"]["suspect_id"])
    generic = {e: s for e, s in owners.items() if e.startswith("noreply.")}
    own = {e: s for e, s in owners.items() if not e.startswith("noreply.")}
    assert generic and max(len(s) for s in generic.values()) > 1  # hubs exist
    assert all(len(s) == 1 for s in own.values())


def test_reports_can_hide_move_or_mislead_about_the_true_place(docs) -> None:  # type: ignore[no-untyped-def]
    hidden = travelled = 0
    provinces: dict[str, set[str]] = defaultdict(set)
    for d in docs:
        t = d["_truth"]
        loc = ((d.get("subjects") or [{}])[0]).get("location") or {}
        hidden += loc.get("country") == "A1"
        travelled += t["country"] == "CA" and loc.get("country") not in {None, "CA", "A1"}
        if t["suspect_id"] and t["province"]:
            provinces[t["suspect_id"]].add(t["province"])
    assert hidden > 0 and travelled > 0
    assert any(len(p) > 1 for p in provinces.values())  # someone moved province
