"""The waiting line of the queue simulation: who a free reviewer takes next.

Two orders share one interface (``add`` arrivals, ``pop`` the next, ``len``):
:class:`StaticQueue` for a priority fixed at scoring, :class:`AgeingQueue` for a priority
recomputed as referrals wait (the queue of issue 11: ``models.ageing.priority_now``).
Ties always fall to the earlier arrival, then the smaller referral id
(``training.metrics.TIE_BREAK``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

import numpy as np

# (rows, hours each has waited) -> priority now, higher first
Reprioritise = Callable[[np.ndarray, np.ndarray], np.ndarray]


class StaticQueue:
    """Waiting referrals keyed by their fixed position in the review order."""

    def __init__(self, rank: np.ndarray) -> None:
        self.rank = rank.tolist()
        self.item_of_rank = np.empty(len(rank), dtype=np.int64)
        self.item_of_rank[rank] = np.arange(len(rank))
        self.heap: list[int] = []

    def __len__(self) -> int:
        return len(self.heap)

    def add(self, items: list[int], t: float) -> None:
        for i in items:
            heapq.heappush(self.heap, self.rank[i])

    def pop(self, t: float) -> int:
        return int(self.item_of_rank[heapq.heappop(self.heap)])


class AgeingQueue:
    """Waiting referrals ordered by priority *now*: ``reprioritise(items, waited_hours)``
    is re-evaluated for everyone waiting at most every ``every`` hours (0 = at every
    dequeue, exact). Between re-evaluations the best few are kept sorted (a frontier) and
    newcomers enter a heap with their priority at arrival (computed in one batch for the
    arrivals up to the next re-evaluation)."""

    def __init__(
        self, arr: np.ndarray, idrank: np.ndarray, fn: Reprioritise, every: float, width: int
    ) -> None:
        self.arr, self.idrank, self.fn, self.every, self.width = arr, idrank, fn, every, width
        self.by_time = np.argsort(arr, kind="stable")
        self.sorted_arr = arr[self.by_time]
        self.pool = np.empty(0, dtype=np.int64)  # waiting, below the frontier
        self.front: list[tuple[float, float, int, int]] = []
        self.pos = 0
        self.new: list[tuple[float, float, int, int]] = []
        self.unkeyed: list[int] = []
        self.pre: dict[int, tuple[float, float, int, int]] = {}
        self.last = -math.inf

    def __len__(self) -> int:
        return len(self.pool) + len(self.front) - self.pos + len(self.new) + len(self.unkeyed)

    def _keys(self, items: np.ndarray, negp: np.ndarray) -> list[tuple[float, float, int, int]]:
        return list(
            zip(
                negp.tolist(),
                self.arr[items].tolist(),
                self.idrank[items].tolist(),
                items.tolist(),
                strict=True,
            )
        )

    def add(self, items: list[int], t: float) -> None:
        for i in items:
            k = self.pre.pop(i, None)
            if k is None:
                self.unkeyed.append(i)
            else:
                heapq.heappush(self.new, k)

    def _rebuild(self, t: float) -> None:
        rest = [k[3] for k in self.front[self.pos :]] + [k[3] for k in self.new] + self.unkeyed
        items = np.concatenate([self.pool, np.asarray(rest, dtype=np.int64)])
        negp = -np.asarray(self.fn(items, t - self.arr[items]), dtype=np.float64)
        take = np.arange(len(items))
        if len(items) > 4 * self.width:
            cut = np.partition(negp, self.width - 1)[self.width - 1]
            cand = np.flatnonzero(negp <= cut)
            if len(cand) <= 4 * self.width:
                take = cand
        order = take[np.lexsort((self.idrank[items[take]], self.arr[items[take]], negp[take]))]
        keep = np.ones(len(items), dtype=bool)
        keep[order] = False
        self.pool = items[keep]
        self.front = self._keys(items[order], negp[order])
        self.pos, self.new, self.unkeyed, self.last = 0, [], [], t
        lo, hi = np.searchsorted(self.sorted_arr, [t, t + self.every], side="right")
        coming = self.by_time[lo:hi]
        at_arrival = -np.asarray(self.fn(coming, np.zeros(len(coming))), dtype=np.float64)
        self.pre = {k[3]: k for k in self._keys(coming, at_arrival)}

    def pop(self, t: float) -> int:
        stale = t - self.last >= self.every or self.unkeyed
        if stale or (self.pos >= len(self.front) and len(self.pool)):
            self._rebuild(t)
        if self.new and (self.pos >= len(self.front) or self.new[0] < self.front[self.pos]):
            return heapq.heappop(self.new)[3]
        self.pos += 1
        return self.front[self.pos - 1][3]
