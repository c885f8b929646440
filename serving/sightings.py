"""The linking history in the store: one truth for every worker and every replica.

Every event linking counts (``features.linking.events_for``: a referral's sightings at its
``received_at``, a decision's at its ``decided_at``) is a row of ``sightings`` (migration
0007), numbered by ``seq``. Every writer of the table holds the history's **order lock**
for its whole transaction (:func:`lock`: PostgreSQL's transaction advisory lock, or
SQLite's database write lock, which ``BEGIN IMMEDIATE`` already holds), so rows are
committed one transaction at a time and ``seq`` grows in commit order: a reader that has
applied everything up to ``n`` misses nothing by reading ``seq > n`` next.

Each process keeps the rows in a :class:`~features.history.History` (the cache). The
scorer catches it up from the store **inside** the locked transaction that then writes its
batch's scores and sightings (``serving.scoring``), so features are computed from exactly
the store's history at that point of the order, whichever worker or replica took the
request; the cache only ever holds rows read from, or committed to, the store.

Seeding (:func:`seed`) puts the training events (``features.history.history_file``) and
the events of referrals stored before 0007 into the table, once: the first process to
start does it under the lock and records it in ``sightings_seed``; the others find it done.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, make_url, select, text
from sqlalchemy.orm import Session

from features.contract import Outcome, Referral
from features.linking import EVENT_COLUMNS, GLOBAL_KEY, WEIGHTS, events_for
from serving import logs
from serving.db_models import ReferralRow, SightingRow, SightingSeedRow

#: Arbitrary constant naming the PostgreSQL advisory lock that orders the history.
ORDER_LOCK = 0x7472_6961_6768
_CHUNK = 5000  # rows per INSERT batch
_COLUMNS = ("referral_id", *EVENT_COLUMNS)


@contextmanager
def queue(url: str) -> Iterator[None]:
    """On a SQLite file, wait for the history's turn on a lock file beside it (``flock``),
    before taking the database's write lock: SQLite's busy handler polls with sleeps of
    up to 100 ms, so workers of one host waiting for each other's scoring batches would
    lose most of their time sleeping; ``flock`` wakes the next one when the lock is
    released. Elsewhere (PostgreSQL queues its advisory lock waiters) nothing."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        yield
        return
    fd = os.open(f"{u.database}.order", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def lock(s: Session) -> None:
    """Take the order lock for the rest of ``s``'s transaction. On SQLite the write
    transaction (``BEGIN IMMEDIATE``) already serialises every writer."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ORDER_LOCK})


def marked(events: pd.DataFrame, referral_ids: Sequence[str]) -> pd.DataFrame:
    """``events`` (``events_for(referrals, None)``, sightings only) with ``referral_id`` on
    each referral's one sighting of the global key, the mark that it is in the history
    (re-scoring it adds nothing). ``events_for`` emits those rows in referral order."""
    out = events.copy()
    out["referral_id"] = None
    own = (out["family"].to_numpy(object) == "all") & (out["key"].to_numpy(object) == GLOBAL_KEY)
    own &= out["seen"].to_numpy(np.int64) > 0
    if int(own.sum()) != len(referral_ids):
        raise ValueError("events: one global sighting per referral expected")
    out.loc[own, "referral_id"] = list(referral_ids)
    return out


def append(s: Session, events: pd.DataFrame, after_seq: int | None = None) -> None:
    """Insert ``events`` (``EVENT_COLUMNS``, optionally ``referral_id``) in ``s``, whose
    transaction must hold the order lock. ``after_seq``: the last row of the history the
    writer computed features from (a scoring batch's), for audits and replays."""
    if len(events) == 0:
        return
    ids = events["referral_id"] if "referral_id" in events else pd.Series([None] * len(events))
    cols = {
        "referral_id": [None if x is None or x != x else str(x) for x in ids.tolist()],
        "family": events["family"].astype(str).tolist(),
        "key": events["key"].astype(str).tolist(),
        **{c: events[c].astype(np.int64).tolist() for c in ("t", *WEIGHTS)},
        "after_seq": [after_seq] * len(events),
    }
    rows = [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]
    for start in range(0, len(rows), _CHUNK):
        s.execute(insert(SightingRow), rows[start : start + _CHUNK])


def last_seq(s: Session) -> int:
    return int(s.scalar(select(func.coalesce(func.max(SightingRow.seq), 0))) or 0)


def since(s: Session, seq: int) -> tuple[pd.DataFrame, list[str], int]:
    """The rows after ``seq``: their events, the referrals they mark, and the last seq
    read (``seq`` itself when there are none)."""
    cols = [getattr(SightingRow, c) for c in ("seq", *_COLUMNS)]
    rows = s.execute(select(*cols).where(SightingRow.seq > seq).order_by(SightingRow.seq)).all()
    if not rows:
        return events_for([], None), [], seq
    df = pd.DataFrame(rows, columns=["seq", *_COLUMNS])
    ids = [str(x) for x in df["referral_id"].tolist() if x is not None]
    ev = df[list(EVENT_COLUMNS)].astype({c: np.int64 for c in ("t", *WEIGHTS)})
    return ev.reset_index(drop=True), ids, int(df["seq"].iloc[-1])


def decision_events(referral: Referral, outcome: Outcome) -> pd.DataFrame:
    """A decision's events (at ``decided_at``), without the referral's sightings."""
    ev = events_for([referral], [outcome])
    return ev[ev["decided"] == 1].reset_index(drop=True)


def add_decision(s: Session, referral_id: str, outcome: Outcome | None) -> None:
    """In a decision's own transaction: its label's events into the history (none when it
    gives no label), so an acknowledged decision and its history events commit together."""
    if outcome is None or s.get(SightingSeedRow, 1) is None:
        return  # not seeded yet: the seeding takes the label from the store
    row = s.get(ReferralRow, referral_id)
    if row is None:
        return
    from serving.records import referral_of

    lock(s)
    append(s, decision_events(referral_of(row), outcome))


def seed(s: Session, events_file: Path | None) -> bool:
    """Seed the history once (``s`` holds the order lock): the training events and every
    referral already stored (with its label), unless ``sightings_seed`` says it was done.
    An unreadable events file is logged and skipped, not fatal. True if it seeded now."""
    lock(s)
    if s.get(SightingSeedRow, 1) is not None:
        return False
    n = 0
    training = _training_events(events_file)
    if training is not None:
        append(s, training)
        n = len(training)
    from serving.queries import history_referrals

    has = SightingRow.referral_id.is_not(None)
    marked_ids = set(s.scalars(select(SightingRow.referral_id).where(has)))
    referrals = 0
    for chunk in _chunks(history_referrals(s), _CHUNK):
        todo = [(r, o) for r, o in chunk if r.referral_id not in marked_ids]
        if todo:
            refs = [r for r, _ in todo]
            sight = marked(events_for(refs, None), [r.referral_id for r in refs])
            decided = events_for(refs, [o for _, o in todo])
            append(s, pd.concat([sight, decided[decided["decided"] == 1]], ignore_index=True))
            referrals += len(todo)
    s.add(SightingSeedRow(id=1, events=n, referrals=referrals, seeded_at=datetime.now(UTC)))
    s.flush()
    if s.get_bind().dialect.name == "postgresql":  # planner statistics after the bulk load
        s.execute(text("ANALYZE sightings"))
    logs.event("history_seeded", events=n, referrals=referrals)
    return True


def _training_events(path: Path | None) -> pd.DataFrame | None:
    if path is None or not path.exists():
        return None
    try:
        ev = pd.read_parquet(path)
        missing = set(EVENT_COLUMNS) - set(ev.columns)
        if missing:
            raise ValueError(f"missing columns {sorted(missing)}")
        return ev[list(EVENT_COLUMNS)]
    except Exception as e:  # a bad file must not stop the service
        logs.event("history_file_skipped", logging.WARNING, error_type=type(e).__name__)
        return None


def _chunks(
    items: Iterator[tuple[Referral, Outcome | None]], n: int
) -> Iterator[list[tuple[Referral, Outcome | None]]]:
    chunk: list[tuple[Referral, Outcome | None]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
