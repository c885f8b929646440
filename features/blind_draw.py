"""The blind second review's draw (contract §5): which referrals get an independent review
made without the model's tier, probabilities or reasons.

Keyed and reproducible: the draw is the referral id's keyed hash (the service's
:class:`~features.pseudonyms.Pseudonymiser`, under a kind of its own so it is independent
of every pseudonym) read as a number in [0, 1) and compared with the share. The same id
and key always give the same answer (a re-scored referral stays drawn or not; an audit
can recompute it), while nobody without the key can tell in advance which referrals
will be drawn, so the sample cannot be steered.
"""

from __future__ import annotations

from features.pseudonyms import PREFIX, Pseudonymiser

DEFAULT_SHARE = 0.03
KIND = "blind_review_draw"


def draw_value(referral_id: str, pseudonymiser: Pseudonymiser) -> float:
    """The referral's place in [0, 1) for the draw (uniform over ids)."""
    digest = pseudonymiser.pseudonym(KIND, referral_id).removeprefix(PREFIX)
    return int(digest[:16], 16) / 2.0**64


def drawn_for_blind_review(
    referral_id: str, pseudonymiser: Pseudonymiser, share: float = DEFAULT_SHARE
) -> bool:
    """True when the referral is drawn for a blind second review at ``share``.

    The caller leaves safety-floor referrals out of the blind sample (their first review
    must not wait for anything), and never delays the first review of a drawn one."""
    if not 0.0 <= share <= 1.0:
        raise ValueError("share: must be between 0 and 1")
    return draw_value(referral_id, pseudonymiser) < share
