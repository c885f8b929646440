"""Referral objects -> one row of per-referral facts, plus the keys used for linking.

This is the only per-referral Python in the pipeline: one pass that reads each nested
document once and emits plain scalars. Everything after it is columnar.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import NamedTuple

import numpy as np
import pandas as pd

from features.catalogue import FILE_ANNOTATIONS, INCIDENT_ANNOTATIONS
from features.contract import Referral
from features.countries import CA_PROVINCES
from features.retention import retention_deadline

NAN = float("nan")
DAY_NS = 86_400 * 10**9
LINK_KINDS = frozenset({"email", "phone", "screen_name", "esp_user_id", "profile_url", "device_id"})
BAND_ORDER = {"infant": 0.0, "prepubescent": 1.0, "pubescent": 2.0}
_PROVINCES = frozenset(CA_PROVINCES)
_PRIORITIES = {"E": "E", "1": "1", "2": "2", "3": "3"}
# optional top-level facts whose presence measures how complete a platform's reports are
_OPTIONAL = 9


def _ns(dt: datetime | None) -> float:
    return NAN if dt is None else dt.timestamp() * 1e9


def _tri(values: list[bool | None]) -> float:
    """Any True -> 1, all known False -> 0, nothing known -> NaN (missingness is a signal)."""
    known = [v for v in values if v is not None]
    if not known:
        return NAN
    return 1.0 if any(known) else 0.0


def _min(values: list[float]) -> float:
    return min(values) if values else NAN


def _jurisdiction(ref: Referral) -> tuple[str, str | None, float]:
    locs = [s.location for s in ref.subjects if s.location and s.location.country]
    locs += [v.location for v in ref.victims if v.location and v.location.country]
    if not locs:
        return "unknown", None, NAN
    for loc in locs:
        if loc.country == "CA":
            prov = loc.region if loc.region in _PROVINCES else None
            return "canada", prov, 1.0 if loc.verified else 0.0
    loc = locs[0]
    kind = "proxy" if loc.country in {"A1", "A2"} else "foreign"
    return kind, None, 1.0 if loc.verified else 0.0


def _row(ref: Referral) -> dict[str, object]:
    inc = ref.incident
    t = ref.received_at
    anns = set(inc.annotations)
    files = ref.files
    hm = {"known": 0, "similar": 0, "none": 0, "unchecked": 0}
    fann: set[str] = set()
    cls_a = cls_b = 0
    viewed: list[bool] = []
    public: list[bool | None] = []
    uploads: list[float] = []
    n_videos = 0
    for f in files:
        hm[f.hash_match] += 1
        fann.update(f.annotations)
        if f.classification:
            cls_a += f.classification[0] == "A"
            cls_b += f.classification[0] == "B"
        if f.viewed_by_reporter is not None:
            viewed.append(f.viewed_by_reporter)
        public.append(f.publicly_available)
        n_videos += f.kind == "video"
        if f.uploaded_at is not None:
            uploads.append(f.uploaded_at.timestamp())
    checked = hm["known"] + hm["similar"] + hm["none"]

    kinds: set[str] = set()
    n_ident = n_ver = 0
    ver_email = False
    ip_n = ip_timed = ip_proxy = 0
    upload_ip = False
    last_ip: list[float] = []
    for s in ref.subjects:
        for i in s.identifiers:
            n_ident += 1
            kinds.add(i.kind)
            if i.verified:
                n_ver += 1
                ver_email |= i.kind == "email"
        for e in s.ip_events:
            ip_n += 1
            ip_proxy += bool(e.possible_proxy)
            upload_ip |= e.event == "upload"
            if e.at is not None:
                ip_timed += 1
                last_ip.append(e.at.timestamp())
    subs = ref.subjects
    jur, prov, loc_ver = _jurisdiction(ref)
    deadline = retention_deadline(ref.source, t)
    ts = t.timestamp()
    present = sum(
        x is not None and x != [] and x is not False
        for x in (
            inc.occurred_at,
            inc.platform,
            ref.source_priority,
            subs or None,
            ref.victims or None,
            files or None,
            inc.channel if inc.channel != "unknown" else None,
            ref.bsi_included or None,
            ref.recipients or None,
        )
    )
    prio = ref.source_priority.strip().upper() if ref.source_priority else None
    row: dict[str, object] = {
        "source": ref.source,
        "source_priority": None if prio is None else _PRIORITIES.get(prio, "other"),
        "incident_type": inc.type,
        "channel": inc.channel,
        "escalated": float(ref.escalated),
        **{f"ann_{a}": float(a in anns) for a in INCIDENT_ANNOTATIONS},
        "batched": float(ref.batched is not None),
        "batched_accounts": float(ref.batched.accounts) if ref.batched else 0.0,
        "completeness": present / _OPTIONAL,
        "bsi_included": float(ref.bsi_included),
        "has_narrative": float(bool(ref.narrative and ref.narrative.strip())),
        "n_files": float(len(files)),
        "n_videos": float(n_videos),
        "files_new": float(hm["none"]),
        "files_known": float(hm["known"]),
        "files_similar": float(hm["similar"]),
        "files_unchecked": float(hm["unchecked"]),
        "share_new": hm["none"] / checked if checked else NAN,
        **{f"fa_{a}": float(a in fann) for a in FILE_ANNOTATIONS},
        "cls_prepubescent": float(cls_a > 0),
        "cls_pubescent": float(cls_b > 0),
        "share_viewed": sum(viewed) / len(viewed) if viewed else NAN,
        "any_public": _tri(public),
        "n_victims": float(len(ref.victims)),
        "victim_min_age": _min([float(v.age) for v in ref.victims if v.age is not None]),
        "victim_min_band": _min(
            [BAND_ORDER[v.age_band] for v in ref.victims if v.age_band in BAND_ORDER]
        ),
        "victim_unidentified": _tri(
            [None if v.identified is None else not v.identified for v in ref.victims]
        ),
        "victim_located": float(any(v.location is not None for v in ref.victims)),
        "victim_school_known": float(any(v.school_known for v in ref.victims)),
        "n_recipients": float(len(ref.recipients)),
        "recipient_min_age": _min([float(r.age) for r in ref.recipients if r.age is not None]),
        "n_subjects": float(len(subs)),
        "n_identifiers": float(n_ident),
        "n_verified": float(n_ver),
        "has_email": float("email" in kinds),
        "has_verified_email": float(ver_email),
        "has_phone": float("phone" in kinds),
        "has_esp_user_id": float("esp_user_id" in kinds),
        "has_device_id": float("device_id" in kinds),
        "n_ip_events": float(ip_n),
        "n_ip_timed": float(ip_timed),
        "ip_proxy_share": ip_proxy / ip_n if ip_n else NAN,
        "has_upload_ip": float(upload_ip),
        "subject_prior_reports": float(max((s.prior_reports for s in subs), default=0)),
        "subject_known_offender": _tri([s.known_offender for s in subs]),
        "subject_access_to_children": _tri([s.access_to_children for s in subs]),
        "subject_account_disabled": _tri([s.account_disabled for s in subs]),
        "subject_compromised": _tri([s.compromised_account for s in subs]),
        "subject_associated_accounts": float(sum(s.associated_accounts for s in subs)),
        "subject_group": float(any(s.group_identifier for s in subs)),
        "subject_min_age": _min([float(s.age) for s in subs if s.age is not None]),
        "jurisdiction": jur,
        "province": prov,
        "location_verified": loc_ver,
        "days_incident_to_received": (ts - inc.occurred_at.timestamp()) / 86400
        if inc.occurred_at
        else NAN,
        "days_last_ip_to_received": (ts - max(last_ip)) / 86400 if last_ip else NAN,
        "days_upload_to_received": (ts - max(uploads)) / 86400 if uploads else NAN,
        "retention_days_left": (deadline - t).total_seconds() / 86400 if deadline else NAN,
    }
    return row


def rows(referrals: Sequence[Referral]) -> list[dict[str, object]]:
    """The facts of each referral as a plain dict (what :func:`flatten` tabulates); the
    pipeline reads these directly rather than paying for a frame it would take apart."""
    return [_row(r) for r in referrals]


def flatten(referrals: Sequence[Referral]) -> pd.DataFrame:
    """One row of report-level facts per referral, in input order."""
    return pd.DataFrame.from_records(rows(referrals))


class KeySighting(NamedTuple):
    """One pseudonymised key as a referral shows it: its family (``ident``, ``ip``,
    ``group``), kind (identifier kind, ``ip`` or ``group``), the subject it belongs to, and
    what linking rules may weigh: verified, the IP event's time, a possible proxy."""

    family: str
    kind: str
    key: str
    subject: int
    verified: bool
    at: datetime | None
    proxy: bool


