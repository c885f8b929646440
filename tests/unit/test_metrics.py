"""Head metrics, capacity metrics and the report assembler, on seeded synthetic arrays."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
from models.conformal import coverage_summary
from training.audit import capacity_audit
from training.metrics import (
    calibration_bins,
    capacity_metrics,
    default_capacity_ks,
    head_metrics,
    k_for_staffing,
    oracle_ratio,
    review_order,
)
from training.queue_sim import compare_policies, fifo_priority, poisson_arrivals
from training.report_schema import evaluation_report
from training.workload import workload_recall_curve

CLASSES = URGENCY_CLASSES


def _sample(n: int, seed: int, alpha=(0.6, 1.0, 3.0)):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(alpha, size=n)
    u = rng.random(n)
    codes = (u[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return np.asarray(CLASSES)[codes], p


def test_perfect_and_random_scores_give_auc_one_and_half():
    y, _ = _sample(20_000, 1)
    perfect = np.stack([(y == c).astype(float) for c in CLASSES], axis=1)
    random = np.random.default_rng(2).dirichlet((1, 1, 1), size=len(y))
    good, noise = head_metrics(y, perfect, CLASSES), head_metrics(y, random, CLASSES)
    for c in CLASSES:
        assert good["per_class"][c]["roc_auc"] == 1.0
        assert good["per_class"][c]["pr_auc"] == pytest.approx(1.0)
        assert abs(noise["per_class"][c]["roc_auc"] - 0.5) < 0.03
        prevalence = noise["per_class"][c]["prevalence"]
        assert abs(noise["per_class"][c]["pr_auc"] - prevalence) < 0.03


def test_log_loss_brier_and_auc_match_sklearn():
    y, p = _sample(3_000, 3)
    p = np.clip(p, 1e-3, None)
    p /= p.sum(axis=1, keepdims=True)
    m = head_metrics(y, p, CLASSES)
    lex = sorted(CLASSES)  # sklearn reads proba columns in sorted label order
    p_lex = p[:, [CLASSES.index(c) for c in lex]]
    assert m["log_loss"] == pytest.approx(log_loss(y, p_lex, labels=lex), rel=1e-9)
    expected_brier = brier_score_loss(y, p_lex, labels=lex, scale_by_half=False)
    assert m["brier"] == pytest.approx(expected_brier, rel=1e-9)
    auc = roc_auc_score(y == "high", p[:, 1])
    assert m["per_class"]["high"]["roc_auc"] == pytest.approx(auc)


def test_ece_small_when_labels_drawn_from_probabilities_and_large_when_distorted():
    y, p = _sample(30_000, 4)
    sharpened = p**3 / (p**3).sum(axis=1, keepdims=True)
    honest, distorted = head_metrics(y, p, CLASSES), head_metrics(y, sharpened, CLASSES)
    for c in CLASSES:
        assert honest["per_class"][c]["ece"] < 0.02
        assert distorted["per_class"][c]["ece"] > 3 * honest["per_class"][c]["ece"]
    assert honest["top_label_ece"] < 0.02 < distorted["top_label_ece"]


def test_reliability_bins_are_equal_mass_and_consistent_with_ece():
    rng = np.random.default_rng(5)
    p = rng.random(1_000)
    hit = rng.random(1_000) < p
    ece, curve = calibration_bins(p, hit, n_bins=15)
    counts = np.asarray(curve["count"])
    assert counts.sum() == 1_000 and counts.max() - counts.min() <= 1
    assert np.all(np.diff(curve["mean_predicted"]) >= 0)
    gaps = np.abs(np.subtract(curve["mean_predicted"], curve["observed"]))
    assert ece == pytest.approx(float((gaps * counts).sum() / 1_000))


def test_absent_class_gives_none_not_a_crash():
    rng = np.random.default_rng(6)
    y = rng.choice(["lead", "unactionable"], size=200)
    p = rng.dirichlet((1, 1, 1), size=200)
    m = head_metrics(y, p, VIABILITY_CLASSES)
    assert m["per_class"]["package"]["roc_auc"] is None
    assert m["per_class"]["package"]["pr_auc"] is None
    assert m["per_class"]["lead"]["roc_auc"] is not None
    assert json.dumps(m)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="labels"):
        head_metrics(["urgent"], [[0.2, 0.3, 0.5]], CLASSES)
    with pytest.raises(ValueError, match="sum to 1"):
        head_metrics(["high"], [[0.2, 0.3, 0.6]], CLASSES)


def test_oracle_ratio_reads_higher_is_better_both_ways():
    y, p = _sample(5_000, 7)
    blurred = 0.5 * p + 0.5 / 3
    r = oracle_ratio(head_metrics(y, blurred, CLASSES), head_metrics(y, p, CLASSES))
    assert 0 < r["log_loss"] < 1 and 0 < r["brier"] < 1
    self_ratio = oracle_ratio(head_metrics(y, p, CLASSES), head_metrics(y, p, CLASSES))
    assert self_ratio["macro_roc_auc"] == pytest.approx(1.0)
    assert self_ratio["per_class"]["immediate"]["pr_auc"] == pytest.approx(1.0)


def _queue(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = rng.choice(CLASSES, size=n, p=[0.05, 0.2, 0.75])
    received = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 50, size=n), unit="h"
    )
    ids = np.array([f"ref-{i:05d}" for i in rng.permutation(n)])
    return y, received, ids


def test_oracle_ordered_queue_has_full_recall_once_k_covers_the_positives():
    y, received, ids = _queue(2_000, 8)
    oracle = np.select([y == "immediate", y == "high"], [2.0, 1.0], 0.0)
    n_imm, n_urg = int((y == "immediate").sum()), int(np.isin(y, ["immediate", "high"]).sum())
    out = capacity_metrics(y, oracle, [n_imm, n_urg, 5_000], received_at=received, ids=ids)
    at = out["at_k"]
    assert at[0]["immediate_recall"] == 1.0 and at[0]["immediate_precision"] == 1.0
    assert at[1]["immediate_or_high_recall"] == 1.0
    assert at[2]["k_effective"] == 2_000 and at[2]["immediate_recall"] == 1.0


def test_tie_break_is_explicit_and_row_order_does_not_matter():
    t = pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-01", "2024-01-03"], utc=True)
    order = review_order([1, 1, 1, 5], t, ["b", "z", "a", "c"])
    assert order.tolist() == [3, 2, 1, 0]
    y, received, ids = _queue(1_000, 9)
    priority = np.random.default_rng(9).integers(0, 4, size=1_000).astype(float)
    ks = [0, 10, 137, 500]
    base = capacity_metrics(y, priority, ks, received_at=received, ids=ids)
    perm = np.random.default_rng(10).permutation(1_000)
    shuffled = capacity_metrics(
        y[perm], priority[perm], ks, received_at=received[perm], ids=ids[perm]
    )
    assert base == shuffled


def test_staffing_helpers():
    assert k_for_staffing(1_000, days=1, reviews_per_day=250) == 250
    assert k_for_staffing(1_000, days=10, reviews_per_day=250) == 1_000
    assert default_capacity_ks(1_000) == [100, 200, 400]
    with pytest.raises(ValueError):
        k_for_staffing(10, -1, 5)


def test_evaluation_report_is_plain_json_with_documented_top_level_keys():
    y, received, ids = _queue(600, 11)
    rng = np.random.default_rng(11)
    proba = rng.dirichlet((1, 1, 1), size=600)
    prio = proba[:, 0] * 2 + proba[:, 1]
    hours = poisson_arrivals(600, 30, seed=11)
    report = evaluation_report(
        heads={"urgency": head_metrics(y, proba, CLASSES)},
        oracle={"urgency": head_metrics(y, proba, CLASSES)},
        capacity={"model": capacity_metrics(y, prio, [120], received_at=received, ids=ids)},
        queue=compare_policies(hours, y, {"fifo": fifo_priority(hours), "model": prio}, ids=ids),
        audits=[
            capacity_audit(
                rng.choice(["a", "b"], 600),
                y,
                prio,
                k=120,
                received_at=received,
                ids=ids,
                grouping="source",
                n_boot=200,
            )
        ],
        meta={"model_version": "test"},
    )
    text = json.dumps(report, allow_nan=False)
    assert set(json.loads(text)) == {
        "schema_version",
        "meta",
        "heads",
        "oracle",
        "capacity",
        "queue",
        "audit",
    }
    assert report["queue"]["staffing"]["reviewers"] >= 1
    assert set(report["queue"]["policies"]) == {"fifo", "model"}


def _keys(obj, out: set[str]) -> set[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(k)
            _keys(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _keys(v, out)
    return out


def _queue_sim(y, received, ids, prio):
    from models.operating_policy import load_policy
    from training.queue_runs import Window, run_scenarios, sim_orderings

    n = len(y)
    source = np.resize(
        [
            "industry",
            "ncmec",
            "cybertip",
            "domestic_police",
            "foreign_police",
            "rcmp_division",
            "public",
            "other",
        ],
        n,
    )
    t = pd.Series(pd.to_datetime(received, utc=True))
    win = Window.of(t, ids, y, source, t + pd.Timedelta(days=21))
    floor = np.zeros(n, dtype=int)
    ords = sim_orderings(
        (prio, floor), (prio, floor), np.resize(["E", "1", None], n), np.full((n, 3), 1 / 3)
    )
    return run_scenarios(win, ords, load_policy())


def test_every_report_key_is_documented():
    y, received, ids = _queue(500, 12)
    proba = np.random.default_rng(12).dirichlet((1, 1, 1), size=500)
    prio = proba[:, 0]
    hours = poisson_arrivals(500, 20, seed=12)
    report = evaluation_report(
        heads={"urgency": head_metrics(y, proba, CLASSES)},
        oracle={"urgency": head_metrics(y, proba, CLASSES)},
        capacity={"model": capacity_metrics(y, prio, [100], received_at=received, ids=ids)},
        queue=compare_policies(hours, y, {"model": prio}, ids=ids),
        workload_recall=workload_recall_curve({"model": prio, "oracle": prio}, y, n_boot=20),
        audits=[
            capacity_audit(
                y, y, prio, k=100, received_at=received, ids=ids, grouping="source", n_boot=200
            )
        ],
        queue_sim=_queue_sim(y, received, ids, prio),
        conformal=coverage_summary(proba > 0.1, y, 0.95),
    )
    assert set(report["conformal"]) == {
        "target",
        "coverage",
        "mean_set_size",
        "share_cannot_rule_out_immediate",
    }
    doc = (Path(__file__).parents[2] / "docs" / "evaluation.md").read_text()
    doc = re.sub(r"```.*?```", "", doc, flags=re.S)
    words = {w for tok in re.findall(r"`([^`]+)`", doc) for w in re.findall(r"\w+", tok)}
    dynamic = {*CLASSES, "urgency", "model", "top_label"}
    missing = [
        k
        for k in _keys(report, set())
        if k not in words | dynamic
        and not any(k == f"{c}_{w}" for c in CLASSES for w in words | {"n"})
    ]
    assert not missing, f"keys not in docs/evaluation.md: {sorted(missing)}"
