"""The one module that talks to Evidently (0.7's ``Report`` / ``ValueDrift`` API).

Per column it asks Evidently for two numbers: a significance test (``p_value``) and an
effect size. Numeric columns: two-sample Kolmogorov-Smirnov p-value and the Wasserstein
distance in units of the reference's standard deviation. Categorical columns (and binary
flags, and missingness indicators): a chi-square test of *homogeneity* on the 2 x k table
of counts, and the Jensen-Shannon distance between the two shares.

Evidently's own ``chisquare`` is a goodness-of-fit test that takes the reference shares as
exact, ignoring the reference's own sampling noise, and returns p = 0 as soon as the
current window holds a level the reference lacks; on windows of a few thousand
referrals that alarms on noise. So the homogeneity test is registered here as an Evidently
stat test (once, on first use), with sparse levels pooled so every expected count is at
least 5 (Cochran's rule of thumb for the chi-square approximation).

The adapter reports numbers; it decides nothing. ``reports.drift_rule`` decides. An
Evidently upgrade should only ever touch this file.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

NUMERIC_TEST, NUMERIC_EFFECT = "ks", "wasserstein"
CATEGORICAL_TEST, CATEGORICAL_EFFECT = "chi2_homogeneity", "jensenshannon"
MIN_EXPECTED = 5.0  # a level with a smaller expected count is pooled with the others
MIN_POOLED = 1.0  # the pool itself, if expected to be smaller, joins the smallest level
_REGISTERED: list[bool] = []


@dataclass(frozen=True)
class ColumnResult:
    """Evidently's two numbers for one column, with the non-missing counts behind them."""

    column: str
    kind: str  # "numeric" or "categorical"
    test: str
    p_value: float
    effect_name: str
    effect: float
    n_reference: int
    n_current: int


@dataclass
class DriftRun:
    """Per-column results plus the Evidently snapshot (kept to write its HTML)."""

    columns: list[ColumnResult]
    snapshot: Any

    def save_html(self, path: Path) -> Path:
        if self.snapshot is None:
            raise ValueError("this run was made without html")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.snapshot.save_html(str(path))
        return path


def homogeneity_p_value(reference: pd.Series, current: pd.Series) -> float:
    """Chi-square test that both samples come from one categorical distribution.

    Levels whose expected count (under the pooled shares) is below ``MIN_EXPECTED`` in
    either sample are pooled into one level, and the pool joins the smallest other level
    if its own expected count is below ``MIN_POOLED`` (Cochran's rules for the chi-square
    approximation). So one or two referrals with a never-seen level cannot decide the
    test, while a new level that takes a real share of the window still does.
    """
    ref = reference.dropna().astype(str).value_counts()
    cur = current.dropna().astype(str).value_counts()
    table = pd.concat([ref, cur], axis=1).fillna(0.0).to_numpy(dtype=float).T
    n = table.sum(axis=1, keepdims=True)
    if table.shape[1] < 2 or (n == 0).any():
        return 1.0
    expected = n * table.sum(axis=0, keepdims=True) / n.sum()
    sparse = (expected < MIN_EXPECTED).any(axis=0)
    if sparse.any():
        pooled = table[:, sparse].sum(axis=1)
        table = table[:, ~sparse]
        if table.shape[1] < 2:
            return 1.0
        if (n[:, 0] * pooled.sum() / n.sum() < MIN_POOLED).any():
            smallest = int(np.argmin(table.sum(axis=0)))  # still sparse: fold it in
            table[:, smallest] += pooled
        else:
            table = np.column_stack([table, pooled])
    return float(stats.chi2_contingency(table, correction=False)[1])


def _register() -> None:
    """Make ``chi2_homogeneity`` known to Evidently's stat-test registry (idempotent)."""
    if _REGISTERED:
        return
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    def impl(
        reference: pd.Series, current: pd.Series, _type: Any, threshold: float
    ) -> tuple[float, bool]:
        p = homogeneity_p_value(reference, current)
        return p, p < threshold

    test = StatTest(
        name=CATEGORICAL_TEST,
        display_name="chi-square homogeneity p_value",
        allowed_feature_types=[ColumnType.Categorical],
        default_threshold=0.01,
    )
    register_stattest(test, impl)
    _REGISTERED.append(True)