def key_sightings(ref: Referral) -> Iterator[KeySighting]:
    """Every pseudonymised linking key of one referral, in document order: the one key
    builder behind the linking features (:func:`link_keys`) and the cases
    (``features.case_keys``)."""
    for n, s in enumerate(ref.subjects):
        for i in s.identifiers:
            if i.kind in LINK_KINDS:
                yield KeySighting("ident", i.kind, i.value, n, bool(i.verified), None, False)
        for e in s.ip_events:
            yield KeySighting("ip", "ip", e.ip, n, False, e.at, bool(e.possible_proxy))
        if s.group_identifier:
            yield KeySighting("group", "group", s.group_identifier, n, False, None, False)


def link_keys(referrals: Sequence[Referral]) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Pseudonymised keys per referral position, by family: ``ident``, ``ip``, ``group``."""
    fams: dict[str, tuple[list[int], list[str]]] = {f: ([], []) for f in ("ident", "ip", "group")}
    for pos, ref in enumerate(referrals):
        seen: set[str] = set()
        for k in key_sightings(ref):
            if k.key not in seen:
                seen.add(k.key)
                fams[k.family][0].append(pos)
                fams[k.family][1].append(k.key)
    return {f: (np.asarray(p, dtype=np.int64), k) for f, (p, k) in fams.items()}
