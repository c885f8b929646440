"""The promotion gate: the pure decision on two reports, and the gate end to end on a real
MLflow store (first model, better challenger, worse challenger, the logged decision)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from features.config import Settings
from models import registry
from models.triage_model import TriageModel
from training.promote import EXIT_PROMOTED, EXIT_REJECTED, GateConfig, decide, gate


def report(
    recall: float = 0.9,
    ece_u: float = 0.01,
    ece_v: float = 0.01,
    gap: float = 0.02,
    days_within: float = 1.0,
    op_recall: float = 0.8,
    coverage: float | None = None,
):
    """The smallest report the gate reads (same layout as ``training.evaluate``)."""
    groups = [
        {"metric": "immediate_recall_at_k", "group": "a", "status": "ok", "shortfall": gap},
        {"metric": "immediate_recall_at_k", "group": "tiny", "status": "too_few", "shortfall": 0.9},
    ]
    r = {
        "meta": {"window": ["2024-07-01T00:00:00+00:00", "2024-12-31T00:00:00+00:00"]},
        "heads": {"urgency": {"top_label_ece": ece_u}, "viability": {"top_label_ece": ece_v}},
        "capacity": {
            "assumption": {"at_capacity_k": 100},
            "policies": {"model": {"at_k": [{"k": 50}, {"k": 100, "immediate_recall": recall}]}},
        },
        "audit": [
            {"grouping": "source", "groups": groups, "flagged": []},
            {"grouping": "province", "groups": copy.deepcopy(groups), "flagged": []},
        ],
        "operating_point": {
            "tier_shares": {"immediate": {"share_of_days_within_cap": days_within}},
            "immediate": {"recall": op_recall},
        },
    }
    if coverage is not None:
        r["conformal"] = {"target": 0.95, "coverage": {"immediate": coverage}}
    return r


def test_first_model_promotes_itself():
    d = decide(report(recall=0.1, ece_u=0.5), None)
    assert d.promoted and d.exit_code == EXIT_PROMOTED and "first model" in d.reason


def test_equal_or_better_challenger_passes():
    assert decide(report(), report()).promoted
    assert decide(report(recall=0.95, ece_u=0.005, gap=0.0), report()).promoted


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"recall": 0.85}, "immediate_recall_at_capacity"),
        ({"ece_u": 0.03}, "urgency_top_label_ece"),
        ({"ece_v": 0.03}, "viability_top_label_ece"),
        ({"gap": 0.2}, "worst_gap_source"),
    ],
)
def test_worse_beyond_tolerance_is_rejected(change, failed):
    d = decide(report(**change), report())
    assert not d.promoted and d.exit_code == EXIT_REJECTED
    assert [c.name for c in d.checks if not c.passed][0] == failed
    assert failed in d.reason


def test_within_tolerance_passes_and_tolerances_are_configurable():
    slightly = report(recall=0.89, ece_u=0.012, gap=0.05)
    assert decide(slightly, report()).promoted
    strict = GateConfig(recall_tolerance=0.0, ece_tolerance=0.0, gap_tolerance=0.0)
    assert not decide(slightly, report(), strict).promoted


def test_groups_with_too_few_positives_do_not_count():
    r = report()
    r["audit"][0]["groups"][1]["shortfall"] = 0.99  # a 'too_few' group: unknown, not a gap
    assert decide(r, report()).promoted


def test_daily_cap_exceeded_on_more_than_5_percent_of_days_is_rejected():
    d = decide(report(days_within=0.94), report())
    assert not d.promoted and "immediate_days_over_cap" in d.reason
    failed = next(c for c in d.checks if c.name == "immediate_days_over_cap")
    assert failed.challenger == pytest.approx(0.06) and failed.limit == 0.05
    # exactly 5 % of days over the cap is still within the rule
    assert decide(report(days_within=0.95), report()).promoted
    # the limit is the challenger's own: a champion as bad does not excuse it
    assert not decide(report(days_within=0.9), report(days_within=0.9)).promoted


def test_conformal_coverage_of_immediate_below_093_is_rejected_when_reported():
    d = decide(report(coverage=0.92), report(coverage=0.99))
    assert not d.promoted and "conformal_immediate_coverage" in d.reason
    assert decide(report(coverage=0.93), report()).promoted
    # a report without the conformal block (no conformal set yet) is not judged on it
    assert "conformal_immediate_coverage" not in {c.name for c in decide(report(), report()).checks}


def test_recall_at_operating_point_below_champion_beyond_paired_interval_is_rejected():
    clear = {"difference": -0.06, "low": -0.10, "high": -0.02}
    d = decide(report(op_recall=0.74), report(op_recall=0.80), paired=clear)
    assert not d.promoted and "immediate_recall_at_operating_point" in d.reason
    check = next(c for c in d.checks if c.name == "immediate_recall_at_operating_point")
    assert check.limit == pytest.approx(0.80 - 0.04)  # champion - (high - difference)
    noise = {"difference": -0.06, "low": -0.14, "high": 0.01}
    assert decide(report(op_recall=0.74), report(op_recall=0.80), paired=noise).promoted


def test_paired_interval_from_real_tiers():
    """The paired bootstrap sees a challenger whose immediate tier misses what the
    champion's catches, on the same referrals."""
    from training.workload import paired_difference

    pos = np.zeros(400, dtype=bool)
    pos[:40] = True
    champion_tier = pos.copy()
    challenger_tier = pos.copy()
    challenger_tier[:12] = False  # misses 12 of 40
    d = paired_difference(challenger_tier, champion_tier, pos, n_boot=500)
    assert d["high"] < 0
    got = decide(report(op_recall=28 / 40), report(op_recall=1.0), paired=d)
    assert not got.promoted


