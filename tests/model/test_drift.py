"""Drift monitoring on the generator's scenarios: what must alarm does, what must not doesn't.

Windows are built by :mod:`reports.drift_calibration`: one shared baseline history, then
each window its own synthetic stream, featurised against that history and scored by the
session's model. The reference is a baseline window. Rates measured here are printed
(``pytest -s``); ``python -m reports.drift_calibration`` measures them on more seeds.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from features.contract import Feedback
from features.ingest import parse_documents
from features.pipeline import build_features
from reports import drift_frames
from reports.drift import DriftSummary, evaluate
from reports.drift_calibration import EXPECTED, caught, make_lab
from reports.drift_frames import Window
from reports.evidently_adapter import column_drift, homogeneity_p_value
from reports.monitor import MonitorResult
from serving.store import Store
from training.synthetic import generate
from triage.cli import main as triage

SEEDS, SIZES = (1, 2, 3), (2, 10, 30)  # 200, 1,000 and 3,000 referrals a window
SCENARIO_DAYS = 20


@pytest.fixture(scope="module")
def lab(trained, pseudonymiser):
    return make_lab(trained[1], pseudonymiser)


@pytest.fixture(scope="module")
def reference(lab):
    return lab.window("baseline", 1000, 30)


@pytest.fixture(scope="module")
def fresh(lab, reference):
    return {
        (s, d): evaluate(reference, lab.window("baseline", s, d))[0] for s in SEEDS for d in SIZES
    }


@pytest.fixture(scope="module")
def drifted(lab, reference):
    return {sc: evaluate(reference, lab.window(sc, 1, SCENARIO_DAYS))[0] for sc in EXPECTED}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_scenario_is_flagged_naming_its_columns(drifted, scenario):
    s = drifted[scenario]
    assert s.drift_detected, scenario
    assert caught(s, scenario), (scenario, s.flagged)
    data = set(s.flagged.get("data", []))
    if scenario == "e2ee":  # hash-detected files gone from the largest platform, and its share
        assert data & {"files_known", "files_unchecked"}
        assert "platform" in s.flagged.get("platform_mix", [])
        assert "all" in s.flagged.get("volume", [])
    elif scenario == "covid_surge":
        assert "all" in s.flagged["volume"] and "channel" in data
        vol = next(c for c in s.checks if c.signal == "volume" and c.name == "all")
        assert 1.3 < vol.effect < 1.45
    elif scenario == "sextortion_wave":
        assert "ann_sextortion" in data
    else:
        unseen = next(c for c in s.checks if c.signal == "unseen_platforms")
        assert unseen.flagged and 0.15 < unseen.effect < 0.35


def test_fresh_windows_from_the_reference_distribution_are_not_flagged(fresh, drifted):
    false_alarms = {k: s.flagged for k, s in fresh.items() if s.drift_detected}
    detected = {k: bool(s.drift_detected and caught(s, k)) for k, s in drifted.items()}
    print(
        f"\nfalse alarms {len(false_alarms)}/{len(fresh)} (seeds {SEEDS}, days {SIZES}); "
        f"detection {sum(detected.values())}/{len(detected)}: {detected}"
    )
    assert not false_alarms


def test_history_features_are_shown_but_never_flagged(fresh):
    for s in fresh.values():
        hist = [c for c in s.checks if c.signal == "history"]
        assert hist and not any(c.flagged for c in hist)
        assert {"platform_urgent_rate", "link_prior_referrals"} <= {c.name for c in hist}


def test_rule_needs_significance_and_effect(fresh):
    s = next(iter(fresh.values()))
    for c in s.checks:
        assert c.flagged == (c.significant and c.large and c.signal != "history")
        assert c.significant == (c.p_value < s.rule["alpha_per_check"])
    assert s.rule["m"] == len(s.checks)


def test_evidently_report_and_direct_tests_agree(lab, reference):
    cur = lab.window("sextortion_wave", 9, 5)
    num, cat = ["n_files", "completeness", "victim_min_age"], ["incident_type", "channel"]
    ref_df = reference.X[num + cat].astype({c: object for c in cat})
    cur_df = cur.X[num + cat].astype({c: object for c in cat})
    kw = {"alpha": 1e-4, "numeric_floor": 0.1, "categorical_floor": 0.05}
    fast = column_drift(ref_df, cur_df, num, cat, html=False, **kw)
    full = column_drift(ref_df, cur_df, num, cat, html=True, **kw)
    assert fast.snapshot is None and full.snapshot is not None
    for a, b in zip(fast.columns, full.columns, strict=True):
        assert (a.column, a.test, a.effect_name) == (b.column, b.test, b.effect_name)
        assert np.isclose(a.p_value, b.p_value, rtol=1e-9, atol=1e-300)
        assert np.isclose(a.effect, b.effect, rtol=1e-9)


def test_homogeneity_test_pools_sparse_and_new_levels():
    ref = pd.Series(["a"] * 500 + ["b"] * 500)
    assert homogeneity_p_value(ref, pd.Series(["a"] * 50 + ["b"] * 49 + ["new"])) > 0.05
    assert homogeneity_p_value(ref, pd.Series(["a"] * 90 + ["b"] * 10)) < 1e-6
    assert homogeneity_p_value(ref, pd.Series(["a"] * 40 + ["b"] * 40 + ["new"] * 20)) < 1e-6


def test_large_windows_do_not_alarm_on_trivial_shifts(reference):
    """A shift that is certain (15,000 referrals) but small is significant, not flagged."""
    big = Window(
        X=pd.concat([reference.X] * 5, ignore_index=True),
        meta=pd.concat([reference.meta] * 5, ignore_index=True),
        preds=None,
        days=150.0,
        label="big",
    )
    shifted = Window(big.X.copy(), big.meta, None, 150.0, "shifted")
    shifted.X["completeness"] = shifted.X["completeness"] * 1.01
    s, _ = evaluate(big, shifted)
    c = next(c for c in s.checks if c.name == "completeness")
    assert c.significant and 0 < c.effect < c.floor and not c.flagged
    assert not s.drift_detected


def _fill_store(url, lab, now):
    """A store whose log holds a sextortion-wave week, and whose reviewers started
    overriding 'routine' calls in the latest of twelve weekly windows."""
    docs = generate(600, 3, lab.window_start, 7, "sextortion_wave")
    refs = sorted(parse_documents(docs, lab.pseudonymiser).referrals, key=lambda r: r.received_at)
    feats = build_features(refs, None, lab.history)
    scores = lab.model.score(feats, now=now - timedelta(days=1), explain=False)
    with Store(url) as store:
        store.migrate()
        rows = [dict(feats.X.iloc[i]) for i in range(len(refs))]
        store.record_scores(list(zip(refs, scores, rows, strict=True)), "req-1")
    times = iter([now - timedelta(days=7 * (11 - i // 20)) for i in range(240)])
    with Store(url, clock=lambda: next(times)) as store:
        for i, s in enumerate(scores[:240]):
            override = i >= 220 and s.tier == "routine"
            store.add_decision(
                Feedback(
                    referral_id=s.referral_id,
                    reviewer="r",
                    decision="override" if override else "confirm",
                    tier="high" if override else s.tier,
                    viability="lead",
                    reason="synthetic" if override else None,
                    model_version=s.model_version,
                )
            )


def test_monitor_reads_the_inference_log_and_writes_reports(
    trained, lab, reference, tmp_path, monkeypatch
):
    settings = trained[0].model_copy(update={"home": tmp_path / "home"})
    ref_file = drift_frames.write_parquet(reference, tmp_path / "reference.parquet")
    _fill_store(settings.store_url(), lab, datetime.now(UTC))
    monkeypatch.setenv("TRIAGE_HOME", str(settings.home))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", settings.pseudonym_key.get_secret_value())
    assert triage(["monitor", "--reference", str(tmp_path / "missing.parquet")]) == 2
    assert triage(["monitor", "--reference", str(ref_file), "--window-days", "7"]) == 1
    out = settings.reports_dir / "drift"
    s = json.loads((out / "latest.json").read_text())
    assert s["drift_detected"] and "ann_sextortion" in s["flagged"]["data"]
    assert "tier=routine" in s["flagged"].get("overrides", [])
    assert s["current"]["rows"] == 600 and s["current"]["model_versions"] == [trained[1].version]
    assert s["reference"]["rows"] == len(reference) and s["reference"]["has_predictions"]
    page = (out / s["files"]["html"]).read_text()
    assert "Drift detected" in page and "<script" not in page.lower()
    assert (out / s["files"]["evidently"]).stat().st_size > 10_000
    assert (out / s["files"]["json"]).read_text() == (out / "latest.json").read_text()
    calm = DriftSummary.model_validate({**s, "drift_detected": False, "flagged": {}})
    assert MonitorResult(calm).exit_code == 0
