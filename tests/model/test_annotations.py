"""Behaviour: the generative-AI, minor-to-minor and possible-self-production annotations
never lower P(immediate) + P(high) (domain.md §3: route them differently, never down-rank)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

ANNOTATIONS = ("fa_generative_ai", "ann_minor_to_minor", "fa_possible_self_production")


def _urgent(model, X: pd.DataFrame) -> np.ndarray:
    pu, _ = model.predict_proba(X)
    return pu[:, 0] + pu[:, 1]


@pytest.mark.parametrize("feature", ANNOTATIONS)
def test_switching_an_annotation_on_never_lowers_urgency(trained, feature):
    _, model, ds, split = trained
    X = ds.feats.X[split.test].iloc[:1500]
    off, on = X.copy(), X.copy()
    off[feature] = np.float32(0.0)
    on[feature] = np.float32(1.0)
    assert np.all(_urgent(model, on) >= _urgent(model, off) - 1e-9)


def test_all_three_on_together_never_lower_urgency(trained):
    _, model, ds, split = trained
    X = ds.feats.X[split.test].iloc[:1500]
    on = X.copy()
    for f in ANNOTATIONS:
        on[f] = np.float32(1.0)
    assert np.all(_urgent(model, on) >= _urgent(model, X) - 1e-9)