def _methods(kind: str) -> tuple[str, str]:
    if kind == "numeric":
        return NUMERIC_TEST, NUMERIC_EFFECT
    return CATEGORICAL_TEST, CATEGORICAL_EFFECT


def _direct(ref: pd.Series, cur: pd.Series, kind: str, method: str, threshold: float) -> float:
    """One of Evidently's stat tests called as ``ValueDrift`` calls it (NaN dropped)."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    ctype = ColumnType.Numerical if kind == "numeric" else ColumnType.Categorical
    ref, cur = ref.dropna(), cur.dropna()
    test = get_stattest(ref, cur, ctype, method)
    return float(test(ref, cur, ctype, threshold).drift_score)


def column_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    alpha: float,
    numeric_floor: float,
    categorical_floor: float,
    html: bool = True,
) -> DriftRun:
    """Evidently's two numbers for each given column of both frames.

    Categorical columns must hold strings (or NaN). With ``html`` (the monitor) the
    numbers come from one Evidently ``Report`` of ``ValueDrift`` metrics, kept for its
    HTML; ``alpha`` (the per-column significance level) and the floors are its thresholds,
    so the HTML marks each half of the rule. Without ``html`` (calibration runs, tests) the
    same stat tests are called directly: identical numbers, no plotly figures to build
    (which is most of a report's cost). The decision itself is made by the caller.
    """
    for var in ("DO_NOT_TRACK", "EVIDENTLY_DISABLE_TELEMETRY"):
        os.environ.setdefault(var, "true")
    _register()
    with warnings.catch_warnings():
        # scipy's K-S falls back to its asymptotic p-value on large samples, and says so
        warnings.filterwarnings("ignore", message="ks_2samp", category=RuntimeWarning)
        return _run(
            reference, current, numeric, categorical, alpha, numeric_floor, categorical_floor, html
        )


def _run(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    alpha: float,
    numeric_floor: float,
    categorical_floor: float,
    html: bool,
) -> DriftRun:
    cols = [*numeric, *categorical]
    kinds = {c: "numeric" if c in numeric else "categorical" for c in cols}
    floors = {NUMERIC_EFFECT: numeric_floor, CATEGORICAL_EFFECT: categorical_floor}
    values: dict[tuple[str, str], float] = {}
    snapshot = None
    if html:
        from evidently import DataDefinition, Dataset, Report
        from evidently.metrics import ValueDrift

        definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
        metrics = []
        for c in cols:
            test, effect = _methods(kinds[c])
            metrics.append(ValueDrift(column=c, method=test, threshold=alpha))
            metrics.append(ValueDrift(column=c, method=effect, threshold=floors[effect]))
        snapshot = Report(metrics).run(
            current_data=Dataset.from_pandas(current[cols], data_definition=definition),
            reference_data=Dataset.from_pandas(reference[cols], data_definition=definition),
        )
        for m in snapshot.dict()["metrics"]:
            values[(m["config"]["column"], m["config"]["method"])] = float(m["value"])
    else:
        for c in cols:
            test, effect = _methods(kinds[c])
            values[(c, test)] = _direct(reference[c], current[c], kinds[c], test, alpha)
            values[(c, effect)] = _direct(
                reference[c], current[c], kinds[c], effect, floors[effect]
            )
    out = []
    for c in cols:
        test, effect = _methods(kinds[c])
        out.append(
            ColumnResult(
                column=c,
                kind=kinds[c],
                test=test,
                p_value=values[(c, test)],
                effect_name=effect,
                effect=values[(c, effect)],
                n_reference=int(reference[c].notna().sum()),
                n_current=int(current[c].notna().sum()),
            )
        )
    return DriftRun(out, snapshot)
