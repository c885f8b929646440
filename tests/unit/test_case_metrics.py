"""Grouping and routing figures on small hand-worked examples."""

from __future__ import annotations

import pytest

from features.contract import Route, Truth
from training.case_metrics import grouping_metrics, route_metrics


def test_pairwise_and_bcubed_by_hand() -> None:
    predicted = {"a": "1", "b": "1", "c": "1", "d": "2", "e": "3"}
    truth = {"a": "S", "b": "S", "c": "T", "d": "T", "e": None}
    m = grouping_metrics(predicted, truth, ["a", "b", "c", "d", "e"])
    assert m["pairwise_precision"] == pytest.approx(1 / 3)  # ab of ab, ac, bc
    assert m["pairwise_recall"] == pytest.approx(1 / 2)  # ab of ab, cd
    assert m["bcubed_precision"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5)
    assert m["bcubed_recall"] == pytest.approx((1 + 1 + 1 / 2 + 1 / 2 + 1) / 5)
    assert m["largest_case"] == 3


def test_route_accuracy_counts_undetermined_apart() -> None:
    def r(dest: str, level: str) -> Route:
        return Route(destination=dest, level=level, confidence=0.5)  # type: ignore[arg-type]

    routes = {
        "a": r("CA-ON: Ontario Provincial Police", "province"),
        "b": r("CA-QC: Sûreté du Québec", "province"),
        "c": r("US: United States, through international channels", "country"),
        "d": r("undetermined", "undetermined"),
    }
    truth = {
        "a": Truth(country="CA", province="ON"),
        "b": Truth(country="CA", province="ON"),
        "c": Truth(country="PH"),
        "d": Truth(country="CA", province="BC"),
    }
    m = route_metrics(routes, truth)
    assert m["share_undetermined"] == pytest.approx(1 / 4)
    assert m["country_correct_with_evidence"] == pytest.approx(2 / 3)
    assert m["province_correct_canadian"] == pytest.approx(1 / 2)
