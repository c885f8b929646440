"""The blind second review's draw (contract §5, issue 12): keyed, reproducible, at its share."""

from __future__ import annotations

import pytest

from features.blind_draw import DEFAULT_SHARE, drawn_for_blind_review
from features.pseudonyms import Pseudonymiser

KEY = Pseudonymiser(b"blind-draw-test-key-0123456789")
OTHER = Pseudonymiser(b"another-test-key-9876543210")


def test_the_draw_is_deterministic_for_a_key_and_differs_between_keys():
    ids = [f"R-{i}" for i in range(5000)]
    first = [drawn_for_blind_review(i, KEY) for i in ids]
    assert first == [drawn_for_blind_review(i, KEY) for i in ids]
    other = [drawn_for_blind_review(i, OTHER) for i in ids]
    assert other != first  # a different key draws a different sample


@pytest.mark.parametrize("share", [DEFAULT_SHARE, 0.10])
def test_the_draw_is_within_half_a_point_of_its_share_on_100000_ids(share):
    n = 100_000
    drawn = sum(drawn_for_blind_review(f"CT-{i:07d}", KEY, share) for i in range(n))
    assert abs(drawn / n - share) <= 0.005


def test_a_share_outside_0_1_is_refused():
    with pytest.raises(ValueError, match="share"):
        drawn_for_blind_review("R-1", KEY, 1.5)
