"""The triage model's behaviour: probabilities, policy, safety floor, explanations, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shap

from features.catalogue import FEATURES
from models import registry, safety
from models.conformal import split_in_time
from models.degraded import score_rules
from models.manifest import ModelIncompatible
from models.triage_model import TriageModel


def test_probabilities_are_distributions(trained):
    _, model, ds, split = trained
    pu, pv = model.predict_proba(ds.feats.X[split.test])
    for p in (pu, pv):
        assert np.all(p >= 0) and np.allclose(p.sum(axis=1), 1.0)


def test_explanations_sum_to_raw_score_and_match_shap(trained):
    _, model, ds, split = trained
    X = ds.feats.X[split.test].iloc[:200]
    from models.explain import contributions

    for head in ("urgency", "viability"):
        c = contributions(model.boosters[head], X)
        raw = model.margins(X, head)
        assert np.allclose(c.sum(axis=2), raw, atol=1e-6)
        sv = shap.TreeExplainer(model.boosters[head]).shap_values(X)
        sv = np.stack(sv, axis=1) if isinstance(sv, list) else np.moveaxis(sv, 2, 1)
        assert np.allclose(c[:, :, :-1], sv, atol=1e-6)


def test_safety_floor_lifts_and_names_itself(trained):
    _, model, ds, split = trained
    feats = ds.feats
    X = feats.X.copy()
    X["escalated"] = np.float32(1.0)
    from features.pipeline import Features

    scores = model.score(Features(X.iloc[:50], feats.meta.iloc[:50], feats.events), explain=False)
    assert all(s.tier == "immediate" for s in scores)
    # a policy under which the model alone never says "immediate": only the floor can
    from models.policy import TierPolicy

    timid = TriageModel(model.boosters, model.calibrators, TierPolicy(1.01, 1.01), model.manifest)
    lifted = Features(X.iloc[:50], feats.meta.iloc[:50], feats.events)
    for s in timid.score(lifted, explain=False):
        assert s.tier == "immediate" and "explicit_escalation" in s.safety_rules
    for s in timid.score(Features(feats.X.iloc[:50], feats.meta.iloc[:50], feats.events)):
        assert s.safety_rules or s.tier == "routine"


def test_tiers_hold_the_policy_caps_day_by_day_on_the_calibration_window(trained):
    _, model, ds, split = trained
    from models.policy import tier_share_check

    X = ds.feats.X[split.calibrate]
    pu, _ = model.predict_proba(X)
    floor = safety.floor_rank(safety.fired(X))
    received = ds.feats.meta["received_at"][split.calibrate]
    pol = model.policy
    assert (pol.immediate_share, pol.high_share) == (0.03, 0.12)  # the packaged policy
    check = tier_share_check(pol, pu, floor, received)
    for tier in ("immediate", "high"):
        assert check[tier]["share_of_days_within_cap"] >= pol.within_days >= 0.95
    # the fitted threshold is the smallest that holds: the next lower score breaks it
    from models.policy import day_index, share_of_days_within

    day = day_index(received)
    eligible = floor < 2
    lower = np.sort(np.unique(pu[eligible, 0]))
    below = lower[lower < pol.t_immediate]
    assert len(below) > 0
    added = eligible & (pu[:, 0] >= below[-1])
    assert share_of_days_within(added, day, pol.immediate_share) < pol.within_days
    # and the tier is a small band, not everyone
    assert (pol.ranks(pu, floor) == 2).mean() < 0.03 + (floor >= 2).mean() + 0.02


def test_scores_carry_the_policy_version_and_urgency_band(trained):
    _, model, ds, split = trained
    from features.pipeline import Features

    feats = Features(ds.feats.X.iloc[:40], ds.feats.meta.iloc[:40], ds.feats.events)
    scores = model.score(feats, explain=False)
    assert {s.policy_version for s in scores} == {model.policy.policy_version}
    assert model.policy.policy_version == model.operating.version
    bands = [s.urgency_band for s in scores]
    assert all(b is not None and 1 <= b <= 20 for b in bands)
    # higher P(immediate) never gets a lower band
    p = [s.urgency["immediate"] for s in scores]
    order = np.argsort(p, kind="stable")
    assert all(np.diff(np.asarray(bands)[order]) >= 0)
    rules = score_rules(feats)
    assert all(s.policy_version and s.degraded for s in rules)


def test_refitting_the_kept_calibration_scores_reproduces_the_thresholds(trained, tmp_path):
    _, model, _, _ = trained
    from models.operating_policy import OperatingPolicy
    from training.fit import fit_tiers

    again = TriageModel.load(model.save(tmp_path / "m"))
    assert again.operating == model.operating
    assert again.policy == model.policy
    assert again.calibration_scores is not None
    assert "referral_id" not in again.calibration_scores
    refit = fit_tiers(again.calibration_scores, again.operating)
    assert refit == model.policy
    wider = OperatingPolicy.model_validate(
        {**model.operating.model_dump(), "version": "wider", "immediate_share": 0.10}
    )
    w = fit_tiers(again.calibration_scores, wider)
    assert w.t_immediate < model.policy.t_immediate and w.policy_version == "wider"


def test_save_load_roundtrip_and_incompatible_features_fail(trained, tmp_path):
    _, model, ds, split = trained
    path = model.save(tmp_path / "m")
    again = TriageModel.load(path)
    X = ds.feats.X.iloc[:100]
    assert np.allclose(again.predict_proba(X)[0], model.predict_proba(X)[0])
    m = json.loads((path / "manifest.json").read_text())
    m["features"] = list(reversed(FEATURES))
    (path / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelIncompatible, match="features"):
        TriageModel.load(path)


def test_champion_resolves_to_a_concrete_version(trained):
    s, model, _, _ = trained
    loaded = registry.load(s, "champion")
    assert loaded.version == model.version and loaded.version.isdigit()
    with pytest.raises(registry.ModelNotFound):
        registry.load(s, "challenger")


def test_scores_are_advisory_and_degraded_rules_work(trained):
    _, model, ds, _ = trained
    from features.pipeline import Features

    f = Features(ds.feats.X.iloc[:30], ds.feats.meta.iloc[:30], ds.feats.events)
    for s in model.score(f):
        assert s.needs_confirmation is True and not s.degraded and s.reasons
    for s in score_rules(f):
        assert s.degraded and s.model_version.startswith("rules")


def test_every_tier_gets_urgency_reasons(trained):
    """Routine's margin is held at zero (training.fit), so its own contributions are all
    zero; a routine referral is explained against high, and those contributions sum to
    margin(routine) - margin(high)."""
    _, model, ds, split = trained
    from features.contract import URGENCY_CLASSES
    from features.pipeline import Features
    from models.explain import contrast_for

    idx = np.flatnonzero(split.test)[:300]
    f = Features(ds.feats.X.iloc[idx], ds.feats.meta.iloc[idx], ds.feats.events)
    pred = model.predict(f)
    reasons = model.explain(f, pred)
    tiers = np.array(URGENCY_CLASSES)[2 - pred.model_rank]
    assert {"routine", "high"} <= set(tiers)  # the sample exercises the contrast
    for tier, rs in zip(tiers, reasons, strict=True):
        urgent = [r for r in rs if r.head == "urgency"]
        assert urgent, f"no urgency reasons for a {tier} referral"
        assert all(f"'{tier}'" in r.text for r in urgent)
        assert all(("over 'high'" in r.text) == (tier == "routine") for r in urgent)
    M = model.matrix(f.X)
    routine = URGENCY_CLASSES.index("routine")
    c = contrast_for(
        model.forest("urgency"), M, np.full(len(M), routine), np.full(len(M), routine - 1)
    )
    m = model.margins(M, "urgency")
    assert np.allclose(c.sum(axis=1), m[:, routine] - m[:, routine - 1], atol=1e-6)
    assert np.abs(c[:, :-1]).max() > 0


def test_urgency_sets_travel_with_the_model_and_every_score_carries_them(trained, tmp_path):
    _, model, ds, split = trained
    from features.pipeline import Features

    assert model.sets is not None and model.sets.target == 0.95
    # fitted on the calibration window's later half: its counts are that half's classes
    _, later = split_in_time(split.calibrate)
    y_later = ds.y_urgency[later]
    assert model.sets.calibration_counts == tuple(
        int((y_later == c).sum()) for c in ("immediate", "high", "routine")
    )
    again = TriageModel.load(model.save(tmp_path / "m"))
    assert again.sets == model.sets
    m = split.test
    f = Features(ds.feats.X[m].iloc[:300], ds.feats.meta[m].iloc[:300], ds.feats.events)
    scores = model.score(f, explain=False)
    members = model.urgency_members(model.predict_proba(f.X)[0])
    for s, row in zip(scores, members, strict=True):
        assert s.urgency_set == [
            c for c, x in zip(("immediate", "high", "routine"), row, strict=True) if x
        ]
        assert s.cannot_rule_out_immediate == ("immediate" in s.urgency_set)
    # the flag follows the displayed P(immediate): a higher one is never ruled out when a
    # lower one is not
    p_imm = np.array([s.urgency["immediate"] for s in scores])
    flagged = np.array([s.cannot_rule_out_immediate for s in scores])
    if flagged.any() and (~flagged).any():
        assert p_imm[flagged].min() >= p_imm[~flagged].max() - 1e-6
    for s in score_rules(f):
        assert s.cannot_rule_out_immediate is True
        assert s.urgency_set == ["immediate", "high", "routine"][: 3 - _floor(s.tier)]


def _floor(tier: str) -> int:
    return {"routine": 0, "high": 1, "immediate": 2}[tier]
