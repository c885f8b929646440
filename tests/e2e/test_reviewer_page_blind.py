"""The blind second review tab in headless Chromium against the shared real server
(``conftest.py``): a referral drawn for it is shown with nothing the model said (neither on
the page nor in any answer the browser received), the reviewer's assessment is recorded
as a ``second_blind`` decision, and the referral stays on the first-review queue.

Runs after ``test_reviewer_page.py`` (file order), on a referral of its own."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from e2e_support import recent
from playwright.sync_api import expect
from service_support import KEY, variant
from test_reviewer_page import queue, row, signed_in

from features.blind_draw import DEFAULT_SHARE, drawn_for_blind_review
from features.pseudonyms import Pseudonymiser
from serving.store import Store

pytestmark = pytest.mark.timeout(900)

#: What the model said, by the names the API gives it: none may reach the blind view.
MODEL_OUTPUT = {
    "tier",
    "priority",
    "priority_now",
    "aged_because",
    "urgency",
    "viability",
    "urgency_band",
    "urgency_set",
    "cannot_rule_out_immediate",
    "reasons",
    "safety_rules",
    "decisions",
    "scores",
    "score",
}


def keys_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys_of(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_of(v)}
    return set()


def drawn_referral(server, labelled_file) -> tuple[dict, dict]:
    """A fresh referral the keyed draw picks (and no safety rule lifts), with its score."""
    p = Pseudonymiser(KEY.encode())
    lines = labelled_file.read_text().splitlines()
    for n, line in enumerate(lines[:400]):
        doc = json.loads(line)
        doc.pop("outcome", None)
        doc.pop("_oracle", None)
        for _ in range(200):
            doc = variant(doc, f"blind{n}")
            if drawn_for_blind_review(doc["referral_id"], p, DEFAULT_SHARE):
                break
        doc = recent(doc, timedelta(minutes=5))
        with server.client("scorer") as c:
            r = c.post("/score", json=[doc])
        assert r.status_code == 200, r.text
        [score] = r.json()["scores"]
        if score["second_review"]:
            return doc, score
    raise AssertionError("no drawn referral without a safety rule in 400 tries")


def test_a_blind_review_hides_every_model_output_and_is_recorded(page, site, labelled_file):
    server, _ = site
    doc, score = drawn_referral(server, labelled_file)
    rid = doc["referral_id"]
    answers: list[Any] = []
    page.on("response", lambda r: answers.append(r) if "/second-review" in r.url else None)
    signed_in(page, server)
    page.click("#tab-blind")
    expect(page.locator("#queue-pane")).to_be_hidden()
    item = page.locator(f'#blind-list li[data-referral-id="{rid}"]')
    item.click()
    expect(page.locator("#blind-id")).to_have_text(rid)
    expect(page.locator("#blind-facts")).to_contain_text(doc["source"])

    # what the tab shows of the referrals (the tab's fixed explanation names what it omits)
    shown = page.locator("#blind-list").inner_text() + page.locator("#blind-detail").inner_text()
    for said in [r["text"] for r in score["reasons"]] + ["Estimates", "Priority", "Tier", "probab"]:
        assert said not in shown, said
    bodies = [a.json() for a in answers if a.status == 200]
    assert len(bodies) >= 2, "the list and the referral came from the blind routes"
    assert not keys_of(bodies) & MODEL_OUTPUT, keys_of(bodies) & MODEL_OUTPUT
    text = json.dumps(bodies)
    for r in score["reasons"]:
        assert r["text"] not in text
    for head in ("urgency", "viability"):
        for p in score[head].values():
            assert json.dumps(p) not in text or len(json.dumps(p)) < 5

    page.keyboard.press("c")  # the queue's keys do nothing on this tab
    page.keyboard.press("1")  # no viability chosen yet: refused by the page
    expect(page.locator("#blind-error")).to_contain_text("viability")
    page.select_option("#blind-viability", "lead")
    page.keyboard.press("2")
    expect(page.locator("#blind-empty")).to_contain_text(f"Recorded: blind review of {rid}")
    expect(item).to_have_count(0)
    with Store(server.settings.store_url()) as store:
        record = store.referral(rid)
    assert record is not None
    [d] = record.decisions
    assert (d.review, d.urgency_assessed, d.viability, d.reviewer) == (
        "second_blind",
        "high",
        "lead",
        "test-reviewer",
    )
    # the first review is not delayed: the referral is still on the first-review queue
    assert rid in {i["referral_id"] for i in queue(server)}
    page.click("#tab-queue")
    page.click("#refresh")
    expect(row(page, rid)).to_have_count(1)
    assert page.problems == []
