"""The generative story, part 3: what the referral shows -> the outcome probabilities.

The oracle is driven by *observable* fields (plus a small unobserved term), so a model
that learns the features well can approach the oracle's ranking: the unobserved part is
whether a child is really being abused now (``active``, shown only indirectly) and a
little noise. No single field decides: every signal is a term in a sum, outcomes are
sampled from the probabilities, and many urgent referrals carry none of the safety-rule
flags (escalation, sextortion, live streaming, physical harm, infant), only combinations
(a linked suspect + new material + a young victim + located in Canada ...). The
generative-AI, minor-to-minor and self-production annotations never lower urgency.
"""

from __future__ import annotations

import numpy as np

from training.synthetic.details import FA
from training.synthetic.story import CA, FOREIGN, PROXY, Cols

UNKNOWN_JUR = 3
# intercepts, calibrated on a 100k baseline stream (seed 1) with calibrate() below
B_IMMEDIATE, B_HIGH = -7.72, -3.09
B_PACKAGE, B_LEAD = -2.35, 0.70
TARGETS = {"immediate": 0.01, "high": 0.09, "package": 0.114, "lead": 0.63}
TYPE_URGENCY = np.array([0.0, 1.1, 0.7, 1.2, -1.0, -0.8, 0.8, 0.3])
HIDDEN_ACTIVE, HIDDEN_NOISE = 1.0, 0.35
SCALE = 1.3  # immediate reacts more sharply to the same evidence than high


