"""The list parts of referral documents, built once for the whole stream.

Files, victims, recipients and IP events are built as flat lists of dicts (one call per
kind, timestamps formatted in one vectorised call) and sliced per referral by the
assembler in ``documents``; this keeps the per-referral loop cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from training.synthetic import details as dt
from training.synthetic.fakes import Identities, compact, iso, location, tri
from training.synthetic.stream import Simulation

Sliced = tuple[list[dict[str, Any]], np.ndarray]  # flat objects, start offset per referral
_KIND = ("image", "video", "other")
_BANDS = ("infant", "prepubescent", "pubescent", "unknown")


def _starts(ref: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(ref, minlength=n))])


def files(sim: Simulation, style: np.ndarray, offset: np.ndarray) -> Sliced:
    """File objects (metadata only), compacted in their producer's style."""
    f, t = sim.files, sim.c["t"]
    ref = f["f_ref"]
    up = iso(t[ref] - np.round(np.maximum(f["f_upload"], 0)).astype(np.int64), offset[ref])
    anns: list[list[str]] = [[] for _ in range(len(ref))]
    for r, k in zip(*np.nonzero(f["f_ann"]), strict=True):
        anns[r].append(dt.FILE_ANNOTATIONS[k])
    has_up = (f["f_upload"] >= 0).tolist()
    out = [
        compact(
            {
                "kind": _KIND[k],
                "hash_match": dt.HASH[h],
                "viewed_by_reporter": tri(vw),
                "publicly_available": tri(pb),
                "relevance": "supplemental" if sp else "reported",
                "classification": dt.CLASSES[cl] if cl >= 0 else None,
                "annotations": a,
                "uploaded_at": u if hu else None,
            },
            sty,
        )
        for k, h, vw, pb, sp, cl, a, u, hu, sty in zip(
            f["f_kind"].tolist(),
            f["f_hash"].tolist(),
            f["f_viewed"].tolist(),
            f["f_public"].tolist(),
            f["f_supp"].tolist(),
            f["f_class"].tolist(),
            anns,
            up,
            has_up,
            style[ref].tolist(),
            strict=True,
        )
    ]
    return out, _starts(ref, sim.n)


def _place(
    sim: Simulation, style: np.ndarray, refs: np.ndarray, located: np.ndarray
) -> list[dict[str, Any] | None]:
    c = sim.c
    return [
        location(j, p, k, None, False, s) if loc else None
        for j, p, k, loc, s in zip(
            c["jur"][refs].tolist(),
            c["province"][refs].tolist(),
            c["country"][refs].tolist(),
            located.tolist(),
            style[refs].tolist(),
            strict=True,
        )
    ]


def victims(sim: Simulation, style: np.ndarray) -> tuple[Sliced, Sliced]:
    """Victim and intended-recipient objects."""
    v, n = sim.victims, sim.n
    vic = [
        compact(
            {
                "age": a if a >= 0 else None,
                "age_band": _BANDS[b],
                "identified": tri(i),
                "location": loc,
                "school_known": bool(s),
            },
            sty,
        )
        for a, b, i, loc, s, sty in zip(
            v["v_age"].tolist(),
            v["v_band"].tolist(),
            v["v_ident"].tolist(),
            _place(sim, style, v["v_ref"], v["v_loc"]),
            v["v_school"].tolist(),
            style[v["v_ref"]].tolist(),
            strict=True,
        )
    ]
    rec = [
        compact({"age": a if a >= 0 else None, "location": loc}, sty)
        for a, loc, sty in zip(
            v["r_age"].tolist(),
            _place(sim, style, v["r_ref"], v["r_loc"]),
            style[v["r_ref"]].tolist(),
            strict=True,
        )
    ]
    return (vic, _starts(v["v_ref"], n)), (rec, _starts(v["r_ref"], n))


def ip_events(sim: Simulation, style: np.ndarray, offset: np.ndarray, ids: Identities) -> Sliced:
    """IP capture events; suspects' own addresses are unique, proxies and NAT shared."""
    s, c = sim.subjects, sim.c
    ref = s["ip_ref"]
    sty = style.tolist()
    at = iso(
        c["t"][ref] - np.round(np.maximum(s["ip_before"], 0)).astype(np.int64),
        offset[ref],
    )
    out = []
    for r, slot, v4, v4i, ev, b, px, a in zip(
        ref.tolist(),
        s["ip_slot"].tolist(),
        s["ip_shared"].tolist(),
        s["ip_shared_index"].tolist(),
        s["ip_event"].tolist(),
        (s["ip_before"] >= 0).tolist(),
        s["ip_proxy"].tolist(),
        at,
        strict=True,
    ):
        ip = ids.shared_ip(v4i) if v4 else ids.ipv6(int(c["suspect"][r]), slot)
        out.append(
            compact(
                {
                    "ip": ip,
                    "event": dt.IP_EVENTS[ev],
                    "at": a if b else None,
                    "possible_proxy": tri(px),
                },
                sty[r],
            )
        )
    return out, _starts(ref, sim.n)
