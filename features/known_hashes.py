"""Known-hash lists: which reported files are already-catalogued material.

A file whose hash is on a known list is long-circulating material; a file with a hash on
no list may be new material showing a child not yet identified (domain brief §3), which
is an urgency signal. So ``hash_match`` distinguishes three cases, and "no lists were
configured" must never read as "checked and new":

* a hash on a list -> ``known``;
* hashes present, lists configured, none matched -> ``none``;
* no hash, or no lists configured at all -> ``unchecked``.

Lists are plain text, one hex digest a line; blank lines and ``#`` comments are ignored,
case does not matter, and anything after the digest on a line (as in ``sha256sum``
output) is ignored. Exact-hash lists cannot express ``similar`` (a perceptual match).
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from pathlib import Path

_HEX = frozenset(string.hexdigits)
MIN_DIGEST_LEN = 32  # MD5; shorter strings are not file digests


def normalise_digest(value: str) -> str:
    """Canonical form of a digest (lower case, no surrounding space) for comparisons."""
    return value.strip().lower()


def is_digest(value: str) -> bool:
    """True for an even-length hex string at least as long as an MD5 digest."""
    return len(value) >= MIN_DIGEST_LEN and len(value) % 2 == 0 and set(value) <= _HEX


def parse_known_hashes(lines: Iterable[str], source: str = "<list>") -> set[str]:
    """Digests in ``lines``; a line that is not a hex digest raises ``ValueError``.

    The error names the list and line number only, so a malformed list never leaks into
    logs beyond its location.
    """
    out: set[str] = set()
    for n, line in enumerate(lines, 1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        digest = normalise_digest(body.split()[0])
        if not is_digest(digest):
            raise ValueError(f"{source}: line {n}: not a hex digest")
        out.add(digest)
    return out


def load_known_hashes(paths: Iterable[Path]) -> frozenset[str]:
    """The union of every list in ``paths`` (an empty iterable gives an empty set).

    Callers that configured no list at all should pass ``None`` as the known set to the
    adapter instead, so hashes read as ``unchecked`` rather than ``none``.
    """
    out: set[str] = set()
    for path in paths:
        with Path(path).open("r", encoding="utf-8") as fh:
            out |= parse_known_hashes(fh, source=Path(path).name)
    return frozenset(out)


def match(hashes: Iterable[str], known: frozenset[str] | set[str] | None) -> str:
    """``hash_match`` for one file's hashes against ``known`` (``None``: no lists)."""
    present = [normalise_digest(h) for h in hashes if h and h.strip()]
    if not present or known is None:
        return "unchecked"
    return "known" if any(h in known for h in present) else "none"


def write_known_hashes(path: Path, digests: Iterable[str]) -> int:
    """Write a list in the format :func:`load_known_hashes` reads; returns the count.

    Used by the synthetic generator so files it marked ``known`` match on ingestion.
    """
    unique = sorted({normalise_digest(d) for d in digests})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# known-hash list (synthetic)\n" + "".join(d + "\n" for d in unique), encoding="utf-8"
    )
    return len(unique)