def _per_ref(ref: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(ref, weights=values.astype(float), minlength=n)


def linked_prior(c: Cols, s: Cols) -> np.ndarray:
    """Earlier referrals sharing a linkable identifier with this one (what linking can see).

    All identifiers of one referral's subject belong to one suspect, so only earlier
    referrals of the same suspect can share one; e-mail, phone and device ids are the
    suspect's everywhere, screen names and platform ids only on one platform.
    """
    n = len(c["t"])
    out = np.zeros(n, dtype=np.int64)
    sus, plat = c["suspect"], c["platform"]
    multi = np.flatnonzero(c["suspect_count"] > 1)
    order = multi[np.argsort(sus[multi], kind="stable")]
    ids = {
        k: s[f"id_{k}"]
        for k in ("email", "phone", "device_id", "screen_name", "esp_user_id", "profile_url")
    }
    seen: dict[int, list[frozenset]] = {}
    for i in order.tolist():
        p = int(plat[i])
        keys = frozenset(
            [k for k in ("email", "phone", "device_id") if ids[k][i]]
            + [(k, p) for k in ("screen_name", "esp_user_id", "profile_url") if ids[k][i]]
        )
        earlier = seen.setdefault(int(sus[i]), [])
        out[i] = sum(1 for e in earlier if e & keys)
        earlier.append(keys)
    return out


def observables(c: Cols, v: Cols, f: Cols, s: Cols) -> Cols:
    """Referral-level summaries of what a reviewer (or a model) can see."""
    n = len(c["t"])
    o: Cols = {}
    fr = f["f_ref"]
    o["n_new"] = _per_ref(fr, f["f_hash"] == 2, n)
    for a in (
        "live_streaming",
        "physical_harm",
        "infant",
        "possible_self_production",
        "potential_meme",
        "viral",
        "generative_ai",
    ):
        o[a] = _per_ref(fr, f["f_ann"][:, FA[a]], n) > 0
    o["cls_a"] = _per_ref(fr, (f["f_class"] >= 0) & (f["f_class"] <= 1), n) > 0
    viewed = _per_ref(fr, f["f_viewed"] == 1, n)
    o["viewed_share"] = viewed / np.maximum(_per_ref(fr, f["f_viewed"] >= 0, n), 1)
    vr = v["v_ref"]
    o["victim"] = np.bincount(vr, minlength=n) > 0
    # youngest victim as a reviewer sees it: the age, else the middle of the band
    seen_age = np.where(v["v_age"] >= 0, v["v_age"], np.array([1, 7, 14, 99])[v["v_band"]])
    vmin = np.full(n, 99.0)
    np.minimum.at(vmin, vr, seen_age)
    o["vmin"] = vmin
    o["v_unident"] = _per_ref(vr, v["v_ident"] == 0, n) > 0
    v_ca = _per_ref(vr, v["v_loc"] & (c["jur"][vr] == CA), n) > 0
    v_loc = _per_ref(vr, v["v_loc"], n) > 0
    o["rec_minor"] = _per_ref(v["r_ref"], v["r_age"] >= 0, n) > 0
    subj_loc = c["has_subject"] & c["loc_seen"]
    o["jur"] = np.where(subj_loc, c["jur"], np.where(v_loc, c["jur"], UNKNOWN_JUR))
    o["jur"] = np.where(v_ca, CA, o["jur"])
    o["loc_verified"] = subj_loc & c["loc_verified"]
    ip_t = np.full(n, np.inf)
    timed = s["ip_before"] >= 0
    np.minimum.at(ip_t, s["ip_ref"][timed], s["ip_before"][timed] / 86400)
    o["fresh_days"] = np.where(
        s["occurred_seen"], c["lag"], np.where(np.isfinite(ip_t), ip_t, np.nan)
    )
    o["n_ip"] = np.bincount(s["ip_ref"], minlength=n)
    link_kinds = ("email", "phone", "screen_name", "esp_user_id", "profile_url", "device_id")
    o["n_ids"] = np.sum([s[f"id_{k}"] for k in link_kinds], axis=0)
    o["link"] = linked_prior(c, s)
    return o


def logits(c: Cols, o: Cols, s: Cols) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(urgency logits, viability logits, urgency from observables only, hidden term)."""
    b = c["batched"]
    esc, sext = c["escalated"].astype(float), c["sext"].astype(float)
    any_new = o["n_new"] > 0
    young = o["vmin"] <= 11
    very_young = o["vmin"] <= 5
    linked = o["link"] > 0
    ca = o["jur"] == CA
    known = s["known_offender"] == 1
    access = s["access"] == 1
    lag = o["fresh_days"]
    fresh = np.nan_to_num(lag, nan=30.0)
    s_u = (
        3.4 * esc
        + 0.8 * sext
        + 0.3 * c["solicit"]
        + 0.6 * c["sadistic"]
        - 1.0 * c["spam"]
        + TYPE_URGENCY[c["itype"]]
        + 0.9 * any_new
        + 0.3 * np.log1p(o["n_new"])
        + 1.2 * o["live_streaming"]
        + 1.0 * o["physical_harm"]
        + 1.0 * o["infant"]
        + 0.2 * o["possible_self_production"]
        + 0.3 * o["cls_a"]
        - 0.8 * (o["potential_meme"] | o["viral"])
        + 0.4 * o["victim"]
        + 0.5 * young
        + 0.5 * very_young
        + 0.3 * o["v_unident"]
        + 0.4 * o["rec_minor"]
        + 0.6 * np.log1p(o["link"])
        + 0.3 * np.log1p(s["prior_reports"])
        + 1.0 * known
        + 1.2 * access
        + np.array([0.5, 0.0, -0.2, -0.3])[o["jur"]]
        + 0.6 * (fresh < 2)
        - 0.4 * np.log1p(fresh / 60)
        - 2.5 * b
        # combinations a model can learn and single-field rules cannot
        + 1.2 * (linked & any_new)
        + 1.0 * (linked & young)
        + 0.9 * (ca & o["victim"] & o["v_unident"])
        + 0.9 * (access & (any_new | young))
        + 0.8 * (known & ca)
    )
    hidden = HIDDEN_ACTIVE * c["active"] + HIDDEN_NOISE * c["eps_u"]
    n = len(s_u)
    zero = np.zeros(n)
    urg = np.stack([B_IMMEDIATE + SCALE * s_u + hidden, B_HIGH + 0.6 * s_u + 0.5 * hidden, zero], 1)
    stale = np.nan_to_num(lag, nan=45.0)
    industry = c["source"] == 2
    n_ids = np.minimum(o["n_ids"], 4)
    has_ip = o["n_ip"] > 0
    s_clip = np.clip(s_u, -2, 5)
    pkg = (
        B_PACKAGE
        + 2.4 * ca
        + 0.3 * (o["jur"] == FOREIGN)
        + 0.5 * o["loc_verified"]
        + 1.0 * s["bsi"]
        + 0.3 * n_ids
        + 0.5 * has_ip
        + 0.4 * (s["id_email_ver"] == 1)
        - 0.6 * np.log1p(stale / 30)
        - 1.0 * (industry & (stale > 21))
        + 0.35 * s_clip
        + 0.3 * np.log1p(o["link"])
        + 0.3 * o["viewed_share"]
        - 0.8 * b
        + 0.4 * c["eps_v"]
    )
    lead = (
        B_LEAD
        + 1.0 * ca
        + 1.2 * (o["jur"] == FOREIGN)
        + 0.3 * n_ids
        + 0.4 * has_ip
        - 0.3 * np.log1p(stale / 90)
        + 0.1 * s_clip
        + 0.2 * c["eps_v"]
    )
    unact = (
        0.3 * b
        + 1.5 * (o["jur"] == UNKNOWN_JUR)
        + 1.2 * (o["jur"] == PROXY)
        + 1.0 * c["spam"]
        + 0.7 * np.isin(c["itype"], [4, 5])
        + 1.2 * ~c["has_subject"]
        + 0.4 * (o["n_ids"] == 0)
        + 0.4 * np.log1p(stale / 180)
    )
    via = np.stack([pkg, lead, unact], 1)
    return urg, via, B_IMMEDIATE + SCALE * s_u, hidden


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sample(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One class index per row, drawn from the row's probabilities."""
    u = rng.random(len(p))
    return np.minimum((np.cumsum(p, axis=1) < u[:, None]).sum(axis=1), p.shape[1] - 1)


def decision_lag_hours(rng: np.random.Generator, urgency: np.ndarray) -> np.ndarray:
    """Hours from receipt to decision: hours when immediate, days otherwise."""
    median = np.array([3.0, 36.0, 240.0])[urgency]
    return np.exp(rng.normal(np.log(median), np.array([0.6, 0.6, 0.8])[urgency]))


def calibrate(urg: np.ndarray, via: np.ndarray, rounds: int = 30) -> dict[str, float]:
    """Intercept shifts that hit ``TARGETS`` on these logits (a development tool).

    Run on a large baseline stream, add the shifts to the ``B_*`` constants above.
    """
    shift = np.zeros(4)
    for _ in range(rounds):
        pu = softmax(urg + np.r_[shift[:2], 0]).mean(0)
        pv = softmax(via + np.r_[shift[2:], 0]).mean(0)
        shift[0] += np.log(TARGETS["immediate"] / pu[0]) - np.log(
            (1 - TARGETS["immediate"] - TARGETS["high"]) / pu[2]
        )
        shift[1] += np.log(TARGETS["high"] / pu[1]) - np.log(
            (1 - TARGETS["immediate"] - TARGETS["high"]) / pu[2]
        )
        shift[2] += np.log(TARGETS["package"] / pv[0]) - np.log(
            (1 - TARGETS["package"] - TARGETS["lead"]) / pv[2]
        )
        shift[3] += np.log(TARGETS["lead"] / pv[1]) - np.log(
            (1 - TARGETS["package"] - TARGETS["lead"]) / pv[2]
        )
    return dict(zip(("immediate", "high", "package", "lead"), shift.tolist(), strict=True))
