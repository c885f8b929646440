"""The generative story, part 2: victims, recipients, files and the reported subject.

Everything is sampled as flat arrays (one row per victim / file / IP event) with a
``*_ref`` column pointing at the referral, so 100k referrals take a fraction of a second.
What the platform fills in follows its completeness profile; what the values are follows
the latent state from ``story`` (a child being abused now makes new material, younger
victims, live streaming and access to children likelier - but never certain).
"""

from __future__ import annotations

from typing import get_args

import numpy as np

from features.contract import FileAnnotation, HashMatch
from training.synthetic.population import platforms
from training.synthetic.story import ENTICEMENT, PROXY, Cols, pick, sigmoid

FILE_ANNOTATIONS = get_args(FileAnnotation)  # the contract's order
FA = {a: i for i, a in enumerate(FILE_ANNOTATIONS)}
HASH = get_args(HashMatch)
CLASSES = ("A1", "A2", "B1", "B2")
SHARED_IPS = 762 + 4096
ID_KINDS = (
    "email",
    "phone",
    "screen_name",
    "display_name",
    "esp_user_id",
    "profile_url",
    "device_id",
)
IP_EVENTS = ("login", "registration", "purchase", "upload", "other", "unknown")
# when no platform is named (tiplines, police) these replace the platform's rates
_DEFAULT_RATE = {
    "email": 0.5,
    "email_verified": 0.3,
    "phone": 0.3,
    "screen_name": 0.4,
    "display_name": 0.3,
    "esp_user_id": 0.2,
    "profile_url": 0.1,
    "device_id": 0.05,
    "ip": 0.3,
    "ip_time": 0.8,
    "hash": 0.4,
    "viewed": 0.5,
    "viewed_null": 0.5,
    "bsi": 0.05,
    "classification": 0.2,
    "prior": 0.1,
    "occurred": 0.8,
    "upload_time": 0.3,
    "victim_info": 0.9,
    "public": 0.2,
    "subject_age": 0.5,
    "flags": 0.6,
}


def rate(c: Cols, name: str) -> np.ndarray:
    return np.where(np.isnan(c[f"rate_{name}"]), _DEFAULT_RATE[name], c[f"rate_{name}"])


