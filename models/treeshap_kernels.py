"""The compiled half of :mod:`models.treeshap`: filling the ``H`` tables and walking the
rows. Kept apart so the flattening code (plain Python) and the kernels (numba) each stay
small; see :mod:`models.treeshap` for the formula."""

# mypy: ignore-errors
from __future__ import annotations

import numpy as np
from numba import njit, prange

_CATEGORICAL = 1


@njit(cache=True)
def _h(zs: np.ndarray, w: np.ndarray, k: int) -> float:
    """H(A) for the cover fractions ``zs`` of A, in a leaf with k distinct features."""
    e = np.zeros(len(zs) + 1)
    e[0] = 1.0
    for i in range(len(zs)):
        for m in range(i + 1, 0, -1):
            e[m] += zs[i] * e[m - 1]
    a = len(zs)
    h = 0.0
    for m in range(a + 1):
        h += w[k, m] * e[a - m]
    return h


@njit(cache=True)
def _fill_tables(slot_start, slot_zero, table_start, table, w):  # type: ignore[no-untyped-def]
    zs = np.empty(64)
    for leaf in range(len(table_start)):
        t0 = table_start[leaf]
        if t0 < 0:
            continue
        s0 = slot_start[leaf]
        k = slot_start[leaf + 1] - s0
        for pattern in range(1 << k):
            a = 0
            for s in range(k):
                if (pattern >> s) & 1:
                    zs[a] = slot_zero[s0 + s]
                    a += 1
            table[t0 + pattern] = _h(zs[:a], w, k)


@njit(cache=True)
def _goes_left(x: float, kind: int, missing: int, default_left: bool, thr: float, cats) -> bool:  # type: ignore[no-untyped-def]
    """LightGBM's own decision rule (tree.h ``NumericalDecision``/``CategoricalDecision``)."""
    if kind == _CATEGORICAL:
        if np.isnan(x):
            if missing == 2:
                return False
            x = 0.0
        c = int(x)
        return 0 <= c < len(cats) and cats[c]
    if np.isnan(x) and missing != 2:
        x = 0.0
    if (missing == 1 and abs(x) <= 1e-35) or (missing == 2 and np.isnan(x)):
        return default_left
    return x <= thr


@njit(cache=True)
def _tree(x, t, f, out, dec, e):  # type: ignore[no-untyped-def]
    """Add tree ``t``'s contributions for row ``x`` into ``out``."""
    n0 = f.node_start[t]
    for nd in range(n0, f.node_start[t + 1]):
        dec[nd - n0] = _goes_left(
            x[f.feature[nd]],
            f.kind[nd],
            f.missing[nd],
            f.default_left[nd],
            f.threshold[nd],
            f.cat_left[nd],
        )
    for leaf in range(f.leaf_start[t], f.leaf_start[t + 1]):
        s0 = f.slot_start[leaf]
        k = f.slot_start[leaf + 1] - s0
        if k == 0:
            continue
        pattern = (1 << k) - 1
        for p in range(f.path_start[leaf], f.path_start[leaf + 1]):
            if dec[f.path_node[p]] != f.path_left[p]:
                pattern &= ~(1 << f.path_slot[p])
        v = f.leaf_value[leaf]
        zf = 1.0
        for s in range(k):
            if not (pattern >> s) & 1:
                zf *= f.slot_zero[s0 + s]
        t0 = f.table_start[leaf]
        if t0 >= 0:
            off = -v * zf * f.table[t0 + pattern]
            for s in range(k):
                if (pattern >> s) & 1:
                    h = f.table[t0 + (pattern & ~(1 << s))]
                    out[f.slot_feature[s0 + s]] += v * (1.0 - f.slot_zero[s0 + s]) * zf * h
                else:
                    out[f.slot_feature[s0 + s]] += off
        else:
            _direct(f, leaf, s0, k, pattern, v, zf, out, e)


@njit(cache=True)
def _direct(f, leaf, s0, k, pattern, v, zf, out, sc):  # type: ignore[no-untyped-def]
    """The same leaf formula without a table (leaves with more than ``TABLE_K``
    distinct features): the on-features' elementary symmetric polynomials once, then
    one O(k) deflation per on-feature, so O(k^2) per leaf and no memory traffic."""
    e, d = sc[:65], sc[65:130]
    w = f.weights
    e[0] = 1.0
    a = 0
    for s in range(k):
        if (pattern >> s) & 1:
            z = f.slot_zero[s0 + s]
            a += 1
            e[a] = 0.0
            for m in range(a, 0, -1):
                e[m] += z * e[m - 1]
    h = 0.0
    for m in range(a + 1):
        h += w[k, m] * e[a - m]
    off = -v * zf * h
    for s in range(k):
        if (pattern >> s) & 1:
            z = f.slot_zero[s0 + s]
            d[0] = 1.0
            for m in range(1, a):
                d[m] = e[m] - z * d[m - 1]
            h = 0.0
            for m in range(a):
                h += w[k, m] * d[a - 1 - m]
            out[f.slot_feature[s0 + s]] += v * (1.0 - z) * zf * h
        else:
            out[f.slot_feature[s0 + s]] += off


@njit(cache=True)
def _block(X, idx, c, f, out, dec, e):  # type: ignore[no-untyped-def]
    """Rows ``idx`` (all explained for class ``c``), tree by tree: one tree's arrays stay
    in cache while the block's rows pass through it (row by row, every row would stream
    the whole forest from memory, which is what bounded the first version)."""
    for i in idx:
        out[i, :] = 0.0
        out[i, -1] = f.base[c]
    for t in range(f.tree_start[c], f.tree_start[c + 1]):
        for i in idx:
            _tree(X[i], t, f, out[i], dec, e)


@njit(cache=True, parallel=True)
def _blocks_parallel(X, order, starts, classes, f, out, max_nodes):  # type: ignore[no-untyped-def]
    for b in prange(len(starts) - 1):
        idx = order[starts[b] : starts[b + 1]]
        _block(X, idx, classes[b], f, out, np.empty(max_nodes, np.bool_), np.empty(130))


@njit(cache=True)
def _blocks_serial(X, order, starts, classes, f, out, max_nodes):  # type: ignore[no-untyped-def]
    dec, e = np.empty(max_nodes, np.bool_), np.empty(130)
    for b in range(len(starts) - 1):
        _block(X, order[starts[b] : starts[b + 1]], classes[b], f, out, dec, e)
