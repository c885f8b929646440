"""Dask paths on a LocalCluster of 2 workers: scores identical to the single-machine
path (contract §4 answers through the one score-or-rules path, invalid documents listed),
the carried history exact, and a model trained on Dask made by the same assembly as a
local one (same dataset, same manifest but the engine, same gate checks)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from features.history import History
from features.ingest import parse_documents
from features.linking import events_for
from features.pipeline import build_features
from training import distributed as dist

KEY = b"test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def docs():
    from training.synthetic import generate

    # 200 days: longer than the 90-day platform window, so the history fold is exercised
    return generate(1_500, 21, date(2023, 1, 1), 200, labels=True)


@pytest.fixture(scope="module")
def parts(docs, tmp_path_factory):
    path = tmp_path_factory.mktemp("parts")
    assert dist.write_partitions(docs, path, 300) == 5
    return path


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as lc:
        yield lc.scheduler_address


def test_carried_history_gives_the_same_features(docs):
    good = sorted(
        parse_documents(docs, _ps(), labels=True).good, key=lambda g: g.referral.received_at
    )
    refs, outs = [g.referral for g in good], [g.outcome for g in good]
    whole = build_features(refs, outs).X
    history, got = None, []
    bounds = np.linspace(0, len(good), 6).astype(int)
    for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        nxt = (b, bounds[i + 2]) if i + 2 < len(bounds) else None
        hist = History(buffer_limit=0)
        if history is not None:
            hist.add_events(history)
        got.append(build_features(refs[a:b], outs[a:b], hist).X)
        if nxt is not None:
            start = dist._start(dist.Parsed(good[nxt[0] : nxt[1]], []))
            history = dist.carry(history, events_for(refs[a:b], outs[a:b]), start)
    pd.testing.assert_frame_equal(whole, pd.concat(got, ignore_index=True))
    before_last = events_for(refs[: bounds[-2]], outs[: bounds[-2]])
    assert history is not None and len(history) < 0.8 * len(before_last)  # folded
    with pytest.raises(ValueError, match="time order"):
        dist.carry(None, events_for(refs[-10:], None), dist._start(dist.Parsed(good[:5], [])))


def test_dask_scores_equal_single_machine(parts, docs, trained, scheduler):
    _, model, _, _ = trained
    known = parse_documents(docs[:300], _ps()).referrals  # the service's earlier history
    history = events_for(known, None)
    local = dist.score_local(parts, model, KEY, history)
    remote = dist.score_dask(parts, model, KEY, scheduler=scheduler, history=history)
    assert len(local.scores) > 1_400 and not local.rejected and local.degraded_reason is None
    assert _answers(remote) == _answers(local)


def _answers(result: dist.Scores) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "scored_at"} for r in result.rows()]


def test_dask_lists_invalid_documents_and_degrades_like_local(docs, tmp_path, scheduler):
    bad = {
        2: {**docs[2], "received_at": "not a time"},
        5: {k: v for k, v in docs[5].items() if k != "incident"},
        9: {**docs[9], "victims": [{"age": 40}]},
    }
    mixed = [bad.get(i, d) for i, d in enumerate(docs[:120])]
    dist.write_partitions(mixed, tmp_path / "p", 30)
    remote = dist.score_dask(tmp_path / "p", None, KEY, scheduler=scheduler)
    local = dist.score_local(tmp_path / "p", None, KEY)
    assert [r.index for r in remote.rejected] == sorted(bad) == [r.index for r in local.rejected]
    assert all(r.problems for r in remote.rejected)
    assert remote.degraded_reason == local.degraded_reason == "no_model"
    assert len(remote.scores) == 117 and all(s.degraded for s in remote.scores)
    assert _answers(remote) == _answers(local)


def test_dask_and_local_models_are_one_assembly(parts, docs, scheduler):
    """The same data trained locally and on Dask: the same dataset, the same manifest but
    the engine, and the same gate checks, each passing against the other."""
    from training.assembly import problem
    from training.data import from_labelled
    from training.distributed_train import train_dask
    from training.evaluate import evaluate
    from training.fit import TrainConfig, fit
    from training.pipeline import split_of
    from training.promote import assess

    cfg = TrainConfig(rounds=60, backtests=0, num_threads=1)
    ds = from_labelled(parse_documents(docs, _ps(), labels=True).good, "same-data")
    split = split_of(ds, cfg.fractions)
    local, _ = fit(ds, split, cfg, progress=lambda _m: None)
    remote, rds, rsplit = train_dask(parts, KEY, cfg, scheduler=scheduler, digest="same-data")
    pd.testing.assert_frame_equal(rds.feats.X, ds.feats.X)
    assert np.array_equal(rds.y_urgency, ds.y_urgency) and rsplit.describe() == split.describe()
    lm, rm = local.manifest.model_dump(), remote.manifest.model_dump()
    assert (lm["training"].pop("engine"), rm["training"].pop("engine")) == ("local", "dask")
    for m in (lm, rm):
        m.pop("created_at")
    assert rm == lm and problem(remote.manifest) is None and problem(local.manifest) is None
    local.version, remote.version = "local", "dask"
    mask = split.test
    reports = {m.version: evaluate(m, ds, mask) for m in (local, remote)}
    one = assess(remote, reports["dask"], local, ds, mask)
    other = assess(local, reports["local"], remote, ds, mask)
    assert [c.name for c in one.checks] == [c.name for c in other.checks]
    assert [c.passed for c in one.checks] == [c.passed for c in other.checks]
    assert one.promoted and other.promoted, (one.summary(), other.summary())


def _ps():
    from features.pseudonyms import Pseudonymiser

    return Pseudonymiser(KEY)


def test_triage_score_engine_dask_agrees_with_local(
    trained, docs, scheduler, tmp_path, monkeypatch
):
    import json

    from triage.cli import main
    from triage.common import write_jsonl

    settings, _, _, _ = trained
    monkeypatch.setenv("TRIAGE_HOME", str(settings.home))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", KEY.decode())
    src = tmp_path / "in.jsonl"
    write_jsonl(src, ({k: v for k, v in d.items() if k != "_oracle"} for d in docs[:150]))
    base = ["score", "--input", str(src), "--out"]
    assert main([*base, str(tmp_path / "local.jsonl")]) == 0
    args = ["--engine", "dask", "--scheduler", scheduler, "--partition-rows", "50"]
    assert main([*base, str(tmp_path / "dask.jsonl"), *args]) == 0
    read = lambda p: {r["referral_id"]: r for r in map(json.loads, p.read_text().splitlines())}  # noqa: E731
    local, remote = read(tmp_path / "local.jsonl"), read(tmp_path / "dask.jsonl")
    assert local.keys() == remote.keys() and len(local) == 150
    for rid, r in remote.items():
        r.pop("scored_at"), local[rid].pop("scored_at")
        assert r == local[rid]  # the same contract §4 answer, not another shape
