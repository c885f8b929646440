"""The case view on the reviewer page, in headless Chromium against the shared real server
(``conftest.py``): the open cases list, a case's members, links and route, the related
referrals on the referral view, and one package decision recorded for every member
(visible in ``GET /referrals/{id}``). Runs after ``test_reviewer_page.py`` (file order),
so its new referrals never change what that file's screenshots show.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from test_reviewer_page import sign_in

pytestmark = pytest.mark.timeout(900)


def linked(n: int) -> list[dict[str, Any]]:
    """``n`` referrals about one suspect (one verified e-mail), received in the last hours."""
    tag = uuid.uuid4().hex[:10]
    now = datetime.now(UTC)
    return [
        {
            "referral_id": f"case-e2e-{tag}-{i}",
            "received_at": (now - timedelta(hours=n - i)).isoformat(),
            "source": "cybertip",
            "incident": {"type": "online_enticement", "platform": f"ExamplePlatform{i % 2}"},
            "subjects": [
                {
                    "identifiers": [
                        {"kind": "email", "value": f"suspect.{tag}@example.com", "verified": True}
                    ],
                    "location": {"country": "CA", "region": "MB", "city": "Winnipeg"},
                }
            ],
        }
        for i in range(n)
    ]


def test_case_view_and_package_decision(page: Page, site) -> None:
    server, _ = site
    docs = linked(3)
    ids = [d["referral_id"] for d in docs]
    with server.client("scorer") as c:
        assert c.post("/score", json=docs).status_code == 200
    with server.client("reviewer") as c:
        cid = c.get(f"/referrals/{ids[0]}").json()["scores"][-1]["score"]["case_id"]
    sign_in(page, server)
    case_row = page.locator(f'#cases-body tr[data-case-id="{cid}"]')
    expect(case_row).to_be_visible()
    expect(case_row).to_contain_text("3 (3 awaiting)")
    case_row.click()
    expect(page.locator("#case-detail")).to_be_visible()
    expect(page.locator("#detail")).to_be_hidden()
    expect(page.locator("#case-id")).to_have_text(cid)
    expect(page.locator("#case-members tr[data-referral-id]")).to_have_count(3)
    expect(page.locator("#case-linked-by")).to_contain_text("verified_email (3)")
    expect(page.locator("#case-reasons")).to_contain_text("3 referrals, same verified e-mail")
    expect(page.locator("#case-route")).to_contain_text("Winnipeg")
    expect(page.locator("#case-evidence li").first).to_be_visible()

    page.select_option("#package-viability", "lead")
    page.click("#package-submit")
    expect(page.locator("#package-result")).to_contain_text("Recorded: 3 decisions")
    expect(page.locator("#case-members td.state")).to_have_text(["decided"] * 3)
    with server.client("reviewer") as c:
        records = [c.get(f"/referrals/{i}").json() for i in ids]
    for record in records:
        (decision,) = record["decisions"]
        assert decision["viability"] == "lead"
        assert decision["reviewer"] == "test-reviewer"
        assert cid in decision["reason"] and "route confirmed" in decision["reason"]
    assert not page.problems  # type: ignore[attr-defined]


def test_referral_view_shows_its_related_referrals(page: Page, site) -> None:
    server, _ = site
    docs = linked(2)
    for d in docs:  # an escalated source, placed at the top of the queue
        d["source"] = "rcmp_division"
        d["escalation_reason"] = "SYNTHETIC escalation"
    with server.client("scorer") as c:
        assert c.post("/score", json=docs).status_code == 200
    sign_in(page, server)
    row = page.locator(f'#queue-body tr[data-referral-id="{docs[1]["referral_id"]}"]')
    expect(row).to_be_visible()
    row.click()
    related = page.locator("#detail-related")
    expect(related).to_contain_text(docs[0]["referral_id"])
    expect(related).to_contain_text("verified_email (2)")
    page.locator("#detail-related .case-open").click()
    expect(page.locator("#case-members tr[data-referral-id]")).to_have_count(2)
    page.click("#case-close")
    expect(page.locator("#detail")).to_be_visible()
    assert not page.problems  # type: ignore[attr-defined]
