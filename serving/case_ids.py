"""Opaque case ids for the service: a keyed digest of the case's founding referral.

The batch run names a case ``case:`` and its earliest member's referral id, which is
readable but tells whoever sees it that an earlier referral (maybe from another source)
shares identifiers with this one. The service's ids are ``case-`` and 24 hex digits of
the pseudonym key's HMAC of the founding (earliest) referral's id: the same on every
restart and every replica that holds the key, not reversible without it, and still
pointing at one case. The scorer role never sees them (``POST /score`` answers
``case_id: null``); reviewers see them on ``GET /referrals``, ``/queue`` and ``/cases``.
"""

from __future__ import annotations

from collections.abc import Callable

from features.pseudonyms import PREFIX, Pseudonymiser

#: What a service case id looks like (``GET /cases/{id}`` refuses anything else).
CASE_ID_PATTERN = r"^case-[0-9a-f]{24}$"
_KIND = "case"


def case_namer(pseudonymiser: Pseudonymiser) -> Callable[[str], str]:
    """Root referral id -> opaque case id, with the service's pseudonym key."""

    def name(root: str) -> str:
        return "case-" + pseudonymiser.pseudonym(_KIND, root)[len(PREFIX) : len(PREFIX) + 24]

    return name
