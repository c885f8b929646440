"""Fast paths give the reference paths' answers: the same feature frame (exactly), the
same margins (exactly), TreeSHAP contributions within 1e-6 and the same reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
from models import treeshap
from models.explain import contributions, feature_matrix, top_reasons


def _reference_reasons(model, feats, pred, k=5):
    """The explanation path as it was: LightGBM ``pred_contrib`` for every class of both
    heads, one ``X.iloc[i]`` Series per row."""
    X = feats.X
    cu = contributions(model.boosters["urgency"], X)
    cv = contributions(model.boosters["viability"], X)
    u_cls, v_cls = 2 - pred.model_rank, pred.p_viability.argmax(axis=1)
    routine, high = URGENCY_CLASSES.index("routine"), URGENCY_CLASSES.index("high")
    out = []
    for i in range(len(X)):
        row = X.iloc[i]
        c, name, other = cu[i, u_cls[i], :-1], URGENCY_CLASSES[u_cls[i]], None
        if u_cls[i] == routine:  # routine against high: log P(routine)/P(high)
            c, other = c - cu[i, high, :-1], "high"
        r = top_reasons(c, row, "urgency", name, k, other)
        r += top_reasons(
            cv[i, v_cls[i], :-1], row, "viability", VIABILITY_CLASSES[v_cls[i]], max(1, k // 2)
        )
        out.append(r)
    return out


@pytest.fixture(scope="module")
def sample(trained):
    _, model, ds, split = trained
    idx = np.flatnonzero(split.test)[:400]
    from features.pipeline import Features

    return model, Features(ds.feats.X.iloc[idx], ds.feats.meta.iloc[idx], ds.feats.events)


def test_matrix_margins_equal_lightgbm_on_the_frame(sample):
    model, feats = sample
    M = model.matrix(feats.X)
    for head in ("urgency", "viability"):
        b = model.boosters[head]
        on_frame = b.predict(feats.X, raw_score=True)
        assert np.array_equal(model.margins(M, head), on_frame)


def test_matrix_remaps_categories_like_lightgbm(sample):
    model, feats = sample
    X = feats.X.copy()
    X["source"] = X["source"].cat.reorder_categories(list(X["source"].cat.categories)[::-1])
    cats = model.boosters["urgency"].pandas_categorical
    assert np.array_equal(feature_matrix(X, cats), model.matrix(feats.X), equal_nan=True)
    with pytest.raises(ValueError):
        feature_matrix(X.drop(columns=["source"]), cats)


def test_block_copy_equals_column_selection(sample, monkeypatch):
    from models import explain

    model, feats = sample
    cats = model.boosters["urgency"].pandas_categorical
    fast = feature_matrix(feats.X, cats)
    monkeypatch.setattr(explain, "_numeric_blocks", lambda X, M: False)
    assert np.array_equal(fast, feature_matrix(feats.X, cats), equal_nan=True)


@pytest.mark.parametrize("head", ["urgency", "viability"])
def test_class_selective_treeshap_equals_pred_contrib(sample, head):
    model, feats = sample
    ref = contributions(model.boosters[head], feats.X)
    forest = model.forest(head)
    M = model.matrix(feats.X)
    for c in range(3):
        mine = treeshap.contributions_for(forest, M, np.full(len(M), c))
        assert np.abs(mine - ref[:, c, :]).max() < 1e-6
    mixed = np.arange(len(M)) % 3
    mine = treeshap.contributions_for(forest, M, mixed)  # parallel kernel (>= 256 rows)
    assert np.abs(mine - ref[np.arange(len(M)), mixed, :]).max() < 1e-6
    one = treeshap.contributions_for(forest, M[:3], mixed[:3])  # serial kernel
    assert np.abs(one - ref[np.arange(3), mixed[:3], :]).max() < 1e-6


def test_direct_leaves_equal_tabulated_leaves(sample, monkeypatch):
    """Leaves past ``TABLE_K`` distinct features skip the table; force every leaf that way."""
    model, feats = sample
    monkeypatch.setattr(treeshap, "TABLE_K", 0)
    forest = treeshap.prepare(model.boosters["urgency"])
    assert (forest.table_start[forest.slot_start[1:] - forest.slot_start[:-1] > 0] < 0).all()
    M = model.matrix(feats.X.iloc[:60])
    ref = contributions(model.boosters["urgency"], feats.X.iloc[:60])
    mine = treeshap.contributions_for(forest, M, np.full(60, 1))
    assert np.abs(mine - ref[:, 1, :]).max() < 1e-6


def test_reasons_equal_the_reference_path(sample):
    model, feats = sample
    pred = model.predict(feats)
    fast = model.explain(feats, pred)
    ref = _reference_reasons(model, feats, pred)
    assert len(fast) == len(ref)
    for a, b in zip(fast, ref, strict=True):
        assert [r.feature for r in a] == [r.feature for r in b]
        assert [r.value for r in a] == [r.value for r in b]
        assert [r.text for r in a] == [r.text for r in b]
        assert np.allclose([r.contribution for r in a], [r.contribution for r in b], atol=2e-6)


def test_bad_class_indices_are_refused(sample):
    model, feats = sample
    M = model.matrix(feats.X.iloc[:2])
    with pytest.raises(ValueError):
        treeshap.contributions_for(model.forest("urgency"), M, np.array([0, 3]))
    with pytest.raises(ValueError):
        treeshap.contributions_for(model.forest("urgency"), M[:, :-1], np.array([0, 1]))
    assert isinstance(feats.X, pd.DataFrame)


# -- feature pipeline -----------------------------------------------------------------
def _assert_same(fast, ref):
    pd.testing.assert_frame_equal(fast.X, ref.X)
    pd.testing.assert_frame_equal(fast.meta, ref.meta)
    pd.testing.assert_frame_equal(fast.events, ref.events)


@pytest.fixture(scope="module")
def stream(pseudonymiser):
    from datetime import date

    from features.ingest import parse_documents
    from training.synthetic import generate

    batch = parse_documents(
        generate(1_500, 3, date(2023, 1, 1), 30, labels=True), pseudonymiser, labels=True
    )
    good = sorted(batch.good, key=lambda g: g.referral.received_at)
    return [g.referral for g in good], [g.outcome for g in good]


def test_pipeline_equals_reference_on_a_synthetic_stream(stream):
    from features.history import History
    from features.pipeline import build_features
    from tests.unit.reference_pipeline import ref_build_features

    refs, outs = stream
    _assert_same(build_features(refs, outs), ref_build_features(refs, outs))
    hist = History.of(refs[:1000], outs[:1000], buffer_limit=300)
    _assert_same(
        build_features(refs[1000:], None, hist), ref_build_features(refs[1000:], None, hist)
    )
    for r in refs[-25:]:  # one referral at a time, the service's path
        _assert_same(build_features([r], history=hist), ref_build_features([r], history=hist))
    _assert_same(build_features([]), ref_build_features([]))


def test_block_constructor_equals_column_by_column(stream):
    from features.pipeline import _frame_by_columns, build_features

    X = build_features(stream[0][:50]).X
    cats = [X[c].array for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    block = X[[c for c in X.columns if not isinstance(X[c].dtype, pd.CategoricalDtype)]]
    pd.testing.assert_frame_equal(X, _frame_by_columns(block.to_numpy(np.float32), cats))


def _hypothesis_case():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tests.unit.test_pipeline import event, make

    @settings(max_examples=25, deadline=None)
    @given(st.lists(event, min_size=1, max_size=20), st.data())
    def check(pseudonymiser, events, data):
        from features.history import History
        from features.pipeline import build_features
        from tests.unit.reference_pipeline import ref_build_features

        refs, outs = make(events, pseudonymiser)
        cut = data.draw(st.integers(0, len(refs) - 1))
        hist = History.of(refs[:cut], outs[:cut], buffer_limit=data.draw(st.sampled_from([0, 4])))
        _assert_same(
            build_features(refs[cut:], outs[cut:], hist),
            ref_build_features(refs[cut:], outs[cut:], hist),
        )

    return check


test_pipeline_equals_reference_on_generated_histories = _hypothesis_case()