def _flat(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row -> referral index, and each row's position within its referral."""
    ref = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return ref, np.arange(len(ref)) - starts[ref]


def victims(rng: np.random.Generator, c: Cols) -> Cols:
    """Victims and intended recipients; the youngest victim's age is a latent made visible."""
    n = len(c["t"])
    it, sext, active = c["itype"], c["sext"], c["active"]
    contact = (it == ENTICEMENT) | (it == 7) | sext
    infant = c["young"] & (rng.random(n) < np.where(active, 0.15, 0.05))
    youngest = np.where(
        infant,
        rng.integers(0, 3, n),
        np.where(c["young"], rng.integers(3, 12, n), rng.integers(12, 18, n)),
    )
    police = np.isin(c["source"], [3, 4, 5])
    p = rate(c, "victim_info") * (0.12 + 0.5 * contact + 0.3 * active + 0.2 * police)
    nv = (rng.random(n) < np.minimum(p, 0.95)) * rng.geometric(0.85, n)
    v_ref, v_pos = _flat(nv)
    m = len(v_ref)
    age = np.minimum(youngest[v_ref] + v_pos * rng.integers(0, 4, m), 17)
    band = np.digitize(age, [3, 12])  # 0 infant, 1 prepubescent, 2 pubescent
    age_known = rng.random(m) < 0.7
    band = np.where(age_known | (rng.random(m) < 0.6), band, 3)  # 3 unknown
    ident = pick(rng, np.where(active[v_ref, None], [0.55, 0.4, 0.05], [0.5, 0.35, 0.15]))
    located = rng.random(m) < 0.35 + 0.3 * police[v_ref]
    school = rng.random(m) < 0.04 + 0.08 * contact[v_ref]
    nr = (rng.random(n) < np.where(contact, 0.7, 0.03)) * (1 + (rng.random(n) < 0.1))
    r_ref, _ = _flat(nr)
    r_age = np.where(
        c["young"][r_ref], rng.integers(8, 13, len(r_ref)), rng.integers(11, 18, len(r_ref))
    )
    r_age = np.where(rng.random(len(r_ref)) < 0.6, r_age, -1)
    return {
        "youngest": youngest,
        "v_ref": v_ref,
        "v_age": np.where(age_known, age, -1),
        "v_band": band,
        "v_ident": ident - 1,
        "v_loc": located & (c["jur"][v_ref] != PROXY),
        "v_school": school,
        "r_ref": r_ref,
        "r_age": r_age,
        "r_loc": (rng.random(len(r_ref)) < 0.3) & (c["jur"][r_ref] != PROXY),
    }


def files(rng: np.random.Generator, c: Cols, v: Cols, genai: np.ndarray, e2ee: np.ndarray) -> Cols:
    """File metadata; new material (no hash match) is likelier when a child is abused now."""
    n = len(c["t"])
    it, active = c["itype"], c["active"]
    base = np.floor(np.exp(rng.normal(0.0, 1.1, n))).astype(np.int64)
    p_zero = np.select(
        [it == 0, (it == 4) | (it == 5), it == ENTICEMENT, it == 7], [0.0, 0.6, 0.45, 0.35], 0.5
    )
    nf = np.where(rng.random(n) < p_zero, 0, 1 + base)
    nf = np.minimum(np.where(c["batched"], 1, nf), 300)
    f_ref, f_pos = _flat(nf)
    m = len(f_ref)
    act = active[f_ref]
    batched = c["batched"][f_ref]
    hash_p = rate(c, "hash")
    hash_p = np.where(c["platform"] == 0, hash_p * (1 - 0.75 * e2ee), hash_p)
    checked = rng.random(m) < hash_p[f_ref]
    new_ref = sigmoid(-1.7 + 2.2 * active + rng.normal(0, 1, n) - 3 * c["batched"])
    none = rng.random(m) < new_ref[f_ref]
    h = np.where(~checked, 3, np.where(none, 2, np.where(rng.random(m) < 0.87, 0, 1)))
    kind = pick(rng, np.where(act[:, None], [0.55, 0.4, 0.05], [0.68, 0.27, 0.05]))
    viewed = np.where(
        rng.random(m) < rate(c, "viewed_null")[f_ref], -1, rng.random(m) < rate(c, "viewed")[f_ref]
    )
    public = np.where(rng.random(m) < rate(c, "public")[f_ref], rng.random(m) < 0.3, -1)
    young = v["youngest"][f_ref] < 12
    cls_letter = np.where(rng.random(m) < 0.85, ~young, young)  # False -> A, True -> B
    cls = np.where(
        rng.random(m) < rate(c, "classification")[f_ref],
        2 * cls_letter + (rng.random(m) < 0.25),
        -1,
    )
    video = kind == 1
    pubescent = v["youngest"][f_ref] >= 12
    p = np.zeros((m, len(FILE_ANNOTATIONS)))
    p[:, FA["anime_virtual"]] = 0.01
    p[:, FA["potential_meme"]] = np.where(batched, 0.9, 0.01)
    p[:, FA["viral"]] = np.where(batched, 0.5, 0.005)
    self_prod = pubescent & (c["m2m"] | c["sext"])[f_ref]
    p[:, FA["possible_self_production"]] = np.where(self_prod, 0.3, 0.02)
    p[:, FA["physical_harm"]] = np.where(act, 0.04, 0.002)
    p[:, FA["violence_gore"]] = np.where(act, 0.01, 0.002)
    p[:, FA["bestiality"]] = 0.001
    chat = np.isin(c["channel"][f_ref], [3, 4])
    p[:, FA["live_streaming"]] = np.where(act & (video | chat), 0.08, 0.002)
    p[:, FA["infant"]] = np.where(v["youngest"][f_ref] < 3, 0.5, 0.0)
    p[:, FA["generative_ai"]] = np.minimum(0.001 * genai[f_ref], 0.5)
    ann = rng.random(p.shape) < p
    upload = np.where(
        rng.random(m) < rate(c, "upload_time")[f_ref],
        (c["lag"][f_ref] + rng.exponential(2.0, m)) * 86400,
        -1,
    )
    return {
        "f_ref": f_ref,
        "f_kind": kind,
        "f_hash": h,
        "f_viewed": viewed.astype(np.int64),
        "f_public": public.astype(np.int64),
        "f_supp": (f_pos > 0) & (rng.random(m) < 0.25),
        "f_class": cls.astype(np.int64),
        "f_ann": ann,
        "f_upload": upload,
    }


def subjects(rng: np.random.Generator, c: Cols) -> Cols:
    """The reported subject's identifiers, IP captures and flags."""
    n = len(c["t"])
    has, r, sus = c["has_subject"], c["risk"], c["suspect"]
    out: Cols = {}
    for kind in ID_KINDS:
        out[f"id_{kind}"] = has & (rng.random(n) < rate(c, kind))
    # phones come from a small fictional range (+1-NXX-555-01xx, 80,000 numbers): only a
    # share of suspects have one, capped so that no two suspects in a stream share a number
    n_sus = int(sus.max()) + 1 if len(sus) else 0
    phone_s = rng.random(n_sus) < min(0.45, 78_000 / max(n_sus, 1))
    out["phone_index"] = np.cumsum(phone_s) - 1
    out["id_phone"] &= phone_s[np.maximum(sus, 0)] if n_sus else False
    # a re-reported suspect is linkable: its e-mail is nearly always there
    out["id_email"] |= (c["suspect_count"] > 1) & (rng.random(n) < 0.9)
    out["id_email_ver"] = np.where(
        rng.random(n) < 0.7, rng.random(n) < rate(c, "email_verified"), -1
    )
    out["id_phone_ver"] = np.where(rng.random(n) < 0.3, rng.random(n) < 0.5, -1)
    # batched "sharers" get one platform id and nothing else
    out["sharer"] = c["batched"] & (rng.random(n) < 0.6)
    world = platforms()
    ip_mean = np.where(c["platform"] >= 0, world.ip_mean[np.maximum(c["platform"], 0)], 1.5)
    nip = np.where(has & (rng.random(n) < rate(c, "ip")), 1 + rng.poisson(ip_mean - 1.0), 0)
    nip = np.minimum(nip, 12)
    ip_ref, _ = _flat(nip)
    k = len(ip_ref)
    proxy_ref = c["jur"][ip_ref] == PROXY
    other = np.array([0, 1, -1])[pick(rng, np.broadcast_to([0.35, 0.05, 0.6], (k, 3)))]
    ip_proxy = np.where(proxy_ref, np.where(rng.random(k) < 0.85, 1, -1), other)
    # proxy exits and carrier NAT addresses are shared by many users: links through them are
    # false links (a pool of 762 IPv4 + 4,096 IPv6 documentation addresses)
    shared = (ip_proxy == 1) | (rng.random(k) < 0.005)
    ev = pick(rng, np.broadcast_to([0.45, 0.1, 0.02, 0.25, 0.08, 0.1], (k, 6)))
    timed = rng.random(k) < rate(c, "ip_time")[ip_ref]
    before = (
        c["lag"][ip_ref] + np.where(ev == 3, rng.exponential(0.5, k), rng.exponential(8.0, k))
    ) * 86400
    out.update(
        ip_ref=ip_ref,
        ip_slot=pick(rng, np.broadcast_to([0.6, 0.3, 0.1], (k, 3))),
        ip_shared=shared,
        ip_shared_index=rng.integers(0, SHARED_IPS, k),
        ip_event=ev,
        ip_before=np.where(timed, before, -1),
        ip_proxy=ip_proxy,
    )
    police = np.isin(c["source"], [3, 4, 5])
    flags = np.where(police, 0.8, rate(c, "flags"))
    out["known_offender"] = np.where(
        has & (rng.random(n) < flags * 0.6), rng.random(n) < sigmoid(-3.0 + 1.3 * r), -1
    )
    out["access"] = np.where(
        has & (rng.random(n) < flags * 0.5),
        rng.random(n) < sigmoid(-2.4 + 0.9 * r + 1.2 * c["active"]),
        -1,
    )
    out["disabled"] = np.where(rng.random(n) < flags, rng.random(n) < 0.7, -1)
    out["compromised"] = np.where(rng.random(n) < flags * 0.4, rng.random(n) < 0.05, -1)
    out["assoc"] = np.where(rng.random(n) < 0.35, rng.poisson(0.5 * np.exp(0.3 * r)), 0)
    n_groups = max(10, n // 2000)
    in_group = (rng.random(n) < 0.02 + 0.03 * (r > 1)) & has
    out["group"] = np.where(in_group, (np.maximum(sus, 0) * 7919) % n_groups, -1)
    from_stream = rng.binomial(c["prior_in_stream"], 0.75)
    prior = from_stream + rng.poisson(np.exp(-1.6 + 0.9 * r))
    out["prior_reports"] = np.where(has & (rng.random(n) < rate(c, "prior")), prior, 0)
    minor = rng.random(n) < np.where(c["m2m"], 0.7, 0.04)
    s_age = np.where(minor, rng.integers(13, 18, n), rng.integers(18, 66, n))
    out["s_age"] = np.where(has & (rng.random(n) < rate(c, "subject_age")), s_age, -1)
    out["n_extra"] = np.where(has & (rng.random(n) < 0.06), 1 + rng.poisson(0.3, n), 0)
    bsi_p = np.where(c["platform"] >= 0, rate(c, "bsi"), np.where(police, 0.3, 0.02))
    out["bsi"] = (nip > 0) & (rng.random(n) < bsi_p)
    narr_p = np.array([0.05, 0.7, 0.1, 0.6, 0.6, 0.6, 0.8, 0.5])[c["source"]]
    out["narrative"] = rng.random(n) < narr_p
    out["occurred_seen"] = rng.random(n) < rate(c, "occurred")
    return out
