"""Exact TreeSHAP for just the class we show, compiled with numba.

Why not LightGBM's ``pred_contrib``: it explains every class of a head (3x the trees we
need) and costs milliseconds of fixed overhead per call, so it dominates both the batch
and the one-referral path. This module computes the same tree-path-dependent Shapley
values (equal to ``pred_contrib`` within float rounding; a test holds them to 1e-6) for
one chosen class per row.

How: for a leaf whose root path splits on the distinct features ``P`` (k of them), with
cover fractions ``z`` and, for a row, the set ``N`` of those features the row agrees with,
the leaf adds ``-v * Z_F * H(N)`` to every feature off the row's path (``F = P \\ N``,
``Z_F`` the product of their ``z``) and ``v * (1 - z_j) * Z_F * H(N \\ {j})`` to each
``j`` in ``N``, where ``H(A) = sum_m m!(k-1-m)!/k! * e_{|A|-m}(z_A)``. ``H`` depends on the
subset only, so it is tabulated once per model (2^k values per leaf, k <= ``TABLE_K``)
and a row costs one pass over each leaf's path instead of TreeSHAP's O(L D^2) recursion.
"""

from __future__ import annotations

from math import factorial
from typing import Any, NamedTuple

import lightgbm as lgb
import numpy as np

from models.treeshap_kernels import _blocks_parallel, _blocks_serial, _fill_tables

TABLE_K = 12  # leaves with more distinct path features are computed directly (rare)
_NUMERIC, _CATEGORICAL = 0, 1
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}


class Forest(NamedTuple):
    """One booster's trees, flattened and grouped by class, with the ``H`` tables (a named
    tuple of arrays, which numba compiles against directly)."""

    num_class: int
    num_features: int
    tree_start: np.ndarray  # per class: first tree (trees are stored class by class)
    node_start: np.ndarray  # per tree
    leaf_start: np.ndarray  # per tree
    feature: np.ndarray  # per node
    threshold: np.ndarray
    kind: np.ndarray
    missing: np.ndarray
    default_left: np.ndarray
    cat_left: np.ndarray  # (nodes, max category + 1): category goes left
    leaf_value: np.ndarray
    path_start: np.ndarray  # per leaf, into path_node/path_left/path_slot
    path_node: np.ndarray
    path_left: np.ndarray
    path_slot: np.ndarray
    slot_start: np.ndarray  # per leaf, into slot_feature/slot_zero
    slot_feature: np.ndarray
    slot_zero: np.ndarray
    table_start: np.ndarray  # per leaf, into table (-1: no table)
    table: np.ndarray
    weights: np.ndarray  # weights[k, m] = m!(k-1-m)!/k!, the Shapley weight
    base: np.ndarray  # per class: expected value (the contribution array's last column)
    max_nodes: int  # internal nodes of the largest tree (scratch size per row)


def _cats(threshold: Any) -> list[int]:
    return [int(c) for c in str(threshold).split("||")]


def _flatten_tree(tree: dict[str, Any], acc: dict[str, list[Any]]) -> float:
    """Append one tree's nodes and leaves; return its expected value."""
    root = tree["tree_structure"]
    if "leaf_value" in root and "split_feature" not in root:
        acc["leaves"].append((float(root["leaf_value"]), [], [], []))
        return float(root["leaf_value"])
    n0 = len(acc["nodes"])
    total = float(root["internal_count"])
    expected = 0.0
    stack: list[tuple[dict[str, Any], list[tuple[int, bool]], dict[int, float]]] = []
    stack.append((root, [], {}))
    while stack:
        node, path, zero = stack.pop()
        if "split_feature" not in node:
            feats = list(zero)
            slot = {f: s for s, f in enumerate(feats)}
            steps = [(nd, left, slot[acc["nodes"][n0 + nd][0]]) for nd, left in path]
            acc["leaves"].append(
                (float(node["leaf_value"]), steps, feats, [zero[f] for f in feats])
            )
            expected += float(node["leaf_count"]) / total * float(node["leaf_value"])
            continue
        idx = len(acc["nodes"])
        cat = node["decision_type"] == "=="
        acc["nodes"].append(
            (
                int(node["split_feature"]),
                0.0 if cat else float(node["threshold"]),
                _CATEGORICAL if cat else _NUMERIC,
                _MISSING[node["missing_type"]],
                bool(node["default_left"]),
                _cats(node["threshold"]) if cat else [],
            )
        )
        cover = float(node["internal_count"])
        f = int(node["split_feature"])
        for child, left in ((node["right_child"], False), (node["left_child"], True)):
            c = float(child["internal_count"] if "internal_count" in child else child["leaf_count"])
            z = dict(zero)
            z[f] = z.get(f, 1.0) * c / cover
            stack.append((child, [*path, (idx - n0, left)], z))
    return expected


