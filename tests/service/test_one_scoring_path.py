"""One score-or-rules path (issue 16 item 5): the service's scorer, ``triage score``
(local and Dask engines), ``triage explain --input`` and the Dask engine give the same
answers for the same documents, with the registered model and degraded (no model), and
every one of them lists the invalid documents instead of skipping them.

Fields only the service knows (the case, the blind second-review draw) and the time of
scoring are left out of the comparison; everything else must be equal.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from features.config import Settings
from features.pseudonyms import Pseudonymiser
from models import registry
from models.degraded import RULES_VERSION
from serving.scoring import Scorer
from serving.store import Store
from training import distributed as dist
from triage.common import write_jsonl

pytestmark = pytest.mark.timeout(600)

KEY = "test-key-0123456789abcdef"
SERVICE_ONLY = ("scored_at", "case_id", "second_review")
N_GOOD = 60
# three kinds of bad document, at known places in the input
BAD = {
    3: lambda d: {**d, "received_at": "yesterday"},
    17: lambda d: {k: v for k, v in d.items() if k != "source"},
    40: lambda d: {**d, "referral_id": "has space"},
}


def _docs(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    docs = [{**d, "referral_id": f"one-{i}"} for i, d in enumerate(raw[: N_GOOD + len(BAD)])]
    return [BAD[i](d) if i in BAD else d for i, d in enumerate(docs)]


def _same(score: Any) -> dict[str, Any]:
    row = score if isinstance(score, dict) else score.model_dump(mode="json")
    return {k: v for k, v in row.items() if k not in SERVICE_ONLY}


def _by_id(scores: list[Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for s in scores:
        row = _same(s)
        out[row["referral_id"]] = row
    return out


def _home(tmp: Path, model: Any | None) -> Settings:
    s = Settings(home=tmp, pseudonym_key=KEY)
    if model is not None:
        with registry.run(s, "test-one-path") as run:
            version = registry.register(s, run, model.save(tmp / "staging" / "model"))
        registry.set_alias(s, "champion", version)
        model.version = version  # the version every path names
    return s


def _four_paths(
    s: Settings, model: Any | None, docs: list[dict[str, Any]], tmp: Path, monkeypatch: Any
) -> dict[str, Any]:
    from triage.cli import main
    from triage.commands.explain import _from_file

    monkeypatch.setenv("TRIAGE_HOME", str(s.home))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", KEY)
    src = tmp / "in.jsonl"
    write_jsonl(src, docs)
    got: dict[str, Any] = {}
    with Store(f"sqlite:///{tmp / 'service.db'}") as store:
        store.migrate()
        answer = Scorer(store, Pseudonymiser(KEY.encode()), model).score(docs, "req-one")
    got["service"] = (_by_id(answer.scores), [r.index for r in answer.rejected])
    out, errors = tmp / "cli.jsonl", tmp / "cli-errors.jsonl"
    assert main(["score", "--input", str(src), "--out", str(out), "--errors", str(errors)]) == 1
    got["cli"] = (_by_id(_lines(out)), [r["index"] for r in _lines(errors)])
    out, errors = tmp / "dask.jsonl", tmp / "dask-errors.jsonl"
    dask = ["--engine", "dask", "--workers", "2", "--partition-rows", "25"]
    assert (
        main(["score", "--input", str(src), "--out", str(out), "--errors", str(errors), *dask]) == 1
    )
    got["cli_dask"] = (_by_id(_lines(out)), [r["index"] for r in _lines(errors)])
    parts = tmp / "parts"
    dist.write_partitions(docs, parts, 25)
    remote = dist.score_dask(parts, model, KEY.encode(), workers=2)
    got["dask"] = (_by_id(remote.scores), [r.index for r in remote.rejected])
    args = argparse.Namespace(input=src, model="champion", top=5)
    got["explain"] = (_by_id([r.score for r in _from_file(args, s)]), sorted(BAD))
    return got


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _agree(got: dict[str, Any]) -> dict[str, dict[str, Any]]:
    service, bad = got["service"]
    assert len(service) == N_GOOD and bad == sorted(BAD)
    for name, (scores, rejected) in got.items():
        assert rejected == sorted(BAD), name  # listed, at their input positions
        assert scores.keys() == service.keys(), name
        for rid, row in scores.items():
            assert row == service[rid], (name, rid)
    return service


def test_the_four_paths_agree_with_the_model(trained, raw_referrals, tmp_path, monkeypatch):
    _, model, _, _ = trained
    model = type(model).load(model.save(tmp_path / "copy"))  # its own version, not the fixture's
    s = _home(tmp_path / "home", model)
    service = _agree(_four_paths(s, model, _docs(raw_referrals), tmp_path, monkeypatch))
    rows = list(service.values())
    assert all(not r["degraded"] and r["model_version"] == model.version for r in rows)
    assert len({r["tier"] for r in rows}) > 1 and all(r["route"] for r in rows)


def test_the_four_paths_agree_degraded(raw_referrals, tmp_path, monkeypatch):
    s = _home(tmp_path / "home", None)  # nothing registered: every path has no model
    service = _agree(_four_paths(s, None, _docs(raw_referrals), tmp_path, monkeypatch))
    rows = list(service.values())
    assert all(r["degraded"] and r["model_version"] == RULES_VERSION for r in rows)
    assert all(r["cannot_rule_out_immediate"] and r["urgency_band"] is None for r in rows)
