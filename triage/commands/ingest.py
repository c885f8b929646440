"""``triage ingest DIR``: CyberTipline XML referrals into pseudonymised JSON Lines.

Every ``*.xml`` file in DIR (sorted by name) is read, mapped to the referral contract,
validated and pseudonymised. A bad file is listed (file name, field path, reason) and
skipped; the batch goes on, the good referrals are written, and the exit status is 1 so
a pipeline notices. Error texts never quote identifier values or free text.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from features.known_hashes import load_known_hashes
from features.xml_adapter import FileRejected, XmlLimits, ingest_xml_files
from triage.common import pseudonymiser, settings, write_jsonl


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", type=Path, metavar="DIR", help="folder of *.xml referrals")
    p.add_argument("--out", type=Path, required=True, help="JSON Lines file to write")
    p.add_argument(
        "--known-hashes",
        type=Path,
        nargs="+",
        action="extend",
        metavar="FILE",
        help="known-hash lists (one hex digest a line); default TRIAGE_KNOWN_HASH_FILES. "
        "Without any list, file hashes read as 'unchecked'",
    )
    p.add_argument("--errors", type=Path, help="also write rejected files here (JSON Lines)")
    p.add_argument(
        "--max-bytes",
        type=int,
        default=XmlLimits.max_bytes,
        help="refuse larger files (default %(default)s)",
    )


def _report(rejected: list[FileRejected], out: Path | None) -> None:
    for r in rejected:
        for p in r.problems:
            print(f"rejected {r.file} ({r.referral_id or '?'}): {p}", file=sys.stderr)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as fh:
            for r in rejected:
                fh.write(json.dumps(r.as_dict(), separators=(",", ":")) + "\n")


def run(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    if not directory.is_dir():
        print(f"ingest: {directory} is not a directory", file=sys.stderr)
        return 2
    s = settings()
    lists = args.known_hashes or list(s.known_hash_files)
    try:
        known = load_known_hashes(lists) if lists else None
    except (OSError, ValueError) as e:
        print(f"ingest: known-hash list: {e}", file=sys.stderr)
        return 2
    files = sorted(p for p in directory.glob("*.xml") if p.is_file())
    result = ingest_xml_files(
        files, pseudonymiser(s), known=known, limits=XmlLimits(args.max_bytes)
    )
    written = write_jsonl(
        args.out, (ref.model_dump(mode="json", exclude_none=False) for _, ref in result.good)
    )
    _report(result.rejected, args.errors)
    hashes = f"{len(known)} known hashes" if known is not None else "no known-hash list"
    print(
        f"ingest: {result.files_read} files read, {written} referrals written to {args.out}, "
        f"{len(result.rejected)} rejected ({hashes})"
    )
    return 1 if result.rejected else 0
