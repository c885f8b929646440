"""The hard world's tables: latent state, truth and how each observed field depends on it.

The latent state of a referral is ``z = (r, a, o)``: a child at risk now (``r`` 0/1), the
youngest victim's true age class (``a``: 0 infant < 3, 1 child 3-11, 2 teen 12-17) and the
offender's activity (``o``: 0 low, 1 mid, 2 high): 18 states, indexed ``r*9 + a*3 + o``.
The truth (urgency before review) depends on ``z`` alone; every observed field that carries
information about it is drawn from ``P(field | z, context)`` with the context itself
observable (source, incident type, platform, date, earlier linked referrals), so the exact
Bayes posterior given the observables is a sum over 18 states (:mod:`hard_oracle`).

Nothing here is meant to be copied into a model: see ``docs/synthetic-data.md``.
"""

from __future__ import annotations

from datetime import date

import numpy as np

N_STATES = 18
R = np.repeat([0, 1], 9)
A = np.tile(np.repeat([0, 1, 2], 3), 2)
O = np.tile([0, 1, 2], 6)  # noqa: E741 (the latent's name)

CHANGE_DATE = date(2024, 1, 1)  # concept drift: escalation means less, sextortion more

# --- prior P(z | context) ----------------------------------------------------------------
TYPE_RISK = np.array([0.0, 1.6, 1.0, 1.8, -1.5, -1.5, 1.3, 0.5])  # by incident type
CONTACT_TYPES = (1, 3, 6)  # trafficking, molestation, online enticement: active offenders
AGE_PRIOR = {  # by incident-type group: infant, child, teen
    "contact": np.array([0.03, 0.27, 0.70]),
    "csam": np.array([0.08, 0.52, 0.40]),
    "other": np.array([0.05, 0.40, 0.55]),
}
R_INTERCEPT = -6.0
R_ACTIVITY = np.array([0.0, 0.9, 2.2])
R_AGE = np.array([0.8, 0.6, 0.3])
R_TEEN_AND_ACTIVE = 1.8  # interaction: a teenager and a very active offender (extortion)

# --- truth P(urgency | z): immediate / high / routine ------------------------------------
# two paths to "act within hours", with opposite ages: a child under 12 at risk now
# (hands-on abuse), or a teenager at risk now from a very active offender (an extortion
# crisis); a teenager at risk from a less active one is "high"
U_AT_RISK_CHILD = (0.90, 0.09, 0.01)
U_AT_RISK_TEEN_ACTIVE = (0.85, 0.14, 0.01)
U_AT_RISK_TEEN_OTHER = (0.04, 0.81, 0.15)
U_SAFE_BY_ACTIVITY = ((0.0005, 0.03, 0.9695), (0.001, 0.12, 0.879), (0.004, 0.45, 0.546))

# --- reviewer label noise: P(recorded | true), rows immediate / high / routine ----------
LABEL_NOISE = np.array(
    [
        [0.85, 0.13, 0.02],
        [0.008, 0.877, 0.115],
        [0.001, 0.03, 0.969],
    ]
)

# --- evidence -------------------------------------------------------------------------------
# escalation: P(escalated | r) by source group (liberal escalators: industry, public, other)
ESC_AT_RISK = 0.45
ESC_SAFE_STRICT, ESC_SAFE_LIBERAL = 0.006, 0.04
LIBERAL_SOURCES = (2, 6, 7)
ESC_SAFE_AFTER_CHANGE = 4.0  # after CHANGE_DATE false escalations are 4x as common
SEXT_BASE = np.array([0.008, 0.01, 0.0, 0.01, 0.0, 0.005, 0.28, 0.06])  # by incident type
SEXT_RISK_BEFORE, SEXT_RISK_AFTER = 10.0, 25.0  # extortion crisis (teen, active): x (1 + this)
# source's own priority code E / 1 / 2 / 3 when the source gives one
PRIORITY_AT_RISK = np.array([0.35, 0.40, 0.20, 0.05])
PRIORITY_SAFE = (
    np.array([0.01, 0.09, 0.40, 0.50]),
    np.array([0.01, 0.09, 0.40, 0.50]),
    np.array([0.03, 0.25, 0.42, 0.30]),
)
# each hash-checked file is new material (no match) with this probability: a child under
# 12 at risk now (new abuse material), else by the offender's activity
NEW_AT_RISK_YOUNG = 0.75
NEW_OTHER = np.array([0.12, 0.20, 0.30])
# youngest victim's reported age: true age (uniform in its class) + rounded N(0, AGE_NOISE)
AGE_NOISE = 1.0
AGE_RANGES = ((0, 3), (3, 12), (12, 18))
AGE_KNOWN = np.array([0.55, 0.55, 0.80])  # young children's ages go missing more often
AGE_KNOWN_AT_RISK = 1.15  # ... and at-risk reports are more complete
BAND_SHOWN = 0.5  # when the age is missing, the band is shown this often ...
BAND_RIGHT = 0.8  # ... and is right this often (else a neighbouring band)
# file annotations (first file of a referral with files)
INFANT_ANN = (0.45, 0.01)  # infant / not
LIVE_ANN = (0.35, 0.003)  # at risk with a very active offender / not
HARM_ANN = (0.30, 0.005)  # at risk and under 12 / not
# days from the incident to receipt (shown when the reporter gives the incident time), as
# log-normal (median days, sd of the log): a child at risk now is reported in about a day
# (someone noticed and told); otherwise either an automated detection within hours or a
# late report, so the evidence peaks at about a day and falls on both sides
LAG_AT_RISK = ((1.0, 0.35),)
LAG_SAFE = ((0.06, 0.5), (12.0, 1.3))
LAG_SAFE_AUTOMATED = 0.65  # share of the others detected automatically
# subject flags: reported-true rate by activity; false is reported less often (by value)
KNOWN_TRUE = np.array([0.02, 0.15, 0.70])
ACCESS_TRUE_AT_RISK, ACCESS_TRUE_SAFE = 0.70, np.array([0.03, 0.08, 0.15])
FALSE_REPORTED = 0.5
ACCESS_REPORTED_AT_RISK = 1.4


