"""When the data behind a referral may be deleted: the data-preservation deadline.

Rules (``domain.md`` §3), applied to what the referral tells us:

* ``industry`` (Canadian providers under the Mandatory Reporting Act s.4): preserved for
  21 days after notification; the referral's receipt is taken as the notification.
* ``ncmec`` (US providers): 90 days before the REPORT Act (in force 2024-05-07), one year
  after it, counted from receipt (the provider's own report is earlier, so this is a
  late estimate: the true deadline is no later than this).
* other sources: no statutory deadline known, so ``None``.

The earliest applicable deadline is the one that counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

REPORT_ACT = datetime(2024, 5, 7, tzinfo=UTC)
INDUSTRY_DAYS = 21
US_DAYS_BEFORE = 90
US_DAYS_AFTER = 365


def retention_deadline(source: str, received_at: datetime) -> datetime | None:
    if source == "industry":
        return received_at + timedelta(days=INDUSTRY_DAYS)
    if source == "ncmec":
        days = US_DAYS_AFTER if received_at >= REPORT_ACT else US_DAYS_BEFORE
        return received_at + timedelta(days=days)
    return None
