"""Probes, metrics, the model card and the drift report on a real server."""

from __future__ import annotations

import json
import re

import pytest
from service_support import shown, variant

pytestmark = pytest.mark.timeout(300)


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_probes_say_which_model_answers(live, trained):
    version = str(trained[1].version)
    with live.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/livez").json() == {"status": "ok"}, "documented by BentoML's OpenAPI"
        ready = c.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["degraded"] is False
    assert ready.json()["model_version"] == version
    assert ready.headers["X-Model-Version"] == version


def test_metrics_count_latency_tiers_overrides(live, raw_referrals):
    docs = [variant(d, "metrics") for d in raw_referrals[200:230]]
    with live.client("admin") as c:
        before = c.get("/metrics").text
    with live.client("scorer") as c:
        scores = c.post("/score", json=docs).json()["scores"]
    first = scores[0]
    with live.client("reviewer") as c:
        sid = shown(c, first["referral_id"])
    override = {
        "referral_id": first["referral_id"],
        "score_id": sid,
        "decision": "override",
        "tier": "immediate" if first["tier"] != "immediate" else "routine",
        "viability": "package",
        "reason": "seen it before",
        "model_version": first["model_version"],
    }
    with live.client("reviewer") as c:
        assert c.post("/feedback", json=override).status_code == 201
    with live.client("admin") as c:
        after = c.get("/metrics").text
    for tier in ("immediate", "high", "routine"):
        n = sum(s["tier"] == tier for s in scores)
        got = metric(after, "triage_scores_total", tier=tier)
        assert got - metric(before, "triage_scores_total", tier=tier) == n
    # the server is shared by the session: count what this test added, exactly
    overrides = "triage_overrides_total"
    assert (
        metric(after, overrides, tier=first["tier"]) - metric(before, overrides, tier=first["tier"])
        == 1
    )
    timed = "triage_request_duration_seconds_count"
    assert (
        metric(after, timed, endpoint="POST /score") - metric(before, timed, endpoint="POST /score")
        == 1
    )
    assert 'triage_model_info{degraded="false"' in after


def test_model_states_version_and_metrics(live, trained):
    _settings, model, _ds, _split = trained
    with live.client("scorer") as c:
        body = c.get("/model").json()
        html = c.get("/model", headers={"Accept": "text/html"})
    assert body["version"] == str(model.version)
    assert body["degraded"] is False
    assert body["metrics"] == json.loads(json.dumps(model.manifest.metrics, default=str))
    assert body["features"] == len(model.manifest.features)
    # the session's model comes from training.fit alone: `triage train` (training/pipeline.py)
    # writes card.html into the artefact, fit does not, so the HTML card is absent here
    assert html.status_code == 404, html.text
    assert html.json()["error"] == "this model has no HTML card"


def test_drift_is_served_once_written(live):
    path = live.settings.reports_dir / "drift" / "latest.json"
    with live.client("reviewer") as c:
        if not path.exists():
            r = c.get("/drift")
            assert r.status_code == 404
            assert "triage monitor" in r.json()["error"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"drift": False, "window": "test"}))
        assert c.get("/drift").json() == json.loads(path.read_text())


def test_every_answer_names_the_model_version_and_request(live, trained):
    with live.client("reviewer") as c:
        for path in ("/queue", "/model", "/referrals/none", "/nope"):
            r = c.get(path)
            assert r.headers["X-Model-Version"] == str(trained[1].version), path
            assert len(r.headers["X-Request-ID"]) == 32