def prepare(booster: lgb.Booster) -> Forest:
    """Flatten ``booster`` (any multiclass or single-output LightGBM model) once per model
    version; the result is what :func:`contributions_for` needs."""
    dump = booster.dump_model()
    k_cls = int(dump["num_tree_per_iteration"])
    trees = sorted(dump["tree_info"], key=lambda t: (t["tree_index"] % k_cls, t["tree_index"]))
    acc: dict[str, list[Any]] = {"nodes": [], "leaves": []}
    node_start, leaf_start, base = [0], [0], np.zeros(k_cls)
    tree_start = np.zeros(k_cls + 1, dtype=np.int64)
    for t in trees:
        base[t["tree_index"] % k_cls] += _flatten_tree(t, acc)
        tree_start[t["tree_index"] % k_cls + 1] += 1
        node_start.append(len(acc["nodes"]))
        leaf_start.append(len(acc["leaves"]))
    nodes, leaves = acc["nodes"], acc["leaves"]
    max_cat = max([max(n[5]) for n in nodes if n[5]], default=0) + 1
    cat_left = np.zeros((max(len(nodes), 1), max_cat), dtype=np.bool_)
    for i, n in enumerate(nodes):
        cat_left[i, n[5]] = True
    path_start = np.cumsum([0] + [len(lf[1]) for lf in leaves]).astype(np.int64)
    slot_start = np.cumsum([0] + [len(lf[2]) for lf in leaves]).astype(np.int64)
    sizes = [1 << len(lf[2]) if len(lf[2]) <= TABLE_K else 0 for lf in leaves]
    table_start = np.where(np.array(sizes) > 0, np.cumsum([0, *sizes[:-1]]), -1).astype(np.int64)
    kmax = max([len(lf[2]) for lf in leaves], default=0)
    weights = np.zeros((kmax + 1, kmax + 1))
    for k in range(1, kmax + 1):
        for m in range(k):
            weights[k, m] = factorial(m) * factorial(k - 1 - m) / factorial(k)
    steps = [s for lf in leaves for s in lf[1]]
    forest = Forest(
        num_class=k_cls,
        num_features=int(dump["max_feature_idx"]) + 1,
        tree_start=np.cumsum(tree_start),
        node_start=np.asarray(node_start, dtype=np.int64),
        leaf_start=np.asarray(leaf_start, dtype=np.int64),
        feature=np.array([n[0] for n in nodes], dtype=np.int64),
        threshold=np.array([n[1] for n in nodes], dtype=np.float64),
        kind=np.array([n[2] for n in nodes], dtype=np.int8),
        missing=np.array([n[3] for n in nodes], dtype=np.int8),
        default_left=np.array([n[4] for n in nodes], dtype=np.bool_),
        cat_left=cat_left,
        leaf_value=np.array([lf[0] for lf in leaves], dtype=np.float64),
        path_start=path_start,
        path_node=np.array([s[0] for s in steps], dtype=np.int64),
        path_left=np.array([s[1] for s in steps], dtype=np.bool_),
        path_slot=np.array([s[2] for s in steps], dtype=np.int64),
        slot_start=slot_start,
        slot_feature=np.array([f for lf in leaves for f in lf[2]], dtype=np.int64),
        slot_zero=np.array([z for lf in leaves for z in lf[3]], dtype=np.float64),
        table_start=table_start,
        table=np.zeros(sum(sizes)),
        weights=weights,
        base=base,
        max_nodes=max(int(np.diff(node_start).max(initial=0)), 1),
    )
    _fill_tables(
        forest.slot_start, forest.slot_zero, forest.table_start, forest.table, forest.weights
    )
    return forest


PARALLEL_FROM = 256  # rows; below this the thread hand-off costs more than it saves
BLOCK = 256  # rows that pass through one tree together (the tree and its tables stay cached)


def contributions_for(forest: Forest, X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Array (n, F+1): row i's per-feature contributions to class ``classes[i]``'s raw
    margin, base value last, as LightGBM's ``pred_contrib`` would give for that class.

    ``X`` is the float64 matrix LightGBM predicts on (categorical codes, NaN missing)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    cls = np.ascontiguousarray(classes, dtype=np.int64)
    if X.ndim != 2 or X.shape[1] != forest.num_features:
        raise ValueError(f"X: needs {forest.num_features} feature columns")
    if len(cls) != len(X) or (len(cls) and (cls.min() < 0 or cls.max() >= forest.num_class)):
        raise ValueError("classes: one class index per row, within the booster's classes")
    out = np.zeros((len(X), forest.num_features + 1))
    order = np.argsort(cls, kind="stable")
    starts, block_cls = [0], []
    for c in range(forest.num_class):  # blocks of rows explained for the same class
        end = starts[-1] + int((cls == c).sum())
        while starts[-1] < end:
            block_cls.append(c)
            starts.append(min(starts[-1] + BLOCK, end))
    run = _blocks_parallel if len(X) >= PARALLEL_FROM else _blocks_serial
    run(
        X,
        order,
        np.array(starts),
        np.array(block_cls, dtype=np.int64),
        forest,
        out,
        forest.max_nodes,
    )
    return out