def test_a_champion_over_its_cap_is_no_bar_for_recall_at_the_operating_point():
    clear = {"difference": -0.3, "low": -0.4, "high": -0.2}
    d = decide(report(op_recall=0.6), report(op_recall=0.9, days_within=0.6), paired=clear)
    assert d.promoted, d.summary()
    assert any("not compared" in n for n in d.notes)


def test_first_model_failing_a_limit_is_promoted_with_a_note():
    d = decide(report(days_within=0.5), None)
    assert d.promoted and any("immediate_days_over_cap" in n for n in d.notes)
    assert not next(c for c in d.checks if c.name == "immediate_days_over_cap").passed


class _Built:
    """A challenger as the gate sees it: a version and a manifest."""

    def __init__(self, git_commit: str, training: dict) -> None:
        from models.manifest import Manifest

        self.version = "9"
        self.manifest = Manifest(created_at="2026-01-01", git_commit=git_commit, training=training)


FIT_TRAINING = {"config": {}, "heads": {}, "classes": {}, "monotone_urgency": {}}


def test_the_gate_refuses_a_model_not_built_by_training_fit():
    """What the Dask engine used to register: its own assembly, ``git_commit="dask"``."""
    from training.assembly import CHECK, refuse_other_assemblies

    old = _Built("dask", {"engine": "dask", "rounds": 30, "heads": {}})
    refused = refuse_other_assemblies(decide(report(), None), old, force=False)
    assert not refused.promoted and refused.exit_code == EXIT_REJECTED
    assert refused.checks[-1].name == CHECK and not refused.checks[-1].passed
    assert "config" in refused.reason and "monotone_urgency" in refused.reason
    no_commit = _Built("dask", {**FIT_TRAINING, "engine": "dask"})
    assert not refuse_other_assemblies(decide(report(), None), no_commit, False).promoted
    forced = refuse_other_assemblies(decide(report(), None), old, force=True)
    assert forced.promoted and "forced" in forced.reason
    made = _Built("0123abc", {**FIT_TRAINING, "engine": "dask"})
    kept = refuse_other_assemblies(decide(report(), None), made, force=False)
    assert kept.promoted and CHECK not in [c.name for c in kept.checks]


def test_force_promotes_and_says_so():
    d = decide(report(recall=0.1), report(), force=True)
    assert d.promoted and d.forced and "forced" in d.reason


# -- the gate against a real MLflow store -------------------------------------------------


def _register(s: Settings, model: TriageModel, tmp_path, name: str) -> str:
    with registry.run(s, f"test-{name}") as mlflow:
        return registry.register(s, mlflow, model.save(tmp_path / name))


def _worse(model: TriageModel) -> TriageModel:
    """The urgency head swapped for the viability head: confidently wrong about urgency."""
    boosters = {"urgency": model.boosters["viability"], "viability": model.boosters["viability"]}
    return TriageModel(boosters, model.calibrators, model.policy, model.manifest)


def _promotion_runs(s: Settings) -> list[registry.LoggedRun]:
    return registry.runs_named(s, "promotion")


@pytest.fixture(scope="module")
def gate_home(tmp_path_factory, trained):
    """A fresh home holding the fixture model (good) and a deliberately worse one."""
    _, model, _, _ = trained
    home = tmp_path_factory.mktemp("gate_home")
    s = Settings(home=home, pseudonym_key="test-key-0123456789abcdef")
    good = _register(s, model, home, "good")
    bad = _register(s, _worse(model), home, "bad")
    return s, good, bad


def test_gate_end_to_end_first_better_worse_and_logged(gate_home, trained):
    s, good, bad = gate_home
    _, _, ds, split = trained
    cfg = GateConfig()
    # no champion yet: the first model promotes itself
    first = gate(s, ds, split.test, cfg, challenger=bad)
    assert first.promoted and "first model" in first.reason
    assert registry.resolve(s, "champion").version == bad
    # a better challenger replaces a worse champion
    better = gate(s, ds, split.test, cfg, challenger=good)
    assert better.promoted and better.champion_version == bad, better.summary()
    assert registry.resolve(s, "champion").version == good
    # a worse challenger is rejected and the champion stays
    worse = gate(s, ds, split.test, cfg, challenger=bad)
    assert not worse.promoted and worse.exit_code == EXIT_REJECTED, worse.summary()
    assert registry.resolve(s, "champion").version == good
    # every decision is in MLflow with its figures
    runs = _promotion_runs(s)
    assert [r.tags["decision"] for r in runs] == ["promoted", "promoted", "rejected"]
    last = runs[-1]
    assert last.tags["challenger_version"] == bad
    assert last.tags["champion_version"] == good
    assert last.metrics["promoted"] == 0.0
    assert last.metrics["passed_immediate_recall_at_capacity"] == 0.0
    path = registry.run_artifact(s, last.run_id, "decision.json")
    logged = json.loads(Path(path).read_text())
    assert logged["promoted"] is False and logged["checks"]
