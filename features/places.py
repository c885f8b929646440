"""Country and Canadian province names and codes: every ``pycountry`` use in one place.

Routes and phone regions name places by ISO 3166 codes (``CA``, ``CA-ON``); the words a
reviewer reads ("Ontario", "Philippines") come from ISO's own tables through ``pycountry``
rather than a hand-written list. Imported lazily: its data loads on first use.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from features.countries import CA_PROVINCES


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).casefold().strip()


@lru_cache(maxsize=512)
def country_name(code: str) -> str:
    """The ISO 3166 short name of an alpha-2 code (the code itself if ISO has none)."""
    import pycountry

    c = pycountry.countries.get(alpha_2=code.upper())
    return getattr(c, "common_name", None) or (c.name if c is not None else code.upper())


@lru_cache(maxsize=1)
def _provinces() -> dict[str, str]:
    import pycountry

    return {s.code.split("-")[1]: s.name for s in pycountry.subdivisions.get(country_code="CA")}


def province_name(code: str) -> str:
    """The name of a Canadian province or territory (``ON`` -> ``Ontario``)."""
    return _provinces().get(code.upper(), code.upper())


def province_code(text: str | None) -> str | None:
    """A province or territory code from its code or its name, in English or French
    (``qc``, ``Québec``, ``Toronto, ON``); None when it is none of them."""
    if not text:
        return None
    t = text.strip()
    tail = t.rsplit(",", 1)[-1].strip().upper()
    if tail in CA_PROVINCES:
        return tail
    by_name = {_fold(name): code for code, name in _provinces().items()}
    by_name |= {"quebec": "QC", "yukon territory": "YT"}
    return by_name.get(_fold(t))
