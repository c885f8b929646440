"""Identifiers typed into a reviewer's free-text reason are replaced before it is stored.

A referral's own free text never reaches the store (``narrative`` is dropped,
``escalation_reason`` becomes a marker); a reviewer's override reason must be kept, because
it is the reason for a decision, but an identifier typed into it (an e-mail address, a
phone number, an IP address, a link, an @handle) would be a raw identifier in the store
and in the hash-chained log forever. Each is replaced by a marker naming its kind, so the
sentence still reads ("seen with [email] before"). Pattern-based: it catches the usual
shapes, not every possible identifier; ``docs/privacy.md`` says what stays raw.
"""

from __future__ import annotations

import functools
import re

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")),
    ("link", re.compile(r"\b(?:https?://|www\.)\S+", re.IGNORECASE)),
    (
        "ip",
        re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\b", re.I),
    ),
    ("phone", re.compile(r"(?<![\w])\+?\d[\d ()./-]{6,}\d\b")),
    ("handle", re.compile(r"(?<![\w])@\w{2,}")),
)


def redact_identifiers(text: str | None) -> str | None:
    """``text`` with identifier-shaped substrings replaced by ``[email]``, ``[phone]``, ..."""
    if not text:
        return text
    for kind, pattern in _PATTERNS:
        text = pattern.sub(functools.partial(_replace, kind), text)
    return text


def _replace(kind: str, match: re.Match[str]) -> str:
    """A phone number has at least 9 digits: dates and counts are left alone."""
    if kind == "phone" and sum(c.isdigit() for c in match.group()) < 9:
        return match.group()
    return f"[{kind}]"
