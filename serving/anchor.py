"""Chain heads anchored outside the database, signed with a key kept outside ``home``.

The hash chains notice an edited or deleted record, but not someone who can write the
database file, cuts the last records off and resets the head to the new last record: the
shortened chain is intact. An *anchor* is a line appended to a file elsewhere, holding
the chains' heads (decisions, access log, outcome reports, case events: id and hash) at a time, signed with HMAC-SHA256 under a key that is
not in ``TRIAGE_HOME``. :func:`check` compares the store with the anchors: a chain that
now ends before an anchored record, or whose anchored record has another hash, was cut or
rewritten. Forging an anchor needs the key; deleting anchor lines is what the file's
own protection (a log host, an append-only mount) must prevent (``docs/security.md``).

The service appends one on a schedule and at shutdown (:class:`AnchorSchedule`);
``triage audit anchor`` appends one on demand.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serving import logs
from serving.chain import canonical_json
from serving.records import StoreError
from serving.store import Store

MIN_KEY_BYTES = 32
LOGS = ("decisions", "access", "outcomes", "cases")


def load_key(path: Path, home: Path) -> bytes:
    """The anchor key from ``path``; refused inside ``home`` or shorter than 32 bytes."""
    resolved, home_dir = path.resolve(), home.resolve()
    if resolved == home_dir or home_dir in resolved.parents:
        raise StoreError("anchor_key_file", "must be outside TRIAGE_HOME (the data's folder)")
    try:
        key = resolved.read_bytes().strip()
    except OSError:
        raise StoreError("anchor_key_file", "cannot be read") from None
    if len(key) < MIN_KEY_BYTES:
        raise StoreError("anchor_key_file", f"must hold at least {MIN_KEY_BYTES} bytes")
    return key


def _mac(key: bytes, body: dict[str, Any]) -> str:
    return hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def write_anchor(store: Store, key: bytes, path: Path) -> dict[str, Any]:
    """Append the signed heads of the chains to ``path`` (created 0600); returns the line."""
    heads = store.heads()
    body: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        **{name: {"id": heads[name][0], "hash": heads[name][1]} for name in LOGS},
    }
    line = {**body, "mac": _mac(key, body)}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (json.dumps(line, sort_keys=True) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return line


def check(store: Store, key: bytes, path: Path) -> list[str]:
    """Problems found comparing the store with the anchors in ``path`` (empty: none).

    Every line must carry a valid signature; the last valid one is compared with the
    store: each chain must still hold the anchored record, with the anchored hash.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return [f"anchor file {path.name}: cannot be read"]
    problems: list[str] = []
    last: dict[str, Any] | None = None
    for n, text in enumerate(lines, 1):
        try:
            line = json.loads(text)
            body = {k: v for k, v in line.items() if k != "mac"}
            good = hmac.compare_digest(str(line.get("mac", "")), _mac(key, body))
        except (ValueError, AttributeError):
            good = False
        if not good:
            problems.append(f"anchor line {n}: signature does not match (edited or forged)")
            continue
        last = line
    if last is None:
        return [*problems, "no valid anchor in the file"]
    heads = store.heads()
    for name in LOGS:
        if name not in last:
            continue  # anchored before this chain was (outcomes: 0005, cases: 0006)
        anchored_id, anchored_hash = int(last[name]["id"]), str(last[name]["hash"])
        head_id = heads[name][0]
        if head_id < anchored_id:
            problems.append(
                f"{name}: the chain ends at record {head_id} but record {anchored_id} was "
                f"anchored at {last['at']} (records cut off the end, head reset?)"
            )
        elif anchored_id > 0:
            stored = store.hash_at(name, anchored_id)
            if stored is None and name == "access":
                continue  # cut by retention: the chain's base has moved past it
            if stored != anchored_hash:
                problems.append(
                    f"{name}: record {anchored_id} no longer has the hash anchored at "
                    f"{last['at']} (rewritten?)"
                )
    return problems


class AnchorSchedule:
    """Writes an anchor every ``minutes`` in a daemon thread, and once more at ``stop``."""

    def __init__(self, store: Store, key: bytes, path: Path, minutes: float) -> None:
        self.store, self.key, self.path = store, key, path
        self.interval = minutes * 60
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="anchor", daemon=True)

    def start(self) -> AnchorSchedule:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.anchor()

    def anchor(self) -> None:
        try:
            line = write_anchor(self.store, self.key, self.path)
            logs.event("anchored", decisions=line["decisions"]["id"])
        except Exception as e:  # keep the service up; the operator alerts on the event
            logs.event("anchor_failed", logging.ERROR, error_type=type(e).__name__)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.anchor()


def start_anchoring(rt: Any) -> AnchorSchedule | None:
    """At service start: apply the access log's retention, then anchor the chains on a
    schedule when ``TRIAGE_ANCHOR_KEY_FILE`` and ``TRIAGE_ANCHOR_FILE`` are set (None if
    not). A key that cannot be used stops the start: anchoring was asked for."""
    from datetime import timedelta

    s = rt.settings
    rt.store.prune_access(timedelta(days=s.access_log_days))
    if s.anchor_key_file is None or s.anchor_file is None:
        return None
    schedule = AnchorSchedule(
        rt.store, load_key(s.anchor_key_file, s.home), s.anchor_file, s.anchor_minutes
    )
    schedule.anchor()
    return schedule.start()
