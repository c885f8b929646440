"""CyberTipline XML referrals (``contract.md`` §2) in, contract documents out, safely.

Referral files come from outside, so parsing assumes they may be hostile:

* any DOCTYPE, DTD or entity declaration is refused outright (billion laughs, external
  entities / XXE, external DTDs) by defusedxml before an entity could be expanded or a
  URL or local file fetched;
* a file larger than ``XmlLimits.max_bytes`` is refused before it is read;
* element nesting and element count are capped while parsing, so a deep or wide
  document stops early instead of building a huge tree.

Every refusal is a per-file :class:`XmlRejected` whose reasons name a place and a rule,
never a value: identifier values and free text are never echoed into errors.

Reading gives the *raw* document (identifiers in clear); :func:`ingest_xml_files` then
validates and pseudonymises through :func:`features.ingest.parse_documents`, the same door
JSON takes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from pyexpat import ErrorString
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

from features.contract import ID_PATTERN, Referral
from features.ingest import Problem, parse_documents
from features.pseudonyms import Pseudonymiser
from features.xml_mapping import map_referral

ROOT = "referral"
DOC = "(document)"


@dataclass(frozen=True)
class XmlLimits:
    """Caps on one referral file. A real referral is a few KiB and nests about 6 deep."""

    max_bytes: int = 5 * 1024 * 1024
    max_depth: int = 32
    max_elements: int = 200_000


class XmlRejected(Exception):
    """One file that cannot become a referral; ``problems`` lists every reason found."""

    def __init__(self, problems: list[Problem], referral_id: str | None = None) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems
        self.referral_id = referral_id


def parse_xml(data: bytes, limits: XmlLimits = XmlLimits()) -> Element:
    """Parse bytes into the ``<referral>`` element, enforcing every safety rule above."""
    if len(data) > limits.max_bytes:
        raise XmlRejected([Problem(DOC, f"larger than the {limits.max_bytes}-byte limit")])
    depth = count = 0
    root: Element | None = None
    try:
        events = safe_et.iterparse(
            io.BytesIO(data),
            events=("start", "end"),
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
        )
        for event, elem in events:
            if event == "end":
                depth -= 1
                continue
            depth += 1
            count += 1
            if root is None:
                root = elem
                if elem.tag != ROOT:
                    raise XmlRejected([Problem(DOC, f"root element must be <{ROOT}>")])
            if depth > limits.max_depth:
                raise XmlRejected([Problem(DOC, f"elements nested deeper than {limits.max_depth}")])
            if count > limits.max_elements:
                raise XmlRejected([Problem(DOC, f"more than {limits.max_elements} elements")])
    except DefusedXmlException:
        raise XmlRejected(
            [Problem(DOC, "DOCTYPE, DTD and entity declarations are not accepted")]
        ) from None
    except ParseError as e:
        # expat's own text for the error code names the rule broken, never document content
        line, col = getattr(e, "position", (0, 0))
        code = getattr(e, "code", None)
        why = (
            f"not well-formed XML: {ErrorString(code)}"
            if isinstance(code, int)
            else "not well-formed XML"
        )
        raise XmlRejected([Problem(DOC, f"{why} (line {line}, column {col})")]) from None
    if root is None:  # pragma: no cover - expat reports an empty document as a ParseError
        raise XmlRejected([Problem(DOC, "no root element")])
    return root


def _readable_id(doc: dict[str, Any]) -> str | None:
    rid = doc.get("referral_id")
    return rid if isinstance(rid, str) and re.fullmatch(ID_PATTERN, rid) else None


def read_referral_xml(
    data: bytes, *, known: frozenset[str] | None = None, limits: XmlLimits = XmlLimits()
) -> dict[str, Any]:
    """One XML referral as a raw contract document (not yet validated or pseudonymised).

    ``known`` is the union of the known-hash lists; ``None`` means no list is configured,
    so every file reads ``hash_match="unchecked"`` rather than a misleading ``"none"``.
    Raises :class:`XmlRejected` with every problem the XML itself has.
    """
    doc, problems = map_referral(parse_xml(data, limits), known)
    if problems:
        raise XmlRejected(problems, _readable_id(doc))
    return doc


def read_referral_file(
    path: Path, *, known: frozenset[str] | None = None, limits: XmlLimits = XmlLimits()
) -> dict[str, Any]:
    """:func:`read_referral_xml` for a file; an oversized file is refused unread."""
    try:
        if path.stat().st_size > limits.max_bytes:
            raise XmlRejected([Problem(DOC, f"larger than the {limits.max_bytes}-byte limit")])
        with path.open("rb") as fh:
            data = fh.read(limits.max_bytes + 1)
    except OSError as e:
        raise XmlRejected([Problem(DOC, f"cannot be read ({e.strerror or 'I/O error'})")]) from None
    return read_referral_xml(data, known=known, limits=limits)


@dataclass
class FileRejected:
    """A file that was not ingested: its name, its id if readable, every problem."""

    file: str
    referral_id: str | None
    problems: list[Problem]

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "referral_id": self.referral_id,
            "errors": [{"path": p.path, "reason": p.reason} for p in self.problems],
        }


@dataclass
class XmlIngest:
    """The outcome of a batch: every file is either in ``good`` or in ``rejected``."""

    files_read: int = 0
    good: list[tuple[str, Referral]] = field(default_factory=list)
    rejected: list[FileRejected] = field(default_factory=list)


def ingest_xml_files(
    paths: Iterable[Path],
    pseudonymiser: Pseudonymiser,
    *,
    known: frozenset[str] | None = None,
    limits: XmlLimits = XmlLimits(),
    now: datetime | None = None,
) -> XmlIngest:
    """Read, map, validate and pseudonymise many files; one bad file never stops the rest.

    Duplicate referral ids across files are rejected (the later files), as for JSON.
    """
    out = XmlIngest()
    docs: list[dict[str, Any]] = []
    read: list[tuple[int, str]] = []  # (position in the batch, file name) of each doc
    rejected: list[tuple[int, FileRejected]] = []
    for i, path in enumerate(paths):
        out.files_read += 1
        try:
            docs.append(read_referral_file(path, known=known, limits=limits))
            read.append((i, path.name))
        except XmlRejected as e:
            rejected.append((i, FileRejected(path.name, e.referral_id, e.problems)))
    batch = parse_documents(docs, pseudonymiser, now=now)
    for r in batch.rejected:
        pos, name = read[r.index]
        rejected.append((pos, FileRejected(name, r.referral_id, r.problems)))
    out.rejected = [f for _, f in sorted(rejected, key=lambda t: t[0])]
    bad = {r.index for r in batch.rejected}
    good_names = [name for j, (_, name) in enumerate(read) if j not in bad]
    out.good = list(zip(good_names, batch.referrals, strict=True))
    return out
