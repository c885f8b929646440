"""The feature catalogue says where each feature is computed, truthfully: every column of
the pipeline's output has a catalogue entry, and the function the entry names produces
that column (and no function produces a column the catalogue places elsewhere)."""

from __future__ import annotations

import importlib
from datetime import date
from typing import Any

import pytest

from features.catalogue import BY_NAME, CATALOGUE, COMPUTED_IN, FeatureSpec
from features.ingest import parse_documents
from features.linking import events_for
from features.pipeline import build_features
from features.pseudonyms import Pseudonymiser


@pytest.fixture(scope="module")
def referrals() -> list[Any]:
    from training.synthetic import generate

    docs = generate(300, 5, date(2024, 1, 1), 30, labels=False)
    return parse_documents(docs, Pseudonymiser(b"test-key-0123456789abcdef")).referrals


def _call(where: str, refs: list[Any]) -> set[str]:
    """The columns the named function computes for ``refs``."""
    module, name = where.rsplit(".", 1)
    fn = getattr(importlib.import_module(module), name)
    if where == "features.flatten.rows":
        out = fn(refs)
        return set(out[0])
    if where == "features.linking.linking_features":
        return set(fn(refs, events_for(refs, None), None))
    raise AssertionError(f"no way to call {where}: add it to this test")


def test_every_output_column_is_catalogued_where_it_is_computed(referrals):
    X = build_features(referrals).X
    assert list(X.columns) == [s.name for s in CATALOGUE]
    made = {where: _call(where, referrals) for where in COMPUTED_IN}
    for column in X.columns:
        spec = BY_NAME[column]
        assert column in made[spec.computed_in], (column, spec.computed_in)
        others = [w for w, cols in made.items() if w != spec.computed_in and column in cols]
        assert others == [], (column, others)


def test_an_unknown_place_is_refused():
    with pytest.raises(ValueError, match="computed_in"):
        FeatureSpec("x", "binary", "X", computed_in="features.nowhere.f")
