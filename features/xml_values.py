"""Typed reads of XSD simple values, collecting problems instead of raising.

A referral is rejected whole with *every* problem listed, so each reader records a
:class:`~features.ingest.Problem` and returns ``None`` rather than stopping at the first
bad value. Reasons name the expected type only: the offending value may be an identifier
or free text and is never echoed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from xml.etree.ElementTree import Element

from features.ingest import Problem

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


def kids(el: Element, name: str) -> list[Element]:
    """Direct children named ``name`` (the XSD has no namespace)."""
    return [c for c in el if c.tag == name]


def kid(el: Element | None, name: str) -> Element | None:
    """The first direct child named ``name``; later duplicates are ignored."""
    if el is None:
        return None
    return next((c for c in el if c.tag == name), None)


def text(el: Element | None) -> str | None:
    """Stripped text content, ``None`` when absent or blank."""
    if el is None or el.text is None:
        return None
    t = el.text.strip()
    return t or None


def is_empty(el: Element) -> bool:
    """No children, attributes or text: an element that says nothing but that it exists."""
    return len(el) == 0 and not el.attrib and text(el) is None


def safe_name(tag: object) -> str:
    """An element name fit for an error message (names are structure, but keep it short)."""
    name = str(tag).rsplit("}", 1)[-1]
    return name if len(name) <= 40 else name[:40] + "…"


class Reader:
    """Collects every problem found while mapping one referral."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def _bool(self, raw: str | None, path: str) -> bool | None:
        if raw is None:
            return None
        v = raw.strip()
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
        self.bad(path, "not an xs:boolean (true, false, 1 or 0)")
        return None

    def boolean(self, el: Element | None, path: str) -> bool | None:
        return self._bool(text(el), path) if el is not None else None

    def attr_bool(self, el: Element | None, name: str, path: str) -> bool | None:
        return None if el is None else self._bool(el.get(name), f"{path}/@{name}")

    def integer(self, el: Element | None, path: str) -> int | None:
        raw = text(el)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            self.bad(path, "not an integer")
            return None

    def moment(self, el: Element | None, path: str) -> datetime | None:
        """An xs:dateTime; one without an offset is taken as UTC (the XSD allows that)."""
        raw = text(el)
        if raw is None:
            return None
        try:
            dt = datetime.fromisoformat(raw)
        except ValueError:
            self.bad(path, "not an xs:dateTime (ISO 8601)")
            return None
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)

    def day(self, el: Element | None, path: str) -> date | None:
        raw = text(el)
        if raw is None:
            return None
        try:
            return date.fromisoformat(raw[:10]) if len(raw) >= 10 else date.fromisoformat(raw)
        except ValueError:
            self.bad(path, "not an xs:date (YYYY-MM-DD)")
            return None

    def choice(self, raw: str | None, table: dict[str, str], path: str, what: str) -> str | None:
        """Map an enumerated value through ``table``; spacing and case are forgiven."""
        if raw is None or not raw.strip():
            return None
        want = " ".join(raw.split()).casefold()
        for xsd, ours in table.items():
            if xsd.casefold() == want:
                return ours
        self.bad(path, f"not one of the {what}")
        return None


def years_between(born: date, on: date) -> int:
    """Completed years from ``born`` to ``on`` (an age on a given day)."""
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
