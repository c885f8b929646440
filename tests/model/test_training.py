"""Training and evaluation end to end: the report's documented shape, the model against
its baselines, monotone urgency, invariance, and the train / score commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.config import Settings
from features.pipeline import build_features
from models import registry
from training.evaluate import evaluate
from triage.cli import main

DOCS = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"
KEY = "test-key-0123456789abcdef"


@pytest.fixture(scope="module")
def report(trained):
    _, model, ds, split = trained
    return evaluate(model, ds, split.test, n_boot=200)


def test_report_has_the_documented_keys_and_the_oracle(report):
    documented = set(re.findall(r"^\| `([a-z_]+)[`.\[]", DOCS.read_text(), flags=re.M))
    assert set(report) <= documented, set(report) - documented
    assert {"schema_version", "meta", "heads", "oracle", "capacity", "queue", "audit"} <= set(
        report
    )
    oracle = report["oracle"]
    assert set(oracle) == {"convention", "heads", "ratio"}
    ratio = oracle["ratio"]["urgency"]["per_class"]["immediate"]["roc_auc"]
    ours = report["heads"]["urgency"]["per_class"]["immediate"]["roc_auc"]
    best = oracle["heads"]["urgency"]["per_class"]["immediate"]["roc_auc"]
    assert ratio == pytest.approx(ours / best, rel=1e-12), "the ratio is model over oracle"
    ll = oracle["ratio"]["urgency"]["log_loss"]
    assert ll == pytest.approx(
        oracle["heads"]["urgency"]["log_loss"] / report["heads"]["urgency"]["log_loss"], rel=1e-12
    ), "lower-is-better metrics: oracle over model"
    orderings = {"model", "oracle", "source_priority", "fifo", "rules_only"}
    assert set(report["capacity"]["policies"]) == orderings
    assert set(report["queue"]["policies"]) == orderings
    assert sorted(a["grouping"] for a in report["audit"]) == ["province"] * 2 + ["source"] * 2


def test_report_carries_no_referral_ids(report, trained):
    _, _, ds, split = trained
    text = json.dumps(report)
    ids = ds.feats.meta["referral_id"][split.test].tolist()
    assert not any(i in text for i in ids[:: max(1, len(ids) // 200)])


def test_model_beats_fifo_for_immediate_referrals(report):
    q = report["queue"]["policies"]
    assert q["model"]["immediate_p95_h"] < q["fifo"]["immediate_p95_h"]
    assert q["model"]["immediate_p50_h"] < q["fifo"]["immediate_p50_h"]


# -- behaviour: urgency signals, invariance -------------------------------------------------


def _raise(X: pd.DataFrame, feature: str) -> pd.DataFrame:
    Y = X.copy()
    col = Y[feature].astype(np.float64)
    if feature == "escalated":
        Y[feature] = np.float32(1.0)
    elif feature == "files_new":
        Y[feature] = (col.fillna(0) + 3).astype(np.float32)
    elif feature == "link_prior_referrals":
        Y[feature] = (col.fillna(0) + 2).astype(np.float32)
    elif feature == "victim_min_age":  # a younger victim, where an age is known
        Y[feature] = np.maximum(col - 6, 0).astype(np.float32)
    return Y


@pytest.mark.parametrize(
    "feature", ["escalated", "files_new", "victim_min_age", "link_prior_referrals"]
)
def test_raising_an_urgency_signal_never_lowers_urgency(trained, feature):
    _, model, ds, split = trained
    X = ds.feats.X[split.test].iloc[:1500]
    before, _ = model.predict_proba(X)
    after, _ = model.predict_proba(_raise(X, feature))
    urgent_before = before[:, 0] + before[:, 1]
    urgent_after = after[:, 0] + after[:, 1]
    assert np.all(urgent_after >= urgent_before - 1e-9)
    assert np.any(urgent_after > urgent_before + 1e-6)  # the signal is actually used


def test_the_referral_id_changes_nothing(trained):
    s, model, ds, _ = trained
    refs = ds.referrals[:400]
    renamed = [
        r.model_copy(update={"referral_id": f"other-{len(refs) - i:05d}"})
        for i, r in enumerate(refs)
    ]
    a, b = build_features(refs), build_features(renamed)
    pd.testing.assert_frame_equal(a.X, b.X)
    sa, sb = model.score(a), model.score(b)
    for x, y in zip(sa, sb, strict=True):
        dx, dy = (
            x.model_dump(exclude={"referral_id", "scored_at"}),
            y.model_dump(exclude={"referral_id", "scored_at"}),
        )
        assert dx == dy


# -- the commands ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory, labelled_file):
    """``triage train`` on the small labelled file with small rounds, in a fresh home."""
    home = tmp_path_factory.mktemp("cli_home")
    data = home / "first-half.jsonl"  # four months: every class in every window, and fast
    data.write_text("\n".join(labelled_file.read_text().splitlines()[:12_000]) + "\n")
    cfg = home / "train.json"
    cfg.write_text(json.dumps({"rounds": 30, "early_stopping": 5, "backtests": 1}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRIAGE_HOME", str(home))
        mp.setenv("TRIAGE_PSEUDONYM_KEY", KEY)
        code = main(["train", "--data", str(data), "--config", str(cfg)])
    assert code == 0
    return Settings(home=home, pseudonym_key=KEY)


def test_train_command_registers_a_champion_with_its_artefacts(cli_home):
    s = cli_home
    champion, challenger = registry.resolve(s, "champion"), registry.resolve(s, "challenger")
    assert champion.version == challenger.version == "1"
    model_dir = registry.download(s, champion)
    for name in ("card.md", "card.html", "evaluation.json", "reference.parquet"):
        assert (model_dir / name).is_file(), name
    html = (model_dir / "card.html").read_text()
    assert "data:image/png;base64," in html and "Intended use" in html
    report = json.loads((model_dir / "evaluation.json").read_text())
    assert report["backtests"] and report["backtests"][0]["immediate_roc_auc"] > 0.5
    ref = pd.read_parquet(model_dir / "reference.parquet")
    assert "referral_id" not in ref and 0 < len(ref) <= 20_000
    assert {"received_at", "source", "province", "incident_type", "tier"} <= set(ref.columns)
    events = pd.read_parquet(s.home / "history" / "events.parquet")
    ident = events.loc[events["family"] == "ident", "key"]
    assert len(ident) and ident.str.startswith("pn1:").all()  # pseudonyms, never raw values


def test_score_command_answers_good_lines_and_lists_bad_ones(
    cli_home, labelled_file, tmp_path, monkeypatch, capsys
):
    lines = labelled_file.read_text().splitlines()[:40]
    docs = [json.loads(x) for x in lines]
    for d in docs:
        d.pop("outcome", None), d.pop("_oracle", None)
    docs[3]["source"] = "nowhere"
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([*map(json.dumps, docs), "{not json"]) + "\n")
    monkeypatch.setenv("TRIAGE_HOME", str(cli_home.home))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", KEY)
    out, errors = tmp_path / "out.jsonl", tmp_path / "errors.jsonl"
    code = main(["score", "--input", str(src), "--out", str(out), "--errors", str(errors)])
    assert code == 1
    scores = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(scores) == 39
    assert [x["referral_id"] for x in scores] == [
        d["referral_id"] for i, d in enumerate(docs) if i != 3
    ]
    assert all(x["model_version"] == "1" and not x["degraded"] for x in scores)
    bad = [json.loads(x) for x in errors.read_text().splitlines()]
    assert [b["index"] for b in bad] == [3, 40]
    assert "rejected #3" in capsys.readouterr().err


def test_score_command_falls_back_to_the_rules_without_a_model(
    labelled_file, tmp_path, monkeypatch
):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(labelled_file.read_text().splitlines()[:10]) + "\n")
    monkeypatch.setenv("TRIAGE_HOME", str(tmp_path / "empty_home"))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", KEY)
    out = tmp_path / "out.jsonl"
    assert main(["score", "--input", str(src), "--out", str(out)]) == 0
    scores = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(scores) == 10 and all(x["degraded"] for x in scores)


def test_reviewer_decisions_override_labels_and_keep_the_oracle(
    labelled_file, tmp_path, pseudonymiser
):
    from features.contract import Outcome
    from features.ingest import Labelled, read_jsonl
    from training.data import load_labelled

    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(labelled_file.read_text().splitlines()[:300]) + "\n")
    base = load_labelled(small, pseudonymiser)
    first = read_jsonl(small, pseudonymiser, labels=True).good[0]
    flipped = "immediate" if first.outcome.urgency != "immediate" else "routine"
    decision = Outcome(viability="package", urgency=flipped, decided_at=first.outcome.decided_at)
    merged = load_labelled(small, pseudonymiser, extra=[Labelled(first.referral, decision)])
    i = merged.feats.meta["referral_id"].tolist().index(first.referral.referral_id)
    assert merged.y_urgency[i] == flipped and base.y_urgency[i] != flipped
    assert merged.oracle_urgency is not None and len(merged) == len(base)
    assert merged.digest != base.digest


def test_promote_command_exits_3_for_a_worse_challenger(cli_home, tmp_path, monkeypatch, capsys):
    from models.triage_model import TriageModel

    s = cli_home
    good = registry.load(s, "champion")
    worse = TriageModel(
        {"urgency": good.boosters["viability"], "viability": good.boosters["viability"]},
        good.calibrators,
        good.policy,
        good.manifest,
    )
    with registry.run(s, "test-worse") as mlflow:
        version = registry.register(s, mlflow, worse.save(tmp_path / "worse"))
    monkeypatch.setenv("TRIAGE_HOME", str(s.home))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", KEY)
    data = s.home / "first-half.jsonl"
    code = main(["promote", "--challenger", version, "--data", str(data)])
    assert code == 3
    assert "REJECTED" in capsys.readouterr().out
    assert registry.resolve(s, "champion").version == good.version


def test_report_holds_the_operating_point_and_the_workload_curve(report, trained):
    _, model, ds, split = trained
    op = report["operating_point"]
    assert op["policy_version"] == model.policy.policy_version
    days = op["tier_shares"]["days"]
    assert days >= 30  # the test window, checked day by day
    imm = op["tier_shares"]["immediate"]
    assert imm["days_over_cap"] == round((1 - imm["share_of_days_within_cap"]) * days)
    # the immediate tier is the floor plus what the model adds: never more than both
    assert op["immediate"]["share"] <= (
        imm["share_added"] + op["tier_shares"]["floor_share"]["immediate"] + 1e-9
    )
    assert 0 < op["immediate"]["oracle_recall_at_same_share"] <= 1
    wr = report["workload_recall"]
    assert set(wr["curves"]) == {"model", "oracle", "rules_only", "source_priority"}
    assert [r["share"] for r in wr["curves"]["model"]["immediate"]] == wr["shares"]
    assert len(wr["shares"]) == 30
    oracle = [r["recall"] for r in wr["curves"]["oracle"]["immediate"]]
    assert oracle == sorted(oracle)  # a bigger tier never holds fewer
