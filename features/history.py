"""The service's memory of earlier referrals: pseudonymised events, indexed per key.

:class:`History` holds every sighting and decision the service knows of (the training
history plus what it scored since) and answers :func:`features.linking.linking_features`'
question, "what was known about this key before time t", with hash probes and binary
searches: per family a consolidated, sorted index with prefix sums (``_Index``), plus a
per-key buffer of recent events (``_KeyBuffer``) folded into the index now and then.
Equal to the batch computation (``features.linking.cum_before``) over the same events;
property tests check it, including buffered, indexed and mixed histories.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import Outcome, Referral
from features.linking import FAMILIES, NS, WEIGHTS, events_for

#: Where ``triage train`` leaves the training data's linking events, under the home.
HISTORY_FILE = Path("history") / "events.parquet"


def history_file(home: Path) -> Path:
    """The one place that knows where the training history lives (``triage train`` writes
    it; the service seeds its store from it; ``score``, ``explain``, ``monitor`` read it)."""
    return home / HISTORY_FILE


class _Index:
    """One family's consolidated events, sorted by (key, time), with prefix sums of the
    weights and, per event, the latest sighting time up to and including it (per key).
    ``count_before`` is a hash lookup of the key then a binary search on time."""

    def __init__(self, ev: pd.DataFrame) -> None:
        codes, uniq = pd.factorize(ev["key"].to_numpy(object), sort=False)
        t = ev["t"].to_numpy(NS)
        order = np.lexsort((t, codes))
        self.t = t[order]
        c = codes[order]
        w = ev[list(WEIGHTS)].to_numpy(np.int64)[order]
        self.cum = np.vstack([np.zeros((1, w.shape[1]), np.int64), np.cumsum(w, axis=0)])
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        ends = np.r_[starts[1:], len(c)]
        self.slices = {uniq[c[s]]: (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}
        grp_start = np.repeat(starts, ends - starts)
        idx = np.where(w[:, 0] > 0, np.arange(len(c)), -1)
        last = np.maximum.accumulate(idx)
        self.last_seen = np.where(last >= grp_start, self.t[np.maximum(last, 0)], -1)

    def count_before(self, keys: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cnt = np.zeros((len(keys), self.cum.shape[1]), np.int64)
        last = np.full(len(keys), -1, dtype=NS)
        get = self.slices.get
        for i, (k, q) in enumerate(zip(keys, t, strict=True)):
            sl = get(k)
            if sl is None:
                continue
            s, e = sl
            j = s + int(np.searchsorted(self.t[s:e], q, side="left"))
            if j > s:
                cnt[i] = self.cum[j] - self.cum[s]
                last[i] = self.last_seen[j - 1]
        return cnt, last


class _KeyBuffer:
    """One key's buffered events in time order, with prefix sums of the weights and the
    latest sighting time up to each position: a query is one binary search. Events
    arrive in time order (the history is fed as referrals come), so adding is an append;
    an older event is inserted and the sums after it are recomputed."""

    __slots__ = ("t", "w", "cum", "last")

    def __init__(self) -> None:
        self.t: list[int] = []
        self.w: list[tuple[int, ...]] = []
        self.cum: list[tuple[int, ...]] = [(0,) * len(WEIGHTS)]  # cum[i]: first i events
        self.last: list[int] = [-1]  # last[i]: latest sighting among the first i events

    def add(self, t: int, w: tuple[int, ...]) -> None:
        if not self.t or t >= self.t[-1]:
            self.t.append(t)
            self.w.append(w)
            self.cum.append(tuple(a + b for a, b in zip(self.cum[-1], w, strict=True)))
            self.last.append(t if w[0] > 0 else self.last[-1])
            return
        i = bisect_right(self.t, t)
        self.t.insert(i, t)
        self.w.insert(i, w)
        del self.cum[i + 1 :], self.last[i + 1 :]
        for tj, wj in zip(self.t[i:], self.w[i:], strict=True):
            self.cum.append(tuple(a + b for a, b in zip(self.cum[-1], wj, strict=True)))
            self.last.append(tj if wj[0] > 0 else self.last[-1])

    def before(self, q: int) -> tuple[tuple[int, ...], int]:
        """Summed weights of the events with time < ``q``, and the latest sighting time
        among them (-1 if none)."""
        j = bisect_left(self.t, q)
        return self.cum[j], self.last[j]


BUFFER_LIMIT = 20_000


class History:
    """Pseudonymised events known to the system before the referrals being scored.

    Built for a service that scores one referral at a time against years of history:
    events live in per-family indexes (see ``_Index``) plus an append buffer, per key kept
    in time order with prefix sums (``_KeyBuffer``), that is folded into the indexes when
    it grows past ``BUFFER_LIMIT`` events. A lookup costs a few hash probes and binary
    searches, in the index and in the buffer, never a scan: not of the history, and not of
    the buffer either (the global and platform keys collect thousands of buffered events).
    """

    def __init__(self, buffer_limit: int = BUFFER_LIMIT) -> None:
        self.buffer_limit = buffer_limit
        self._index: dict[str, _Index] = {}
        self._base: list[pd.DataFrame] = []
        self._buffer: list[pd.DataFrame] = []
        self._by_key: dict[tuple[str, str], _KeyBuffer] = {}
        self._n_buffer = 0
        self._n = 0

    @classmethod
    def of(
        cls,
        referrals: Sequence[Referral],
        outcomes: Sequence[Outcome | None] | None = None,
        buffer_limit: int = BUFFER_LIMIT,
    ) -> History:
        h = cls(buffer_limit)
        h.add_events(events_for(referrals, outcomes))
        return h

    def extend(
        self, referrals: Sequence[Referral], outcomes: Sequence[Outcome | None] | None = None
    ) -> None:
        self.add_events(events_for(referrals, outcomes))

    def add_events(self, events: pd.DataFrame) -> None:
        if len(events) == 0:
            return
        self._buffer.append(events)
        self._n_buffer += len(events)
        self._n += len(events)
        if self._n_buffer > self.buffer_limit:
            self._consolidate()
            return
        order = np.argsort(events["t"].to_numpy(NS), kind="stable")  # appends, not inserts
        rows = zip(
            events["family"].to_numpy(object)[order],
            events["key"].to_numpy(object)[order],
            events["t"].to_numpy(NS)[order].tolist(),
            events[list(WEIGHTS)].to_numpy(np.int64)[order].tolist(),
            strict=True,
        )
        for fam, key, t, w in rows:
            buf = self._by_key.get((fam, key))
            if buf is None:
                buf = self._by_key[(fam, key)] = _KeyBuffer()
            buf.add(t, tuple(w))

    def _consolidate(self) -> None:
        self._base = [self.events()]
        self._buffer, self._n_buffer, self._by_key = [], 0, {}
        base = self._base[0]
        fam = base["family"].to_numpy(object)
        self._index = {f: _Index(base[fam == f]) for f in FAMILIES if (fam == f).any()}

    def events(self) -> pd.DataFrame:
        """Every event held (for saving); the order carries no meaning."""
        parts = self._base + self._buffer
        if not parts:
            return events_for([], None)
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def count_before(
        self, family: str, keys: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per query (key, t): summed weights of this family's events with the key and
        time < t, and the latest sighting time before t (-1 if none)."""
        idx = self._index.get(family)
        if idx is not None:
            cnt, last = idx.count_before(keys, t)
        else:
            cnt = np.zeros((len(keys), len(WEIGHTS)), np.int64)
            last = np.full(len(keys), -1, dtype=NS)
        if self._by_key:
            get = self._by_key.get
            for i, (k, q) in enumerate(zip(keys.tolist(), t.tolist(), strict=True)):
                buf = get((family, k))
                if buf is not None:
                    c, seen = buf.before(q)
                    cnt[i] += c
                    last[i] = max(last[i], seen)
        return cnt, last

    def __len__(self) -> int:
        return self._n
