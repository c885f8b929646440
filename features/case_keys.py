"""A referral's linking keys for cases (:mod:`features.case_index` groups by them).

Person keys (e-mail, phone, device id) hold across platforms; account keys (ESP user id,
screen name, profile URL) carry their platform; IPs carry the event's time and never a
possible proxy. Pseudonymised keys only (``features.flatten.key_sightings``).
"""

from __future__ import annotations

from dataclasses import dataclass

from features.contract import Referral
from features.flatten import key_sightings
from features.linking import platform_key

NS = 10**9
DAY = 86_400 * NS
PERSON_KINDS = frozenset({"email", "phone", "device_id"})
ACCOUNT_KINDS = frozenset({"esp_user_id", "screen_name", "profile_url"})


@dataclass(frozen=True)
class Sighting:
    """One referral's sighting of a linking key (what the rules need, nothing raw)."""

    rid: str
    t: int  # receipt, ns since the epoch
    at: int  # the IP event's time (receipt when not given); receipt for other kinds
    verified: bool
    persons: frozenset[str]  # the referral's other person keys (for the hub rule)

    @property
    def order(self) -> tuple[int, str]:
        return (self.t, self.rid)


def ns_of(dt: object) -> int:
    return int(dt.timestamp() * NS)  # type: ignore[attr-defined]


def case_keys(ref: Referral) -> dict[str, tuple[str, Sighting]]:
    """The referral's linking keys -> (link kind, sighting). Keys carry their kind and, for
    account kinds, the platform, so equal digests of different kinds never meet."""
    t = ns_of(ref.received_at)
    plat = platform_key(ref.incident.platform)
    raw: list[tuple[str, str, bool, int]] = []
    for k in key_sightings(ref):
        if k.family == "ident" and k.kind in PERSON_KINDS:
            raw.append((k.kind, f"{k.kind}|{k.key}", k.verified, t))
        elif k.family == "ident" and k.kind in ACCOUNT_KINDS:
            raw.append((k.kind, f"{k.kind}|{plat}|{k.key}", k.verified, t))
        elif k.family == "ip" and not k.proxy:
            raw.append(("ip", f"ip|{k.key}", False, ns_of(k.at) if k.at else t))
    persons = frozenset(key for kind, key, _, _ in raw if kind in PERSON_KINDS)
    out: dict[str, tuple[str, Sighting]] = {}
    for kind, key, verified, at in raw:
        prev = out.get(key)
        if prev is not None and kind == "ip" and prev[1].at >= at:
            continue  # one sighting per key and referral: the latest IP event
        ver = verified or (prev is not None and prev[1].verified)
        out[key] = (kind, Sighting(ref.referral_id, t, at, ver, persons - {key}))
    return out
