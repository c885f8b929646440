"""Fake values and producer styles for the referral documents.

Identifiers are obviously fake and safe to publish: e-mails at example.com/.org/.net,
phones in the fictional +1-NXX-555-01xx range, IPs only from the documentation ranges
(192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32). Free text is a bland
placeholder. Producers differ in style: some write every field with explicit nulls, some
omit nulls, some omit defaults too; timestamps carry mixed UTC offsets.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from training.synthetic import population as pop
from training.synthetic import story as st
from training.synthetic.stream import Simulation

_WORDS = ("user", "member", "player", "account", "someone", "anon", "guest", "viewer")
_TLDS = ("com", "org", "net")
_V4 = ("192.0.2.", "198.51.100.", "203.0.113.")
_KINDS = ("image", "video", "other")
_CITIES = {
    "ON": ("Toronto", "Ottawa", "Mississauga", "Hamilton", "London"),
    "QC": ("Montréal", "Québec", "Laval", "Gatineau"),
    "BC": ("Vancouver", "Surrey", "Victoria"),
    "AB": ("Calgary", "Edmonton", "Red Deer"),
    "MB": ("Winnipeg", "Brandon"),
    "SK": ("Saskatoon", "Regina"),
    "NS": ("Halifax",),
    "NB": ("Moncton", "Saint John"),
    "NL": ("St. John's",),
    "PE": ("Charlottetown",),
    "YT": ("Whitehorse",),
    "NT": ("Yellowknife",),
    "NU": ("Iqaluit",),
}
_NOTHING = object()
# what a "style 2" producer leaves out because the contract's default says the same
_DEFAULTS = {
    "bsi_included": False,
    "school_known": False,
    "prior_reports": 0,
    "associated_accounts": 0,
    "channel": "unknown",
    "event": "unknown",
    "age_band": "unknown",
    "hash_match": "unchecked",
    "relevance": "reported",
}


def iso(seconds: np.ndarray, offset_idx: np.ndarray) -> list[str]:
    """ISO 8601 strings with the given UTC offsets (index into ``population.OFFSETS``)."""
    if len(seconds) == 0:
        return []
    local = np.asarray(seconds, dtype=np.int64) + pop.OFFSET_SECONDS[offset_idx].astype(np.int64)
    text = np.datetime_as_string(local.astype("datetime64[s]"), unit="s")
    return np.char.add(text, np.asarray(pop.OFFSETS)[offset_idx]).tolist()


def compact(d: dict[str, Any], style: int) -> dict[str, Any]:
    """One object as a producer of ``style`` writes it: 0 everything, 1 without nulls,
    2 also without empty lists and default values (shallow: nested objects are compacted
    where they are built, which keeps this off the hot path)."""
    if style == 0:
        return d
    if style == 1:
        return {k: v for k, v in d.items() if v is not None}
    return {
        k: v for k, v in d.items() if v is not None and v != [] and _DEFAULTS.get(k, _NOTHING) != v
    }


def tri(x: int) -> bool | None:
    return None if x < 0 else bool(x)


class Identities:
    """Fake identifier values, unique per stream (a namespace from the stream's arguments)."""

    def __init__(self, sim: Simulation) -> None:
        tag = f"{sim.seed}:{sim.start}:{sim.scenario.name}:{sim.n}"
        h = zlib.crc32(tag.encode())
        self.ns = np.base_repr(h % 36**4, 36).lower().rjust(4, "0")
        self.h = h
        self.slugs = pop.platforms().slugs

    def email(self, sid: int) -> str:
        return f"{_WORDS[sid % 8]}.{self.ns}{sid:05x}@example.{_TLDS[sid % 3]}"

    def phone(self, sid: int) -> str:
        k = (self.h + sid) % 80_000
        return f"+1-{200 + k // 100}-555-01{k % 100:02d}"

    def screen_name(self, sid: int, p: int) -> str:
        return f"{_WORDS[(sid + p) % 8]}_{self.ns}{sid:x}_{p % 100:02d}"

    def user_id(self, sid: int, p: int) -> str:
        return f"{(p % 100) + 10}{self.h % 9973:04d}{sid:08d}"

    def profile(self, sid: int, p: int) -> str:
        return f"https://{self.slugs[p] if p >= 0 else 'tips'}.example.net/u/{self.user_id(sid, p)}"

    def device(self, sid: int) -> str:
        return f"device-{self.ns}-{sid:07x}"

    def ipv6(self, sid: int, slot: int) -> str:
        return f"2001:db8:{self.h & 0x7FFF:x}:{sid >> 16 & 0xFFFF:x}:{sid & 0xFFFF:x}::{slot + 1:x}"

    @staticmethod
    def shared_ip(index: int) -> str:
        """A proxy exit or carrier-NAT address: 762 IPv4, then IPv6 in 2001:db8:ffff::/48."""
        if index < 3 * 254:
            return f"{_V4[index // 254]}{index % 254 + 1}"
        return f"2001:db8:ffff:{index - 3 * 254:x}::1"


def location(
    kind: int, prov: int, country: int, verified: bool | None, city: bool, style: int
) -> dict[str, Any]:
    if kind == st.CA:
        region = st.PROVINCES[prov]
        cities = _CITIES[region]
        loc = {
            "country": "CA",
            "region": region,
            "city": cities[prov % len(cities)] if city else None,
            "verified": verified,
        }
    else:
        code = "A1" if kind == st.PROXY else st.COUNTRIES[country]
        loc = {"country": code, "region": None, "city": None, "verified": verified}
    return compact(loc, style)
