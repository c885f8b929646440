"""The blind second review's draw (contract §5): which referrals get an independent review
made without the model's tier, probabilities or reasons.

Keyed and reproducible: the draw is an HMAC-SHA256 of the referral id under a secret key,
read as a number in [0, 1) and compared with the share. The same id and key always give
the same answer (a re-scored referral stays drawn or not; an audit can recompute it),
while nobody without the key can tell in advance which referrals will be drawn, so the
sample cannot be gamed. The key is the service's (pseudonym) key, with its own domain
label so the draw is independent of the pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac

DEFAULT_SHARE = 0.03
_DOMAIN = b"blind-second-review\x1f"


def draw_value(referral_id: str, key: bytes) -> float:
    """The referral's place in [0, 1) for the draw (uniform over ids)."""
    mac = hmac.new(key, _DOMAIN + referral_id.encode(), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") / 2.0**64


def drawn_for_blind_review(referral_id: str, key: bytes, share: float = DEFAULT_SHARE) -> bool:
    """True when the referral is drawn for a blind second review at ``share``.

    The caller leaves safety-floor referrals out of the blind sample (their first review
    must not wait for anything), and never delays the first review of a drawn one."""
    if not 0.0 <= share <= 1.0:
        raise ValueError("share: must be between 0 and 1")
    return draw_value(referral_id, key) < share
