"""Known-answer pseudonyms: a fixed key and raw value give exactly these digests.

Every stored pseudonym, and so all linking across referrals, depends on the digest's exact
input (the kind, the ``\\x1f`` separator, the normalised value) and its ``pn1:`` form. A
changed separator, normalisation or prefix passes any test that only compares two calls of
the same code; it fails here. The digests were computed once, outside this code, as
HMAC-SHA256(key, kind + "\\x1f" + canonical value).
"""

from __future__ import annotations

import pytest

from features.pseudonyms import PREFIX, Pseudonymiser, is_pseudonym, normalise

KEY = b"known-answer-key-0123456789abcdef"
KNOWN = [
    (
        "email",
        "  Someone@Example.COM ",
        "5971894eb5d18835f9cd95cc7fa871b537565d060875b3c251c3acc55bfb7a21",
    ),
    ("ip", "2001:db8:0:0::1", "84750fd7ac087ce1aa80391a06fff142532fd16178f72cfaa6ad2e96aea561dc"),
    ("ip", " 192.0.2.1", "6932b1a2e1416753dfb9ad73199fc93c3b881d49f31f2718f19a6d17115b88ad"),
    ("phone", "+1 (555) 01-00", "828fbe0dc6f33d1b03666226b656f364b8d3666f1eb4535ab65bbc7f629a1417"),
    (
        "display_name",
        " Some Name ",
        "7227c768fd766b634321e5d530fa6737564f41b03f3a65d272376123b545547d",
    ),
    ("group", "GROUP-7", "b29a5e3e97d7717b2482bdd324891e562442f60f65aa63023f3cc2e13eebab75"),
]


@pytest.mark.parametrize(("kind", "raw", "digest"), KNOWN, ids=[k[0] + k[1] for k in KNOWN])
def test_known_answer(kind: str, raw: str, digest: str) -> None:
    assert Pseudonymiser(KEY).pseudonym(kind, raw) == "pn1:" + digest


def test_the_form_of_a_pseudonym() -> None:
    p = Pseudonymiser(KEY).pseudonym("email", "a@example.com")
    assert PREFIX == "pn1:" and p.startswith("pn1:") and len(p) == 68
    assert is_pseudonym(p)
    assert not is_pseudonym(p[:-1]) and not is_pseudonym(p + "0")
    assert not is_pseudonym("pn2:" + p[4:]) and not is_pseudonym(p[4:] + "pn1:")


@pytest.mark.parametrize(
    ("kind", "raw", "canonical"),
    [
        ("email", " A@B.Example ", "a@b.example"),
        ("screen_name", "MiXeD", "mixed"),
        ("esp_user_id", "AbC", "abc"),
        ("profile_url", "HTTPS://X.example/U", "https://x.example/u"),
        ("group", "G1", "g1"),
        ("display_name", " Keep Case ", "Keep Case"),
        ("device_id", "Dev-1", "Dev-1"),
        ("phone", "+1 (555) 01-00 ext", "+15550100"),
        ("ip", "2001:DB8:0::1", "2001:db8::1"),
        ("ip", "::ffff:192.0.2.1", "::ffff:c000:201"),
    ],
)
def test_normalisation_per_kind(kind: str, raw: str, canonical: str) -> None:
    assert normalise(kind, raw) == canonical


@pytest.mark.parametrize(
    ("kind", "raw", "why"),
    [
        ("ip", "999.1.1.1", "not a valid IPv4 or IPv6 address"),
        ("ip", "", "not a valid IPv4 or IPv6 address"),
        ("phone", "call me", "phone number holds no digits"),
    ],
)
def test_unusable_values_are_refused_without_echo(kind: str, raw: str, why: str) -> None:
    with pytest.raises(ValueError) as e:
        Pseudonymiser(KEY).pseudonym(kind, raw)
    assert str(e.value) == why


def test_the_key_matters_and_is_never_shown() -> None:
    with pytest.raises(ValueError) as e:
        Pseudonymiser(b"x" * 15)
    assert str(e.value) == "pseudonym key must be at least 16 bytes"
    Pseudonymiser(b"x" * 16)  # the shortest key accepted
    a, b = Pseudonymiser(KEY), Pseudonymiser(KEY[:-1] + b"0")
    assert a.pseudonym("email", "a@example.com") != b.pseudonym("email", "a@example.com")
    assert repr(a) == "Pseudonymiser(<key hidden>)"