def age_matrix() -> np.ndarray:
    """P(reported youngest age = k | age class a), shape (3, 18)."""
    k = np.arange(18)
    noise = np.exp(-0.5 * (np.arange(-6, 7) / AGE_NOISE) ** 2)
    noise /= noise.sum()
    out = np.zeros((3, 18))
    for a, (lo, hi) in enumerate(AGE_RANGES):
        for t in range(lo, hi):
            row = np.zeros(18)
            for d, w in zip(range(-6, 7), noise, strict=True):
                row[int(np.clip(t + d, 0, 17))] += w
            out[a] += row / (hi - lo)
    assert np.allclose(out.sum(1), 1.0) and len(k) == 18
    return out


def band_matrix() -> np.ndarray:
    """P(band shown | age class, age missing), columns infant/prepubescent/pubescent/unknown."""
    right, wrong = BAND_SHOWN * BAND_RIGHT, BAND_SHOWN * (1 - BAND_RIGHT)
    m = np.array(
        [
            [right, wrong, 0.0, 0.0],
            [wrong / 2, right, wrong / 2, 0.0],
            [0.0, wrong, right, 0.0],
        ]
    )
    m[:, 3] = 1 - BAND_SHOWN
    return m


def truth_table() -> np.ndarray:
    """P(true urgency | z), shape (18, 3)."""
    out = np.zeros((N_STATES, 3))
    for z in range(N_STATES):
        if R[z] and A[z] < 2:
            out[z] = U_AT_RISK_CHILD
        elif R[z] and O[z] == 2:
            out[z] = U_AT_RISK_TEEN_ACTIVE
        elif R[z]:
            out[z] = U_AT_RISK_TEEN_OTHER
        else:
            out[z] = U_SAFE_BY_ACTIVITY[O[z]]
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def log_prior(itype: np.ndarray, batched: np.ndarray, link: np.ndarray) -> np.ndarray:
    """log P(z | incident type, batched, earlier linked referrals), shape (n, 18)."""
    n = len(itype)
    lo = np.minimum(link, 3).astype(float)  # saturation: a fourth link adds nothing
    contact = np.isin(itype, CONTACT_TYPES)
    act = np.stack([np.zeros(n), -0.5 + 0.5 * lo, -2.4 + 1.1 * lo + 0.8 * contact], 1)
    log_o = act - np.logaddexp.reduce(act, axis=1, keepdims=True)
    grp = np.where(contact | (itype == 7), 0, np.where(itype == 0, 1, 2))
    log_a = np.log(np.stack([AGE_PRIOR["contact"], AGE_PRIOR["csam"], AGE_PRIOR["other"]]))[grp]
    out = np.empty((n, N_STATES))
    for z in range(N_STATES):
        logit = (
            R_INTERCEPT
            + TYPE_RISK[itype]
            + R_ACTIVITY[O[z]]
            + R_AGE[A[z]]
            + R_TEEN_AND_ACTIVE * ((O[z] == 2) & (A[z] == 2))
            - 6.0 * batched
        )
        p_r = sigmoid(logit) if R[z] else 1.0 - sigmoid(logit)
        out[:, z] = np.log(np.maximum(p_r, 1e-300)) + log_a[:, A[z]] + log_o[:, O[z]]
    return out
