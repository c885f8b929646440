"""The typed evaluation report (``training.report_types``) declares what the code really
writes: the head metrics' keys, the report's top-level blocks, and a file read back is
checked for its version before anything reads it."""

from __future__ import annotations

import json
from typing import get_type_hints

import numpy as np
import pytest

from features.contract import URGENCY_CLASSES
from training.metrics import head_metrics
from training.report_types import (
    EvaluationReport,
    HeadMetrics,
    OperatingPoint,
    PerClass,
    as_report,
    read_report,
    target_row,
)


def _head() -> dict:
    rng = np.random.default_rng(3)
    p = rng.dirichlet((1, 1, 1), size=400)
    y = np.asarray(URGENCY_CLASSES)[rng.integers(0, 3, 400)]
    return head_metrics(y, p, URGENCY_CLASSES)


def test_head_metrics_match_their_declared_type():
    m = _head()
    assert set(m) == set(get_type_hints(HeadMetrics))
    assert set(m["per_class"]) == set(URGENCY_CLASSES)
    for row in m["per_class"].values():
        assert set(row) == set(get_type_hints(PerClass))


def test_a_report_is_read_back_with_its_version_checked(tmp_path):
    good = {
        "schema_version": 1,
        "meta": {"n": 3},
        "heads": {"urgency": _head()},
        "oracle": None,
        "capacity": {},
        "queue": {},
        "audit": [],
    }
    path = tmp_path / "evaluation.json"
    path.write_text(json.dumps(good))
    assert read_report(path) == good
    assert set(good) <= set(get_type_hints(EvaluationReport))
    with pytest.raises(ValueError, match="schema_version 2"):
        as_report({**good, "schema_version": 2})
    with pytest.raises(ValueError, match="missing heads"):
        as_report({k: v for k, v in good.items() if k != "heads"})
    with pytest.raises(ValueError, match="not a JSON object"):
        as_report([good])


def test_operating_point_rows_by_target():
    row = {
        "share": 0.03,
        "recall": 0.5,
        "precision": 0.2,
        "oracle_recall_at_same_share": None,
        "ratio_to_oracle": None,
    }
    op: OperatingPoint = {"policy_version": "p", "immediate": row}  # type: ignore[typeddict-item]
    assert target_row(op, "immediate") == row
    assert target_row(op, "immediate_or_high") is None
    with pytest.raises(KeyError):
        target_row(op, "high")
