"""``triage cases`` on a small labelled file: outputs, metrics, nothing raw written."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from training.synthetic import generate
from triage.cli import main
from triage.common import write_jsonl


def test_triage_cases_writes_cases_routes_and_metrics(
    tmp_path: Path, triage_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_HOME", str(triage_home))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    src = tmp_path / "in.jsonl"
    docs = generate(3_000, 5, date(2024, 2, 1), 60, labels=True)
    write_jsonl(src, docs)
    out = tmp_path / "out"
    assert main(["cases", "--input", str(src), "--out", str(out)]) == 0

    cases = [json.loads(x) for x in (out / "cases.jsonl").read_text().splitlines()]
    members = [r for c in cases for r in c["referral_ids"]]
    assert sorted(members) == sorted(d["referral_id"] for d in docs)  # each once, none lost
    routes = [json.loads(x) for x in (out / "routes.jsonl").read_text().splitlines()]
    assert len(routes) == len(docs)
    case_of = {r: c["case_id"] for c in cases for r in c["referral_ids"]}
    for r in routes:
        assert r["case_id"] == case_of[r["referral_id"]]
        # a case only grows: the case a referral joined on arrival is part of its case now
        assert case_of[r["case_at_arrival"].removeprefix("case:")] == r["case_id"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["grouping"]) >= {"pairwise_precision", "pairwise_recall", "bcubed_f1"}
    assert 0 < metrics["route_referral"]["country_correct_with_evidence"] <= 1

    written = (out / "cases.jsonl").read_text() + (out / "routes.jsonl").read_text()
    assert "@example." not in written and "555-01" not in written  # pseudonyms only


def test_triage_score_proposes_a_route_for_every_referral(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a model the rules score (degraded), and each answer still carries a route."""
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    src, out = tmp_path / "in.jsonl", tmp_path / "scores.jsonl"
    docs = generate(300, 8, date(2024, 2, 1), 20)
    write_jsonl(src, docs)
    assert main(["score", "--input", str(src), "--out", str(out)]) == 0
    scores = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(scores) == len(docs)
    for d, s in zip(docs, scores, strict=True):
        assert s["referral_id"] == d["referral_id"]
        loc = ((d.get("subjects") or [{}])[0]).get("location") or {}
        if loc.get("verified") and loc.get("country") == "CA":
            assert s["route"]["destination"].startswith(f"CA-{loc['region']}: ")
        assert s["route"]["level"] in {"agency", "province", "country", "undetermined"}
