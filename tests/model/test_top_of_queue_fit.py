"""Fitting for the top of the queue on the session's small stream: the choice is recorded,
kept by the booster, and the monotone head and its calibration survive it."""

from __future__ import annotations

import numpy as np

from training.fit import TrainConfig, fit


def test_top_of_queue_fit_keeps_the_chosen_candidate(trained):
    _, _, ds, split = trained
    cfg = TrainConfig(rounds=120, backtests=0, top_of_queue=True, immediate_weights=(1.0, 4.0))
    model, info = fit(ds, split, cfg, progress=lambda _m: None)
    top = info["urgency"]["top_of_queue"]
    assert top["share"] == model.operating.immediate_share
    assert [c["weight"] for c in top["candidates"]] == [1.0, 4.0]
    best = max(top["candidates"], key=lambda c: (c["recall"], -c["log_loss"]))
    assert top["chosen"]["recall"] == best["recall"]
    assert model.boosters["urgency"].best_iteration == top["chosen"]["rounds"]
    assert info["urgency"]["monotone"] and "top_of_queue" not in info["viability"]
    pu, _ = model.predict_proba(ds.feats.X[split.test])
    assert np.allclose(pu.sum(axis=1), 1.0) and (pu >= 0).all()
