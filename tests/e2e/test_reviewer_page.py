"""The reviewer page in headless Chromium against a real server (``conftest.py``).

Tests share one seeded server and run in file order: the screenshots are taken before
any decision changes the queue, and the markup referral is examined before the override
test may decide it.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from e2e_support import MARKUP_PLATFORM, MARKUP_PRIORITY, recent
from playwright.sync_api import Page, expect
from service_support import KEY, variant

from features.pseudonyms import Pseudonymiser
from serving.store import Store
from serving.web_routes import CSP

pytestmark = pytest.mark.timeout(
    900
)  # the first test also pays for the session fixtures (a trained model, a server)

SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
REVIEWER = "Reviewer Ada (badge 4471)"


def shoot(page: Page, path: Path) -> None:
    """A screenshot reduced to 64 colours (a third of the bytes; the page is flat colours)."""
    from PIL import Image

    page.screenshot(path=str(path))
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(64, Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def sign_in(page: Page, server, token: str | None = None, name: str = REVIEWER) -> None:
    page.goto(server.url + "/")
    page.fill("#reviewer-name", name)
    page.fill("#token", token or server.tokens["reviewer"])
    page.click("#signin-button")


def signed_in(page: Page, server) -> None:
    sign_in(page, server)
    expect(page.locator("#queue-body tr").first).to_be_visible()


def row(page: Page, referral_id: str):
    return page.locator(f'#queue-body tr[data-referral-id="{referral_id}"]')


def queue(server, **params) -> list[dict]:
    with server.client("reviewer") as c:
        return c.get("/queue", params={"limit": 1000, **params}).json()["items"]


def test_the_page_loads_without_a_token_and_the_api_still_needs_one(page, site):
    server, _ = site
    for path in ("/", "/web/app.js", "/web/app.css"):
        r = httpx.get(server.url + path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    for path in ("/queue", "/drift", "/referrals/x"):
        assert httpx.get(server.url + path).status_code == 401, path
    response = page.goto(server.url + "/")
    assert response is not None and response.status == 200
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#work")).to_be_hidden()


def test_a_wrong_token_is_refused(page, site):
    server, _ = site
    sign_in(page, server, token="trg_not-a-real-token")
    expect(page.locator("#signin-error")).to_contain_text("refused this token")
    expect(page.locator("#work")).to_be_hidden()
    assert page.locator("#queue-body tr").count() == 0
    assert page.evaluate("sessionStorage.getItem('triage.token')") is None
    sign_in(page, server, token=server.tokens["scorer"])
    expect(page.locator("#signin-error")).to_contain_text("may not review")
    expect(page.locator("#work")).to_be_hidden()


def test_queue_and_referral_screenshots(page, site, tmp_path):
    """Screenshots for ``docs/``: written there with ``TRIAGE_SCREENSHOTS=1``, else to a
    temporary folder (so the path is exercised on every run)."""
    server, markup_id = site
    out = SCREENSHOTS if os.environ.get("TRIAGE_SCREENSHOTS") == "1" else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    signed_in(page, server)
    expected = [i["referral_id"] for i in queue(server)]
    shown = page.locator("#queue-body tr").evaluate_all(
        "rows => rows.map(r => r.dataset.referralId)"
    )
    assert shown == expected, "the page keeps the service's order: highest priority first"
    expect(page.locator("#queue-body td.left.short").first).to_be_visible()
    shoot(page, out / "queue.png")
    first = next(i for i in expected if i != markup_id)
    row(page, first).click()
    expect(page.locator("#detail-id")).to_have_text(first)
    expect(page.locator("#detail-chart rect").first).to_be_visible()
    page.set_viewport_size({"width": 1400, "height": 1500})  # down to the chart
    shoot(page, out / "referral.png")
    assert (out / "referral.png").stat().st_size > 10_000
    assert page.problems == [], "no CSP violation or script error"


def test_markup_in_a_referral_is_shown_as_text(page, site):
    server, markup_id = site
    signed_in(page, server)
    row(page, markup_id).click()
    detail = page.locator("#detail")
    expect(page.locator("#detail-id")).to_have_text(markup_id)
    expect(detail).to_contain_text(MARKUP_PLATFORM)
    expect(detail).to_contain_text(MARKUP_PRIORITY)
    assert page.locator("img").count() == 0, "no element was made from the platform"
    assert page.locator("#detail b").count() == 0, "nor from the priority code"
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    assert page.dialogs == []
    assert page.problems == []


def test_the_queue_shows_the_aged_order_and_the_doubt_flag(page, site):
    """The rows keep the service's order at the read (priority now), which is not the
    order at scoring: seeded industry referrals near their preservation deadline move
    up, and say why. High and routine referrals whose urgency set holds "immediate"
    carry the doubt flag, in the row and in the referral view."""
    server, _ = site
    signed_in(page, server)
    items = queue(server)
    shown = page.locator("#queue-body tr").evaluate_all(
        "rows => rows.map(r => r.dataset.referralId)"
    )
    assert shown == [i["referral_id"] for i in items]
    now = [i["priority_now"] for i in items]
    assert now == sorted(now, reverse=True)
    at_scoring = sorted(items, key=lambda i: (-i["priority"], i["received_at"], i["referral_id"]))
    assert [i["referral_id"] for i in at_scoring] != shown, "ageing changed nothing"
    near = [i for i in items if "preservation deadline in" in (i["aged_because"] or "")]
    assert near, "the seed holds industry referrals within 72 h of their deadline"
    for item in near:
        cells = row(page, item["referral_id"]).locator("td")
        expect(cells.nth(2)).to_have_text(item["aged_because"])
        expect(cells.nth(1)).to_have_text(f"{item['priority_now']:.1f}")
        # above every referral of its tier that was not aged by a deadline
        same_tier = [
            j["priority_now"]
            for j in items
            if j["score"]["tier"] == item["score"]["tier"]
            and "deadline" not in (j["aged_because"] or "")
        ]
        assert all(item["priority_now"] > p for p in same_tier)

    def flagged(i: dict) -> bool:
        return i["score"]["cannot_rule_out_immediate"] and i["score"]["tier"] != "immediate"

    doubt = [i for i in items if flagged(i)]
    calm = [i for i in items if not flagged(i)]
    assert doubt and calm, "the seeded queue holds flagged and unflagged referrals"
    for item in doubt:
        assert "immediate" in item["score"]["urgency_set"]
        expect(row(page, item["referral_id"]).locator(".tag.doubt")).to_have_text(
            "cannot rule out immediate"
        )
    for item in calm:
        expect(row(page, item["referral_id"]).locator(".tag.doubt")).to_have_count(0)
    row(page, doubt[0]["referral_id"]).click()
    expect(page.locator("#detail-id")).to_have_text(doubt[0]["referral_id"])
    expect(page.locator("#detail .detail-head .tag.doubt")).to_be_visible()
    expect(page.locator("#detail-urgency-set")).to_contain_text(
        ", ".join(doubt[0]["score"]["urgency_set"])
    )
    expect(page.locator("#detail-aged")).to_contain_text("Priority now")
    row(page, near[0]["referral_id"]).click()
    expect(page.locator("#detail-aged")).to_contain_text(near[0]["aged_because"])
    assert page.problems == []


def test_override_the_top_referral_then_the_next_one_opens(page, site):
    server, _ = site
    top = queue(server)[:2]
    first, second = top[0]["referral_id"], top[1]["referral_id"]
    new_tier = "routine" if top[0]["score"]["tier"] != "routine" else "high"
    signed_in(page, server)
    assert "trg_" not in page.url
    page.locator("#queue-body tr").first.click()
    expect(page.locator("#detail-id")).to_have_text(first)

    page.keyboard.press("o")
    expect(page.locator("#override-form")).to_be_visible()
    page.select_option("#override-tier", new_tier)
    page.click("#override-submit")
    expect(page.locator("#decision-error")).to_contain_text("needs a reason")

    page.fill("#override-reason", "x" * 2001)  # the client does not check length: the server does
    page.click("#override-submit")
    expect(page.locator("#decision-error")).to_contain_text("your own assessment")
    page.select_option("#override-assessed", "routine")  # nothing is pre-selected
    page.click("#override-submit")
    expect(page.locator("#decision-error")).to_contain_text("refused the decision")
    expect(page.locator("#decision-error")).to_contain_text("reason")

    page.fill("#override-reason", "Victim identified and safe; routine follow-up.")
    page.click("#override-submit")
    expect(page.locator("#detail-id")).to_have_text(second)
    expect(row(page, first)).to_have_count(0)
    expect(row(page, second)).to_have_class("selected")

    with Store(server.settings.store_url()) as store:
        record = store.referral(first)
    assert record is not None
    [d] = record.decisions
    assert (d.decision, d.tier, d.reviewer) == ("override", new_tier, "test-reviewer")
    assert (d.urgency_assessed, d.review) == ("routine", "first")
    assert d.recorded_by == "test-reviewer", "the reviewer recorded is the token's person"
    assert d.reason == "Victim identified and safe; routine follow-up."
    assert d.score_id == record.scores[-1].id


def test_keyboard_confirm_next_and_previous(page, site):
    server, _ = site
    signed_in(page, server)
    ids = [i["referral_id"] for i in queue(server)][:3]
    page.keyboard.press("n")
    expect(page.locator("#detail-id")).to_have_text(ids[0])
    page.keyboard.press("j")
    expect(page.locator("#detail-id")).to_have_text(ids[1])
    page.keyboard.press("k")
    expect(page.locator("#detail-id")).to_have_text(ids[0])
    page.keyboard.press("c")  # asks for the reviewer's own assessment, records nothing
    expect(page.locator("#decision-error")).to_contain_text("your own assessment")
    page.keyboard.press("3")  # one key: confirm, assessing "routine"
    expect(page.locator("#detail-id")).to_have_text(ids[1])
    with Store(server.settings.store_url()) as store:
        record = store.referral(ids[0])
    assert record is not None
    [d] = record.decisions
    assert d.decision == "confirm" and d.tier == record.scores[-1].score.tier
    assert (d.urgency_assessed, d.review) == ("routine", "first")
    expect(page.locator("#help")).to_contain_text("confirm")


def test_refresh_keeps_the_selection_and_the_scroll(page, site):
    server, _ = site
    signed_in(page, server)
    page.set_viewport_size({"width": 1400, "height": 420})
    rows = page.locator("#queue-body tr")
    target = rows.nth(12)
    target.click()
    chosen = target.get_attribute("data-referral-id")
    scroller = page.locator("#queue-scroll")
    before = scroller.evaluate("e => e.scrollTop")
    assert before > 0, "the chosen row is below the fold"
    page.click("#refresh")
    expect(page.locator("#queue-status")).to_contain_text("refreshed")
    page.wait_for_timeout(300)
    assert scroller.evaluate("e => e.scrollTop") == before
    expect(row(page, chosen)).to_have_class("selected")


def test_filters_by_tier_and_source(page, site):
    server, _ = site
    signed_in(page, server)
    page.select_option("#filter-source", "industry")
    expected = [i["referral_id"] for i in queue(server, source="industry")]
    expect(page.locator("#queue-body tr")).to_have_count(len(expected))
    page.select_option("#filter-tier", "routine")
    expected = [i["referral_id"] for i in queue(server, source="industry", tier="routine")]
    expect(page.locator("#queue-body tr")).to_have_count(len(expected))


def test_drift_and_degraded_answers_are_visible(page, site, labelled_file):
    server, _ = site
    from serving.scoring import Scorer

    doc = json.loads(labelled_file.read_text().split("\n", 1)[0])
    doc.pop("outcome", None)
    doc.pop("_oracle", None)
    doc = recent(variant(doc, "rules"), timedelta(minutes=5))
    with Store(server.settings.store_url()) as store:
        scorer = Scorer(store, Pseudonymiser(KEY.encode()), None)
        [score] = scorer.score([doc], "e2e-degraded").scores
    assert score.degraded

    drift = server.settings.reports_dir / "drift" / "latest.json"
    signed_in(page, server)
    expect(page.locator("#drift-banner")).to_be_hidden()  # no report yet: 404, nothing shown
    expect(row(page, doc["referral_id"]).locator(".tag.degraded")).to_be_visible()

    drift.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "generated_at": "2026-01-05T06:00:00+00:00",
        "drift_detected": True,
        "flagged": {"platform": ["<i>NewApp</i>"]},
    }
    drift.write_text(json.dumps(report))
    try:
        page.reload()  # signed in still: the token is in this tab's session storage
        expect(page.locator("#drift-banner")).to_contain_text("Drift detected")
        expect(page.locator("#drift-banner")).to_contain_text("<i>NewApp</i>")
        assert page.locator("#drift-banner i").count() == 0
    finally:
        shutil.rmtree(drift.parent)


def test_a_rescored_referral_shows_who_decided_before(page, site, labelled_file):
    """Decided, then re-scored (back on the queue): its decisions table names the
    reviewer who decided (the token's person), and the page's decision on the new score
    is bound to the score it shows."""
    server, _ = site
    doc = json.loads(labelled_file.read_text().split("\n", 2)[1])
    doc.pop("outcome", None)
    doc.pop("_oracle", None)
    doc = recent(variant(doc, "redo"), timedelta(minutes=3))
    with server.client("scorer") as c:
        score = c.post("/score", json=doc).json()
    bo = server.person_token("reviewer", "Reviewer Bo (badge 12)")
    with server.client(token=bo) as c:
        shown = c.get(f"/referrals/{doc['referral_id']}").json()["scores"][-1]["id"]
        fb = {
            "referral_id": doc["referral_id"],
            "score_id": shown,
            "decision": "confirm",
            "tier": score["tier"],
            "viability": max(score["viability"], key=score["viability"].get),
            "model_version": score["model_version"],
        }
        assert c.post("/feedback", json=fb).status_code == 201
    with server.client("scorer") as c:
        assert c.post("/score", json=doc).status_code == 200  # back on the queue
    signed_in(page, server)
    row(page, doc["referral_id"]).click()
    expect(page.locator("#detail-id")).to_have_text(doc["referral_id"])
    table = page.locator("#detail-decisions")
    expect(table).to_contain_text("Reviewer Bo (badge 12)")
    page.keyboard.press("2")
    expect(row(page, doc["referral_id"])).to_have_count(0)
    with Store(server.settings.store_url()) as store:
        record = store.referral(doc["referral_id"])
    assert record is not None and len(record.scores) == 2
    assert [(d.reviewer, d.score_id) for d in record.decisions] == [
        ("Reviewer Bo (badge 12)", record.scores[0].id),
        ("test-reviewer", record.scores[1].id),
    ]
    assert record.scores[0].referral is not None, "the first version is kept"
    assert page.problems == []


def test_a_decision_on_a_superseded_score_shows_the_new_one(page, site, labelled_file):
    """The reviewer has score 1 on screen; the referral is re-scored meanwhile; their
    confirm is refused (409) and the page shows the new score to review again."""
    server, _ = site
    doc = json.loads(labelled_file.read_text().split("\n", 3)[2])
    doc.pop("outcome", None)
    doc.pop("_oracle", None)
    doc = recent(variant(doc, "race"), timedelta(minutes=2))
    with server.client("scorer") as c:
        assert c.post("/score", json=doc).status_code == 200
    signed_in(page, server)
    row(page, doc["referral_id"]).click()
    expect(page.locator("#detail-id")).to_have_text(doc["referral_id"])
    with server.client("scorer") as c:
        assert c.post("/score", json=doc).status_code == 200  # a second version meanwhile
    page.keyboard.press("2")
    expect(page.locator("#decision-error")).to_contain_text("newer score")
    with Store(server.settings.store_url()) as store:
        record = store.referral(doc["referral_id"])
    assert record is not None and record.decisions == []
    page.keyboard.press("2")  # now on the score shown
    expect(row(page, doc["referral_id"])).to_have_count(0)
    with Store(server.settings.store_url()) as store:
        record = store.referral(doc["referral_id"])
    assert record is not None
    assert [d.score_id for d in record.decisions] == [record.scores[-1].id]
    assert page.problems == []


def test_the_page_signs_out_after_idle_time(page, site):
    server, _ = site
    page.clock.install()
    signed_in(page, server)
    page.clock.fast_forward("10:00")
    page.mouse.move(5, 5)  # activity resets the idle time
    page.clock.fast_forward("10:00")
    expect(page.locator("#work")).to_be_visible()
    page.clock.fast_forward("16:00")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#signin-error")).to_contain_text("without activity")
    assert page.evaluate("sessionStorage.getItem('triage.token')") is None


def test_every_read_by_the_browser_is_in_the_access_log(page, site, monkeypatch, capsys):
    """Last in the file: every referral the browser opened shows up in ``triage audit
    access --referral ID`` with the page's token's person and the client address."""
    from triage.cli import main as triage

    server, _ = site
    signed_in(page, server)
    first = queue(server)[0]["referral_id"]
    row(page, first).click()
    expect(page.locator("#detail-id")).to_have_text(first)
    monkeypatch.setenv("TRIAGE_HOME", str(server.home))
    monkeypatch.setenv("TRIAGE_PSEUDONYM_KEY", KEY)
    capsys.readouterr()
    assert triage(["audit", "access", "--referral", first]) == 0
    lines = capsys.readouterr().out.splitlines()
    reads = [line for line in lines if "read_referral" in line and "test-reviewer" in line]
    pages = [line for line in lines if "read_queue" in line and "test-reviewer" in line]
    assert reads and pages, lines
    assert all("127.0.0.1" in line for line in reads + pages)
    with Store(server.settings.store_url()) as store:
        opened = {
            rid
            for r in store.access_recent(100_000)
            if r.action == "read_referral"
            for rid in r.referral_ids
        }
        for rid in opened:  # every referral the browser tests opened, as the command lists it
            assert any(r.action == "read_referral" for r in store.access_for(rid))
        assert store.verify_access().ok
