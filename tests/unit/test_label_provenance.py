"""Label provenance (contract §5 "Labels", issue 12): every urgency label says where it
came from; training weighs it by provenance; evaluation and the gate leave out labels
made with a model's output on screen and say how many of each they used."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from features.contract import Outcome
from features.ingest import Labelled, iter_jsonl, parse_documents
from features.labels import INDEPENDENT, PROVENANCES
from training.data import from_labelled, independent, label_summary, load_labelled
from training.fit import TrainConfig, fit, label_weights
from training.pipeline import gate_data_mask
from training.splits import time_split
from training.synthetic import generate
from triage.common import write_jsonl


@pytest.fixture(scope="module")
def small(tmp_path_factory, pseudonymiser):
    path = tmp_path_factory.mktemp("prov") / "small.jsonl"
    write_jsonl(path, generate(1500, 5, date(2023, 1, 1), 60, labels=True))
    items = parse_documents(iter_jsonl(path), pseudonymiser, labels=True).good
    return path, items


def _flip(o: Outcome) -> Outcome:
    other = "immediate" if o.urgency != "immediate" else "routine"
    return o.model_copy(update={"urgency": other})


def test_a_file_is_imported_history_and_every_provenance_is_counted(small, pseudonymiser):
    path, _ = small
    ds = load_labelled(path, pseudonymiser)
    assert set(ds.provenance) == {"history"} and independent(ds).all()
    summary = label_summary(ds, np.ones(len(ds), bool), independent(ds))
    assert summary["used"] == {p: (len(ds) if p == "history" else 0) for p in PROVENANCES}
    assert sum(summary["left_out"].values()) == 0


def test_a_shown_review_never_replaces_an_independent_label(small, pseudonymiser):
    path, items = small
    a, b = items[0], items[1]
    extra = [
        Labelled(a.referral, _flip(a.outcome), provenance="shown_review"),
        Labelled(b.referral, _flip(b.outcome), provenance="outcome"),
    ]
    ds = load_labelled(path, pseudonymiser, extra=extra)
    ids = ds.feats.meta["referral_id"].tolist()
    i, j = ids.index(a.referral.referral_id), ids.index(b.referral.referral_id)
    assert ds.y_urgency[i] == a.outcome.urgency and ds.provenance[i] == "history"
    assert ds.y_urgency[j] == _flip(b.outcome).urgency and ds.provenance[j] == "outcome"


def test_training_weights_and_the_gate_follow_provenance(small):
    _, items = small
    # the last third of the stream labelled by reviews with the model on screen
    cut = 2 * len(items) // 3
    marked = [
        Labelled(
            it.referral,
            it.outcome,
            it.oracle,
            provenance="shown_review" if k >= cut else "history",
        )
        for k, it in enumerate(items)
    ]
    ds = from_labelled(marked, "d")
    shown = np.asarray(ds.provenance) == "shown_review"
    assert shown.sum() == len(items) - cut
    w = label_weights(ds, TrainConfig())
    assert (w[shown] == 0).all() and (w[~shown] == 1).all()
    assert (label_weights(ds, TrainConfig(label_weights={"shown_review": 0.5}))[shown] == 0.5).all()
    mask, labels = gate_data_mask(ds, (0.6, 0.2, 0.2))
    assert not (mask & shown).any()
    test = time_split(ds.feats.meta["received_at"], ds.decided_at, (0.6, 0.2, 0.2)).test
    assert labels["left_out"]["shown_review"] == int((test & shown).sum()) > 0
    assert labels["used"]["history"] == int((test & ~shown).sum())
    assert set(labels["used_provenances"]) == INDEPENDENT
    # with every urgency label of the calibration window shown, default training refuses
    split = time_split(ds.feats.meta["received_at"], ds.decided_at, (0.6, 0.2, 0.2))
    only_shown = np.where(split.calibrate | split.test, "shown_review", "history")
    ds.provenance = only_shown.astype(object)
    with pytest.raises(ValueError, match="label_weights"):
        fit(ds, split, TrainConfig(rounds=10, num_threads=1), progress=lambda _m: None)


def test_label_weights_outside_0_1_are_refused():
    with pytest.raises(ValueError, match="shown_review"):
        TrainConfig(label_weights={"shown_review": 2.0})
