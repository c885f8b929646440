"""The drift rule: when a difference between two windows counts as drift.

One rule for every signal: a check is *flagged* only if it is **both** statistically
significant and large enough to matter.

* Significant: p-value below ``ALPHA / m``, where ``m`` is the number of checks in the
  report (Bonferroni), so a report of ~100 checks on two same-distribution windows raises
  a false alarm at most ~1% of the time whatever its size. Small windows therefore need
  a large difference before they alarm.
* Large enough: an effect size at or above a floor that does not shrink with the window
  (``FLOORS``), so a large window does not alarm on a trivial shift that is merely
  certain.

History features (``HISTORY_GROUPS``) are checked and shown but never raise the alarm:
their values describe how much the store remembers (linked referrals, platform counts and
rates), which grows as the store fills even when the stream does not change, and they are
shared by every referral of a platform, so per-referral tests overstate the evidence. What
they would reflect is checked directly: platform mix, unseen platforms, volume.
``docs/drift.md`` explains each signal and what to do about it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel
from scipy import stats

from features.catalogue import CATALOGUE

ALPHA = 0.01
FLOORS = {
    "wasserstein": 0.1,  # Wasserstein distance / reference standard deviation
    "jensenshannon": 0.05,  # Jensen-Shannon distance (natural log), shares of levels
    "rate_ratio": 1.15,  # referrals per day, current / reference (or its inverse)
    "unseen_share": 0.01,  # share of current referrals from platforms the reference lacks
    "override_increase": 0.10,  # override rate, latest window minus earlier windows
}
MIN_ROWS = 30  # non-missing values needed in each window before a column is tested
HISTORY_GROUPS = ("linking", "platform")
HISTORY_FEATURES = frozenset(s.name for s in CATALOGUE if s.group in HISTORY_GROUPS)
SIGNALS = (
    "data",
    "missingness",
    "prediction",
    "platform_mix",
    "unseen_platforms",
    "volume",
    "overrides",
    "history",
)


class Check(BaseModel):
    """One tested difference, with everything needed to re-judge it by hand."""

    signal: str
    name: str
    test: str
    p_value: float
    effect_name: str
    effect: float
    floor: float
    significant: bool
    large: bool
    flagged: bool
    reference: float | None = None  # a level, share or rate in the reference
    current: float | None = None
    n_reference: int = 0
    n_current: int = 0
    note: str = ""


def judge(
    signal: str,
    name: str,
    test: str,
    p: float,
    effect_name: str,
    effect: float,
    alpha: float,
    **extra: object,
) -> Check:
    """Apply the rule: significant (p < alpha) and large (effect at or above its floor)."""
    floor = FLOORS[effect_name]
    p = p if math.isfinite(p) else 1.0  # an undefined test is no evidence
    effect = effect if not math.isnan(effect) else 0.0
    if effect_name == "rate_ratio":
        large = not math.isfinite(effect) or effect >= floor or effect <= 1 / floor
    else:
        large = effect >= floor
    significant = bool(p < alpha)
    flagged = significant and large and signal != "history"
    return Check(
        signal=signal,
        name=name,
        test=test,
        p_value=float(p),
        effect_name=effect_name,
        effect=float(effect) if math.isfinite(effect) else 1e9,
        floor=floor,
        significant=significant,
        large=bool(large),
        flagged=flagged,
        **extra,  # type: ignore[arg-type]
    )


def volume_checks(
    ref_sources: pd.Series,
    ref_days: float,
    cur_sources: pd.Series,
    cur_days: float,
    alpha: float,
    sample_fraction: float = 1.0,
) -> list[Check]:
    """Referrals per day, overall and per source: a conditional (binomial) test of two
    Poisson rates. ``sample_fraction`` < 1 says the reference was thinned to that share."""
    p0 = cur_days / (cur_days + sample_fraction * ref_days)
    groups = [("all", len(ref_sources), len(cur_sources))]
    counts_r, counts_c = ref_sources.value_counts(), cur_sources.value_counts()
    for s in sorted(set(counts_r.index) | set(counts_c.index), key=str):
        groups.append((f"source={s}", int(counts_r.get(s, 0)), int(counts_c.get(s, 0))))
    out = []
    for name, nr, nc in groups:
        rate_r = nr / (sample_fraction * ref_days)
        rate_c = nc / cur_days
        ratio = rate_c / rate_r if rate_r > 0 else math.inf
        p = stats.binomtest(nc, nr + nc, p0).pvalue if nr + nc > 0 else 1.0
        out.append(
            judge(
                "volume",
                name,
                "poisson_rate_binomial",
                p,
                "rate_ratio",
                ratio,
                alpha,
                reference=round(rate_r, 3),
                current=round(rate_c, 3),
                n_reference=nr,
                n_current=nc,
                note="referrals per day",
            )
        )
    return out


def unseen_check(ref_platforms: pd.Series, cur_platforms: pd.Series, alpha: float) -> Check:
    """Share of current referrals from platforms that never appear in the reference.

    If such platforms had that share all along, a reference of ``n`` referrals would
    miss them with probability ``(1 - share) ** n``: that is the p-value.
    """
    seen = set(ref_platforms.dropna().astype(str))
    cur = cur_platforms.dropna().astype(str)
    unseen = cur[~cur.isin(seen)]
    share = len(unseen) / len(cur_platforms) if len(cur_platforms) else 0.0
    n_ref = int(ref_platforms.notna().sum())
    p = float(np.exp(n_ref * np.log1p(-min(share, 1 - 1e-12)))) if share > 0 else 1.0
    names = unseen.value_counts().head(10)
    return judge(
        "unseen_platforms",
        "platforms not in the reference",
        "absence_probability",
        p,
        "unseen_share",
        share,
        alpha,
        reference=0.0,
        current=round(share, 4),
        n_reference=n_ref,
        n_current=len(unseen),
        note="; ".join(f"{_short(k)} ({v})" for k, v in names.items()),
    )


def override_checks(rates: Sequence[object], alpha: float) -> list[Check]:
    """Per tier: the latest window's override rate against all earlier windows pooled
    (one-sided Fisher exact test: is it higher?). ``rates``: ``serving`` OverrideRate."""
    if not rates:
        return []
    latest = max(r.start for r in rates)  # type: ignore[attr-defined]
    out = []
    for tier in ("immediate", "high", "routine"):
        now = [r for r in rates if r.tier == tier and r.start == latest]  # type: ignore[attr-defined]
        before = [r for r in rates if r.tier == tier and r.start < latest]  # type: ignore[attr-defined]
        d1, o1 = sum(r.decisions for r in now), sum(r.overrides for r in now)  # type: ignore[attr-defined]
        d0, o0 = sum(r.decisions for r in before), sum(r.overrides for r in before)  # type: ignore[attr-defined]
        if d1 == 0 or d0 == 0:
            continue
        p = stats.fisher_exact([[o1, d1 - o1], [o0, d0 - o0]], alternative="greater").pvalue
        r1, r0 = o1 / d1, o0 / d0
        out.append(
            judge(
                "overrides",
                f"tier={tier}",
                "fisher_exact_greater",
                p,
                "override_increase",
                r1 - r0,
                alpha,
                reference=round(r0, 4),
                current=round(r1, 4),
                n_reference=d0,
                n_current=d1,
                note="override rate: earlier windows vs the latest",
            )
        )
    return out


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
