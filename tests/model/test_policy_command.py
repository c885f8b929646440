"""``triage policy``: show, curve and set (a new operating point without retraining, through
the promotion gate) on a real MLflow store."""

from __future__ import annotations

import pytest

from features.config import Settings
from models import registry
from triage.cli import main

KEY = "test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def policy_home(tmp_path_factory, trained):
    """A fresh home whose champion is the session's fixture model."""
    _, model, _, _ = trained
    home = tmp_path_factory.mktemp("policy_home")
    s = Settings(home=home, pseudonym_key=KEY)
    with registry.run(s, "test-policy") as mlflow:
        version = registry.register(s, mlflow, model.save(home / "staging" / "model"))
    registry.set_alias(s, "champion", version)
    return s, version


@pytest.fixture
def env(policy_home, monkeypatch):
    s, _ = policy_home
    monkeypatch.setenv("TRIAGE_HOME", str(s.home))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", KEY)
    return policy_home


def test_show_prints_the_policy_the_model_carries(env, capsys):
    assert main(["policy", "show"]) == 0
    out = capsys.readouterr().out
    assert "2026-11-default" in out and "P(immediate) >=" in out
    assert "immediate_share = 0.03" in out


def test_curve_prints_a_table_and_the_operating_point(env, labelled_file, capsys):
    assert main(["policy", "curve", "--data", str(labelled_file), "--boot", "20"]) == 0
    out = capsys.readouterr().out
    for ordering in ("model", "oracle", "rules_only", "source_priority"):
        assert ordering in out
    assert "30%" in out and "operating point on this window" in out


def test_set_refits_without_retraining_and_goes_through_the_gate(env, labelled_file, capsys):
    s, champion = env
    code = main(
        [
            "policy",
            "set",
            "--immediate-share",
            "0.06",
            "--version",
            "wider-6",
            "--data",
            str(labelled_file),
        ]
    )
    out = capsys.readouterr().out
    assert code in (0, 3) and ("PROMOTED" in out or "REJECTED" in out)
    assert "immediate_days_over_cap" in out  # the gate judged the new point's cap
    new = registry.resolve(s, "challenger")
    assert new.version != champion
    old = registry.load(s, champion)
    got = registry.load(s, new.version)
    assert got.policy.policy_version == "wider-6" and got.operating.immediate_share == 0.06
    assert got.policy.t_immediate < old.policy.t_immediate  # a wider cap, a lower threshold
    for head in ("urgency", "viability"):  # the heads are the champion's, untouched
        assert got.boosters[head].model_to_string() == old.boosters[head].model_to_string()
    assert got.manifest.training["policy_refit_from"] == champion
    runs = registry._mlflow(s).search_runs(  # type: ignore[attr-defined]
        experiment_ids=[registry.experiment_id(s)],
        filter_string="attributes.run_name = 'promotion'",
    )
    assert len(runs) == 1


def test_set_refuses_bad_shares_and_changes_nothing(env, capsys):
    s, champion = env
    before = registry.resolve(s, "champion").version
    assert main(["policy", "set", "--immediate-share", "0.9"]) == 2
    err = capsys.readouterr().err
    assert "immediate_share" in err
    assert registry.resolve(s, "champion").version == before
