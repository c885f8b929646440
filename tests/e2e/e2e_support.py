"""Helpers for the browser tests: the browser's location and flags, and seeded referrals."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service_support import variant

CHROMIUM = Path(os.environ.get("TRIAGE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SEED = 40
MARKUP_PLATFORM = "<img src=x onerror=alert(1)>"
MARKUP_PRIORITY = "<b>x</b>"


def _shift(value: Any, delta: timedelta) -> Any:
    """Every datetime in a referral (receipt, incident, uploads, IP events) moved by ``delta``,
    so the story stays consistent when the referral is made recent."""
    if isinstance(value, dict):
        return {
            k: (
                (datetime.fromisoformat(v) + delta).isoformat()
                if k in {"received_at", "occurred_at", "uploaded_at", "at"} and isinstance(v, str)
                else _shift(v, delta)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    return value


def recent(doc: dict[str, Any], age: timedelta) -> dict[str, Any]:
    """``doc`` as if received ``age`` ago."""
    target = datetime.now(UTC) - age
    return _shift(doc, target - datetime.fromisoformat(doc["received_at"]))


def seed_documents(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Referrals received in the last ten days, oldest first; every ninth from industry and
    near its deadline (21 days after receipt), so some countdowns are short."""
    out = []
    for i, doc in enumerate(raw):
        doc = variant(doc, "e2e")
        if i % 9 == 4:
            doc["source"] = "industry"
            out.append(recent(doc, timedelta(days=19, hours=i)))
        else:
            out.append(recent(doc, timedelta(hours=6 * (len(raw) - i))))
    return out


def markup_referral(doc: dict[str, Any]) -> dict[str, Any]:
    """A referral whose free-form fields hold markup."""
    out = recent(variant(doc, "markup"), timedelta(hours=1))
    out["source_priority"] = MARKUP_PRIORITY
    out["incident"] = {**out["incident"], "platform": MARKUP_PLATFORM}
    return out
