"""Backtests and the logistic baseline use the labels evaluation and the gate use
(issue 12 review): folds are judged on independent labels only and count them by
provenance; the logistic regression learns from the labels the model learns from,
weighted by ``TrainConfig.label_weights``."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from features.contract import Outcome
from features.ingest import Labelled, iter_jsonl, parse_documents
from training import backtests
from training.baselines import baselines_block, fit_logistic, predict_logistic
from training.data import from_labelled, independent
from training.fit import TrainConfig, label_weights
from training.synthetic import generate
from triage.common import write_jsonl


def _flip(o: Outcome) -> Outcome:
    other = "immediate" if o.urgency != "immediate" else "routine"
    return o.model_copy(update={"urgency": other})


@pytest.fixture(scope="module")
def anchored(tmp_path_factory, pseudonymiser):
    """Every third referral labelled by a shown review that got its urgency wrong."""
    path = tmp_path_factory.mktemp("bt") / "small.jsonl"
    write_jsonl(path, generate(1500, 5, date(2023, 1, 1), 60, labels=True))
    items = parse_documents(iter_jsonl(path), pseudonymiser, labels=True).good
    marked = [
        Labelled(it.referral, _flip(it.outcome), it.oracle, provenance="shown_review")
        if k % 3 == 0
        else it
        for k, it in enumerate(items)
    ]
    return from_labelled(marked, "anchored")


def test_the_logistic_baseline_learns_only_from_weighted_labels(anchored):
    ds = anchored
    w = label_weights(ds, TrainConfig())
    shown = np.asarray(ds.provenance) == "shown_review"
    assert (w[shown] == 0).all() and (w[~shown] == 1).all()
    X, y = ds.feats.X, ds.y_urgency
    weighted = predict_logistic(fit_logistic(X, y, w), X)
    kept = predict_logistic(fit_logistic(X[~shown], y[~shown]), X)
    everything = predict_logistic(fit_logistic(X, y), X)
    assert np.allclose(weighted, kept)
    assert not np.allclose(weighted, everything), "the shown labels would have mattered"
    window = np.zeros(len(ds), bool)
    window[-300:] = True
    meta = ds.feats.meta
    block = baselines_block(
        X,
        y,
        meta["received_at"],
        ds.decided_at,
        meta["referral_id"].to_numpy(),
        window & independent(ds),
        {"model": np.zeros(int((window & independent(ds)).sum()))},
        n_boot=20,
        label_weights=w,
    )
    before = (meta["received_at"] < meta["received_at"][window].min()).to_numpy()
    assert block["logistic"]["n_train"] <= int((before & ~shown).sum()) < int(before.sum())


def test_backtest_folds_are_judged_on_independent_labels_and_count_them(anchored):
    ds = anchored
    cfg = TrainConfig(rounds=10, early_stopping=5, num_threads=1)
    block = backtests.run(ds, cfg, 2, candidates=("product", "logistic"))
    shown = np.asarray(ds.provenance) == "shown_review"
    for fold in block["folds"]:
        labels = fold["labels"]
        assert labels["used"]["shown_review"] == 0
        assert labels["left_out"]["shown_review"] > 0
        assert sum(labels["used"].values()) + sum(labels["left_out"].values()) == fold["n_test"]
        n_judged = sum(labels["used"].values())
        for name in ("product", "logistic"):
            assert fold["candidates"][name]["n"] == n_judged, name
    assert shown.any()


def test_the_gate_says_which_labels_it_judged_on_and_how_many_of_each(anchored):
    from training.pipeline import gate_data_mask
    from training.promote import Decision

    _mask, labels = gate_data_mask(anchored, (0.6, 0.2, 0.2))
    text = Decision(promoted=False, reason="test", labels=labels).summary()
    used = {k: v for k, v in labels["used"].items() if v}
    assert used and "shown_review" not in used
    assert "kinds blind_review, history, outcome" in text
    for kind, n in used.items():
        assert f"{kind} {n:,}" in text
    assert f"left out: shown_review {labels['left_out']['shown_review']:,}" in text
