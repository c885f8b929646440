"""Keyed pseudonyms for identifiers, IPs and group identifiers (HMAC-SHA256).

The same raw value gives the same pseudonym for the same key, so referrals about one
suspect link across runs; without the key a pseudonym cannot be reversed or recomputed.
Values are normalised per kind first (case, spacing, phone punctuation, IP notation) so
trivial spelling differences do not break linking. The kind is part of the digest input,
so an e-mail and a screen name that happen to be equal strings do not collide.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re

PREFIX = "pn1:"
_PHONE_KEEP = re.compile(r"[^0-9+]")


def is_pseudonym(value: str) -> bool:
    return value.startswith(PREFIX) and len(value) == len(PREFIX) + 64


def normalise(kind: str, value: str) -> str:
    """Canonical form of a raw value before hashing; raises ValueError with no value echoed."""
    v = value.strip()
    if kind == "ip":
        try:
            return ipaddress.ip_address(v).compressed
        except ValueError:
            raise ValueError("not a valid IPv4 or IPv6 address") from None
    if kind == "phone":
        digits = _PHONE_KEEP.sub("", v)
        if not any(c.isdigit() for c in digits):
            raise ValueError("phone number holds no digits")
        return digits
    if kind in {"email", "screen_name", "esp_user_id", "profile_url", "group"}:
        return v.casefold()
    return v


class Pseudonymiser:
    """HMAC-SHA256 with a secret key; ``pseudonym(kind, raw)`` -> ``pn1:<64 hex>``."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("pseudonym key must be at least 16 bytes")
        self._key = key

    def pseudonym(self, kind: str, raw: str) -> str:
        canon = normalise(kind, raw)
        mac = hmac.new(self._key, f"{kind}\x1f{canon}".encode(), hashlib.sha256)
        return PREFIX + mac.hexdigest()

    def __repr__(self) -> str:  # never show the key
        return "Pseudonymiser(<key hidden>)"
