"""Arrays -> JSON-ready referral documents (dicts), in receipt order.

Every list part (files, victims, recipients, IP events) is built once as a flat list of
dicts and sliced per referral, and every timestamp is formatted in one vectorised call, so
the per-referral loop only assembles; 100k documents take a few seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from training.synthetic import lists
from training.synthetic import population as pop
from training.synthetic import story as st
from training.synthetic.fakes import Identities, compact, iso, location, tri
from training.synthetic.stream import Simulation

_INCIDENT_ANNOTATIONS = (
    ("sext", "sextortion"),
    ("solicit", "csam_solicitation"),
    ("m2m", "minor_to_minor"),
    ("spam", "spam"),
    ("sadistic", "sadistic_exploitation"),
)
_URGENCY = ("immediate", "high", "routine")
_VIABILITY = ("package", "lead", "unactionable")
# the columns the per-referral loop reads, as Python lists (fast scalar access)
_REF_COLS = frozenset(
    [
        "source",
        "priority",
        "escalated",
        "itype",
        "platform",
        "channel",
        "batched",
        "accounts",
        "suspect",
        "has_subject",
        "jur",
        "province",
        "country",
        "loc_seen",
        "loc_verified",
        "sext",
        "solicit",
        "m2m",
        "spam",
        "sadistic",
        "true_jur",
        "true_province",
        "true_country",
        "generic",
    ]
)
_SUBJECT_COLS = frozenset(
    [
        "id_email",
        "id_email_ver",
        "id_phone",
        "id_phone_ver",
        "id_screen_name",
        "id_display_name",
        "id_esp_user_id",
        "id_profile_url",
        "id_device_id",
        "sharer",
        "known_offender",
        "access",
        "disabled",
        "compromised",
        "assoc",
        "group",
        "prior_reports",
        "s_age",
        "n_extra",
        "bsi",
        "narrative",
    ]
)
# producers without a platform profile: police systems write everything, tiplines omit
_SOURCE_STYLE = np.array([1, 1, 1, 0, 0, 0, 2, 1])


class Parts:
    """Pre-built pieces of every document of one simulation."""

    def __init__(self, sim: Simulation) -> None:
        self.sim, self.ids = sim, Identities(sim)
        c, n, rng = sim.c, sim.n, sim.rng_doc
        world = pop.platforms()
        plat = c["platform"]
        self.off_recv = rng.choice(6, size=n, p=[0.35, 0.2, 0.25, 0.1, 0.05, 0.05])
        self.off_plat = np.where(plat >= 0, world.offset[np.maximum(plat, 0)], self.off_recv)
        self.style_a = np.where(
            plat >= 0, world.style[np.maximum(plat, 0)], _SOURCE_STYLE[c["source"]]
        )
        self.style = self.style_a.tolist()
        t = c["t"]
        self.received = iso(t, self.off_recv)
        occ = iso(t - np.round(c["lag"] * 86400).astype(np.int64), self.off_plat)
        self.occurred = [
            x if seen else None
            for x, seen in zip(occ, sim.subjects["occurred_seen"].tolist(), strict=True)
        ]
        dec_t = t + sim.decided_after_s
        month = dec_t.astype("datetime64[s]").astype("datetime64[M]").astype(int) % 12 + 1
        self.decided = iso(dec_t, np.where((month >= 4) & (month <= 10), 3, 2))
        self.city = (rng.random(n) < 0.4).tolist()
        self.files, f_start = lists.files(sim, self.style_a, self.off_plat)
        (self.victims, v_start), (self.recipients, r_start) = lists.victims(sim, self.style_a)
        self.ips, ip_start = lists.ip_events(sim, self.style_a, self.off_plat, self.ids)
        self.f_start, self.v_start = f_start.tolist(), v_start.tolist()
        self.r_start, self.ip_start = r_start.tolist(), ip_start.tolist()
        self.cols = {k: v.tolist() for k, v in c.items() if k in _REF_COLS}
        self.cols.update({k: v.tolist() for k, v in sim.subjects.items() if k in _SUBJECT_COLS})
        self.phone_index = sim.subjects["phone_index"].tolist()
        self.prefix = f"syn-{sim.seed}-{sim.start:%Y%m%d}-{sim.scenario.name}-"
        if sim.world != "embedded":
            self.prefix += f"{sim.world}-"
        self.names, self.slugs = world.names, world.slugs
        self.u_cls, self.v_cls = sim.urgency.tolist(), sim.viability.tolist()
        self.pu = np.round(sim.p_urgency, 6).tolist()
        self.pv = np.round(sim.p_viability, 6).tolist()

    def _identifiers(self, i: int, sid: int, p: int, sty: int) -> list[dict[str, Any]]:
        k, ids = self.cols, self.ids
        out: list[tuple[str, str, bool | None]] = []
        if k["id_email"][i]:
            out.append(("email", ids.email(sid), tri(k["id_email_ver"][i])))
        if k["id_phone"][i]:
            out.append(("phone", ids.phone(self.phone_index[sid]), tri(k["id_phone_ver"][i])))
        if k["id_screen_name"][i]:
            out.append(("screen_name", ids.screen_name(sid, p), None))
        if k["id_display_name"][i]:
            out.append(("display_name", f"Sample Name {sid % 997}", None))
        if k["id_esp_user_id"][i]:
            out.append(("esp_user_id", ids.user_id(sid, p), None))
        if k["id_profile_url"][i]:
            out.append(("profile_url", ids.profile(sid, p), None))
        if k["id_device_id"][i]:
            out.append(("device_id", ids.device(sid), None))
        return [compact({"kind": a, "value": b, "verified": v}, sty) for a, b, v in out]

    def _subjects(self, i: int, sty: int) -> list[dict[str, Any]]:
        k, ids = self.cols, self.ids
        p = k["platform"][i]
        if k["batched"][i]:
            if not k["sharer"][i]:
                return []
            uid = ids.user_id(60_000_000 + i, p)
            ident = compact({"kind": "esp_user_id", "value": uid, "verified": None}, sty)
            return [{"identifiers": [ident]}]
        if not k["has_subject"][i]:
            return []
        sid = k["suspect"][i]
        loc = (
            location(
                k["jur"][i],
                k["province"][i],
                k["country"][i],
                bool(k["loc_verified"][i]),
                self.city[i],
                sty,
            )
            if k["loc_seen"][i]
            else None
        )
        group = k["group"][i]
        main = compact(
            {
                "identifiers": self._identifiers(i, sid, p, sty),
                "ip_events": self.ips[self.ip_start[i] : self.ip_start[i + 1]],
                "age": k["s_age"][i] if k["s_age"][i] >= 0 else None,
                "location": loc,
                "prior_reports": k["prior_reports"][i],
                "group_identifier": f"group-{ids.ns}-{group}" if group >= 0 else None,
                "associated_accounts": k["assoc"][i],
                "account_disabled": tri(k["disabled"][i]),
                "compromised_account": tri(k["compromised"][i]),
                "access_to_children": tri(k["access"][i]),
                "known_offender": tri(k["known_offender"][i]),
            },
            sty,
        )
        if k["generic"][i]:  # a platform's generic account: a hub shared by unrelated suspects
            generic = {"kind": "email", "value": f"noreply.{self.slugs[p]}@example.com"}
            main.setdefault("identifiers", []).append(compact({**generic, "verified": None}, sty))
        out = [main]
        for e in range(k["n_extra"][i]):  # co-reported accounts: other people, never linked
            esid = 50_000_000 + 8 * i + e
            eid = [("screen_name", ids.screen_name(esid, p))]
            if esid % 2:
                eid.append(("email", ids.email(esid)))
            out.append(
                {
                    "identifiers": [
                        compact({"kind": a, "value": b, "verified": None}, sty) for a, b in eid
                    ]
                }
            )
        return out

    def referral(self, i: int) -> dict[str, Any]:
        """The document of referral ``i`` as its producer writes it."""
        k, sty = self.cols, self.style[i]
        p, prio = k["platform"][i], k["priority"][i]
        incident = compact(
            {
                "type": st.TYPES[k["itype"][i]],
                "occurred_at": self.occurred[i],
                "platform": self.names[p] if p >= 0 else None,
                "channel": pop.CHANNELS[k["channel"][i]],
                "annotations": [name for col, name in _INCIDENT_ANNOTATIONS if k[col][i]],
            },
            sty,
        )
        return compact(
            {
                "referral_id": f"{self.prefix}{i:07d}",
                "received_at": self.received[i],
                "source": st.SOURCES[k["source"][i]],
                "source_priority": st.PRIORITIES[prio] if prio >= 0 else None,
                "escalation_reason": f"Synthetic escalation note {i}"
                if k["escalated"][i]
                else None,
                "incident": incident,
                "batched": (
                    {"reason": "viral_potential_meme", "accounts": k["accounts"][i]}
                    if k["batched"][i]
                    else None
                ),
                "subjects": self._subjects(i, sty),
                "victims": self.victims[self.v_start[i] : self.v_start[i + 1]],
                "recipients": self.recipients[self.r_start[i] : self.r_start[i + 1]],
                "files": self.files[self.f_start[i] : self.f_start[i + 1]],
                "bsi_included": bool(k["bsi"][i]),
                "narrative": f"Synthetic narrative {i}" if k["narrative"][i] else None,
            },
            sty,
        )

    def labels(self, i: int) -> dict[str, Any]:
        """The sampled decision and the oracle probabilities it was drawn from."""
        return {
            "outcome": {
                "viability": _VIABILITY[self.v_cls[i]],
                "urgency": _URGENCY[self.u_cls[i]],
                "decided_at": self.decided[i],
            },
            "_oracle": {
                "urgency": dict(zip(_URGENCY, self.pu[i], strict=True)),
                "viability": dict(zip(_VIABILITY, self.pv[i], strict=True)),
            },
            "_truth": self.truth(i),
        }

    def truth(self, i: int) -> dict[str, Any]:
        """Who the suspect is (None when the referral names none) and where they really are:
        what cases and routes are measured against (never a feature)."""
        k = self.cols
        sid = k["suspect"][i]
        named = k["has_subject"][i] and not k["batched"][i]
        ca = k["true_jur"][i] == st.CA
        return {
            "suspect_id": f"suspect-{self.ids.ns}-{sid}" if named and sid >= 0 else None,
            "country": "CA" if ca else st.COUNTRIES[k["true_country"][i]],
            "province": st.PROVINCES[k["true_province"][i]] if ca else None,
        }


def documents(
    sim: Simulation, labels: bool = False, progress: Callable[[int], None] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield one JSON-ready referral dict per simulated referral, in receipt order."""
    parts = Parts(sim)
    for i in range(sim.n):
        doc = parts.referral(i)
        if labels:
            doc.update(parts.labels(i))
        yield doc
        if progress is not None and (i + 1) % 1000 == 0:
            progress(1000)
    if progress is not None and sim.n % 1000:
        progress(sim.n % 1000)
