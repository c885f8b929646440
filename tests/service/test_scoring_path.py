"""The in-process scoring path (:mod:`serving.scoring`) with the real model and store.

What a server test cannot provoke on demand: a model that fails on a request. Here the
trained model is wrapped to raise on its next call; the request must still be answered,
by the rules, ``degraded``, and recorded. Also: the HTTP path and the model called directly
agree, and the history file written by training is read at start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.ingest import parse_documents
from features.linking import History
from features.pipeline import build_features
from features.pseudonyms import Pseudonymiser
from models.degraded import RULES_VERSION
from serving.scoring import Scorer, load_history
from serving.store import Store

pytestmark = pytest.mark.timeout(300)


class Flaky:
    """The real model, failing on the calls listed in ``fail_on`` (1-based)."""

    def __init__(self, model: Any, fail_on: set[int]) -> None:
        self.model, self.fail_on, self.calls = model, fail_on, 0
        self.version = model.version

    def score(self, feats: Any, **kw: Any) -> Any:
        self.calls += 1
        if self.calls in self.fail_on:
            raise MemoryError("simulated failure")
        return self.model.score(feats, **kw)


@pytest.fixture
def store(tmp_path: Path):
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as s:
        s.migrate()
        yield s


def docs(raw: list[dict[str, Any]], tag: str, n: int) -> list[dict[str, Any]]:
    return [{**d, "referral_id": f"{tag}-{i}"} for i, d in enumerate(raw[:n])]


def test_a_failing_model_falls_back_to_rules_for_that_request(
    trained, raw_referrals, store, pseudonymiser: Pseudonymiser
):
    _settings, model, _ds, _split = trained
    scorer = Scorer(store, pseudonymiser, Flaky(model, {2}))
    ok = scorer.score(docs(raw_referrals, "a", 5), "req-1")
    failed = scorer.score(docs(raw_referrals, "b", 5), "req-2")
    again = scorer.score(docs(raw_referrals, "c", 5), "req-3")
    assert ok.degraded_reason is None and not any(s.degraded for s in ok.scores)
    assert failed.degraded_reason == "model_error"
    assert all(s.degraded and s.model_version == RULES_VERSION for s in failed.scores)
    assert again.degraded_reason is None, "one failure does not degrade later requests"
    stored = store.referral("b-3")
    assert stored is not None and stored.scores[0].score.degraded


def test_service_path_and_direct_model_agree(trained, raw_referrals, store, pseudonymiser):
    """On an empty history, the service's scores equal the model's own on the same data."""
    _settings, model, _ds, _split = trained
    batch = docs(raw_referrals, "eq", 50)
    served = Scorer(store, pseudonymiser, model).score(batch, "req-eq")
    refs = parse_documents(batch, pseudonymiser).referrals
    direct = model.score(build_features(refs, None, History()))
    for s, d in zip(served.scores, direct, strict=True):
        assert s.model_dump(exclude={"scored_at"}) == d.model_dump(exclude={"scored_at"})


def test_history_starts_from_the_training_events_and_the_store(
    trained, raw_referrals, store, pseudonymiser, tmp_path: Path
):
    refs = parse_documents(docs(raw_referrals, "h", 30), pseudonymiser).referrals
    events = build_features(refs[:20]).events
    path = tmp_path / "history" / "events.parquet"
    path.parent.mkdir()
    events.to_parquet(path)
    Scorer(store, pseudonymiser, None).score(docs(raw_referrals[20:], "s", 10), "req-h")
    history, seen = load_history(path, store)
    assert len(history) == len(events) + len(build_features(refs[20:]).events)
    assert seen == {f"s-{i}" for i in range(10)}
    path.write_text(json.dumps({"not": "parquet"}))
    history, _ = load_history(path, store)  # unreadable: skipped, not fatal
    assert len(history) == len(build_features(refs[20:]).events)
    assert isinstance(history.events(), pd.DataFrame)
