"""The safety floor as the domain states it (domain.md §3 and the fast path of §6;
docs/how-scores-are-made.md step 5), written out by hand so a wrong ``models/safety.py``
cannot pass by agreeing with itself: explicit escalation, sextortion, live streaming and
sadistic exploitation lift to ``immediate``; physical harm and infant annotations to at
least ``high``. Shared by the rules-only tests (tests/unit) and the model tests."""

from __future__ import annotations

import copy
from typing import Any

#: (case, change to a plain referral, tier the floor demands, rule named)
CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "escalation",
        {"escalation_reason": "Placeholder escalation."},
        "immediate",
        "explicit_escalation",
    ),
    ("sextortion", {"incident.annotations": ["sextortion"]}, "immediate", "sextortion"),
    (
        "live_streaming",
        {"files": [{"annotations": ["live_streaming"]}]},
        "immediate",
        "live_streaming",
    ),
    (
        "sadistic",
        {"incident.annotations": ["sadistic_exploitation"]},
        "immediate",
        "sadistic_exploitation",
    ),
    ("physical_harm", {"files": [{"annotations": ["physical_harm"]}]}, "high", "physical_harm"),
    ("infant", {"files": [{"annotations": ["infant"]}]}, "high", "infant"),
]
#: Signals that are *not* on the floor: a plain referral with them stays routine by rules.
NOT_FLOOR: list[tuple[str, dict[str, Any]]] = [
    ("plain", {}),
    ("blank_escalation", {"escalation_reason": "   "}),
    ("spam", {"incident.annotations": ["spam", "minor_to_minor", "csam_solicitation"]}),
    ("other_files", {"files": [{"annotations": ["viral", "generative_ai", "anime_virtual"]}]}),
]


def plain(referral_id: str) -> dict[str, Any]:
    """A referral with no urgent signal at all."""
    return {
        "referral_id": referral_id,
        "received_at": "2024-03-01T12:00:00+00:00",
        "source": "industry",
        "incident": {"type": "unsolicited_material", "channel": "web"},
        "files": [{"kind": "image", "hash_match": "known"}],
    }


def with_change(referral_id: str, change: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(plain(referral_id))
    for path, value in change.items():
        node = doc
        *parents, last = path.split(".")
        for p in parents:
            node = node[p]
        node[last] = copy.deepcopy(value)
    return doc
