"""CI's small version of the benchmark: on a hard-world stream the product model must not
lose to logistic regression on the same features (immediate ROC-AUC), and the world must
be hard (the oracle above the logistic regression)."""

from __future__ import annotations

from datetime import date

import pytest

from features.ingest import parse_documents
from features.pseudonyms import Pseudonymiser
from training.baselines import baselines_block
from training.data import from_labelled
from training.fit import TrainConfig, fit
from training.splits import time_split
from training.synthetic import generate

N, DAYS, SEED = 30_000, 730, 7


@pytest.fixture(scope="module")
def block():
    docs = generate(N, SEED, date(2023, 1, 1), DAYS, "history", labels=True, world="hard")
    ds = from_labelled(parse_documents(docs, Pseudonymiser(b"k" * 32), labels=True).good, "hard")
    cfg = TrainConfig(num_threads=2, backtests=0, rounds=400)
    split = time_split(ds.feats.meta["received_at"], ds.decided_at, cfg.fractions)
    model, _ = fit(ds, split, cfg, progress=lambda _m: None)
    pu, _ = model.predict_proba(ds.feats.X[split.test])
    meta = ds.feats.meta
    scores = {"model": pu[:, 0], "oracle": ds.oracle_urgency[split.test][:, 0]}
    return baselines_block(
        ds.feats.X,
        ds.y_urgency,
        meta["received_at"],
        ds.decided_at,
        meta["referral_id"].to_numpy(),
        split.test,
        scores,
        n_boot=100,
    )


def test_logistic_regression_does_not_beat_the_model(block):
    auc = {k: v["immediate_roc_auc"] for k, v in block["orderings"].items()}
    assert auc["model"] >= auc["logistic"], block["verdict"]


def test_the_hard_world_is_hard_for_logistic_regression(block):
    auc = {k: v["immediate_roc_auc"] for k, v in block["orderings"].items()}
    assert auc["oracle"] > auc["logistic"]


def test_the_margin_has_an_interval_and_a_verdict(block):
    m = block["margin_over_logistic"]["immediate_roc_auc"]
    lo, hi = m["ci95"]
    assert lo <= m["margin"] <= hi
    assert "logistic regression" in block["verdict"]
