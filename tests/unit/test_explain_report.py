"""Explanation pages: content, escaping, no raw values, replay from the inference log."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from features.contract import Feedback
from features.ingest import parse_documents
from features.pipeline import build_features
from reports.explain import (
    record_from_store,
    records_from_scores,
    render_referral_html,
    write_queue_reports,
    write_reports,
)
from serving.store import Store
from training.synthetic import generate
from triage.cli import main as triage

RAW_EMAIL = "someone.fake@example.com"
RAW_IP = "192.0.2.77"
NARRATIVE = "SYNTHETIC-NARRATIVE-DO-NOT-SHOW"
ESCALATION = "SYNTHETIC-ESCALATION-DO-NOT-SHOW"
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def hostile_docs(n: int = 3) -> list[dict]:
    """Synthetic referrals whose free-form fields hold markup, all sharing one suspect."""
    docs = generate(n, 5, date(2023, 5, 1), 5)
    out = []
    for i, d in enumerate(docs):
        d = copy.deepcopy(d)
        d["incident"]["platform"] = "<script>alert('platform')</script>"
        d["source_priority"] = "<script>p</script>"
        d["narrative"] = NARRATIVE
        d["escalation_reason"] = ESCALATION if i == n - 1 else None
        d["subjects"] = [
            {
                "identifiers": [{"kind": "email", "value": RAW_EMAIL, "verified": True}],
                "ip_events": [{"ip": RAW_IP, "event": "upload"}],
                "location": {"country": "CA", "region": "<script>r</script>", "verified": True},
            }
        ]
        out.append(d)
    return out


def scored(model, pseudonymiser, docs, now=None):
    batch = parse_documents(docs, pseudonymiser)
    assert not batch.rejected
    refs = sorted(batch.referrals, key=lambda r: r.received_at)
    feats = build_features(refs)
    return refs, feats, model.score(feats, now=now)


def assert_safe(page: str) -> None:
    low = page.lower()
    assert "<script" not in low and "javascript:" not in low
    for secret in (RAW_EMAIL, RAW_IP, NARRATIVE, ESCALATION):
        assert secret not in page
    for src in re.findall(r"""<img[^>]*src=["']([^"']*)""", page):
        assert src.startswith("data:image/")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_page_shows_the_score_and_escapes_referral_markup(trained, pseudonymiser):
    _, model, _, _ = trained
    refs, feats, scores = scored(model, pseudonymiser, hostile_docs())
    records = records_from_scores(refs, scores, feats.X)
    page = render_referral_html(records[-1])
    assert_safe(page)
    assert page.count("&lt;script&gt;") >= 3  # platform, source priority, region as text
    s = scores[-1]
    assert f"tier-{s.tier}" in page and f"{s.priority:.1f}" in page
    assert "explicit_escalation" in page  # the last one was escalated: the floor names it
    for r in s.reasons:
        assert r.text.replace("'", "&#39;") in page  # every reason as a sentence (autoescaped)
    assert s.model_version in page
    # a chart, inline: the only image on the page
    assert page.count("<img") == 1 and "data:image/svg+xml;base64," in page
    # the earlier referrals share the suspect's e-mail and IP: shown by pseudonym prefix
    related = records[-1].related
    assert {r.referral_id for r in related} == {x.referral_id for x in refs[:-1]}
    assert all(r.shared for r in related), "each related referral says what it shares"
    assert all(re.fullmatch(r"(e-mail|IP) pn1:[0-9a-f]{8}…", k) for r in related for k in r.shared)


def test_store_replay_shows_what_the_reviewer_saw_then(trained, pseudonymiser, tmp_path):
    _, model, _, _ = trained
    docs = hostile_docs(2)
    store = Store(f"sqlite:///{tmp_path / 'store.db'}", clock=lambda: T0 + timedelta(hours=1))
    store.migrate()
    refs, feats, first = scored(model, pseudonymiser, docs, now=T0)
    then = [s.model_copy(update={"model_version": "7"}) for s in first]
    rows = [dict(feats.X.iloc[i]) for i in range(len(refs))]
    store.record_scores([(refs[0], then[0], rows[0])], "req-1")
    store.add_decision(
        Feedback(
            referral_id=refs[0].referral_id,
            reviewer="rev-1",
            decision="override",
            tier="high",
            viability="package",
            reason="FREE-TEXT-REASON",
            model_version="7",
            urgency_assessed="high",  # the reviewer's own judgement: the tier alone is none
        )
    )
    later = then[1].model_copy(update={"scored_at": T0 + timedelta(hours=2)})
    store.record_scores([(refs[1], later, rows[1])], "req-2")
    rescored = then[1].model_copy(
        update={"model_version": "8", "scored_at": T0 + timedelta(hours=5), "reasons": []}
    )
    store.record_scores([(refs[1], rescored, rows[1])], "req-3")

    old = record_from_store(store, refs[1].referral_id, as_of=T0 + timedelta(hours=3))
    assert old is not None and old.replayed and old.later_scores == 1
    assert old.score.model_version == "7" and old.score.reasons == then[1].reasons
    assert [r.referral_id for r in old.related] == [refs[0].referral_id]
    assert old.related[0].outcome and old.related[0].outcome.startswith("package, high")
    page = render_referral_html(old)
    assert_safe(page)
    assert "FREE-TEXT-REASON" not in page
    assert "<code>7</code>" in page and "Replayed from the inference log" in page
    new = record_from_store(store, refs[1].referral_id)
    assert new is not None and new.score.model_version == "8" and new.later_scores == 0
    assert record_from_store(store, "no-such-referral") is None
    # the top of the queue: only the referral still awaiting a decision
    paths = write_queue_reports(store, tmp_path / "queue")
    assert [p.name for p in paths] == [refs[1].referral_id.replace(":", "_") + ".html"]
    store.close()


def test_batch_pages_and_index_via_cli(trained, tmp_path, monkeypatch):
    settings, _, _, _ = trained
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in hostile_docs(4)))
    monkeypatch.setenv("TRIAGE_HOME", str(settings.home))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", settings.pseudonym_key.get_secret_value())
    out = tmp_path / "pages"
    assert triage(["explain", "--input", str(src), "--out", str(out)]) == 0
    index = (out / "index.html").read_text()
    pages = sorted(p for p in out.glob("*.html") if p.name != "index.html")
    assert len(pages) == 4
    for p in pages:
        assert f'href="{p.name}"' in index
        assert_safe(p.read_text())
    priorities = [float(x) for x in re.findall(r'class="num">([0-9.]+)<', index)]
    assert priorities == sorted(priorities, reverse=True)
    assert triage(["explain", "--referral", "nope", "--out", str(out)]) == 2


def test_write_reports_single_page_has_no_index(trained, pseudonymiser, tmp_path: Path):
    _, model, _, _ = trained
    refs, _, scores = scored(model, pseudonymiser, hostile_docs(1))
    paths = write_reports(records_from_scores(refs, scores), tmp_path)
    assert [p.name for p in paths] == [refs[0].referral_id.replace(":", "_") + ".html"]


@pytest.mark.parametrize("bad", ["<b>x</b>", '"><img src=x onerror=alert(1)>'])
def test_any_markup_in_platform_is_text(trained, pseudonymiser, bad):
    _, model, _, _ = trained
    docs = hostile_docs(1)
    docs[0]["incident"]["platform"] = bad
    refs, _, scores = scored(model, pseudonymiser, docs)
    page = render_referral_html(records_from_scores(refs, scores)[0])
    assert bad not in page and "<img src=x" not in page and "<b>" not in page
