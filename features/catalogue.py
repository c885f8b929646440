"""The feature catalogue: every model feature's name, type and meaning in plain words.

The order here is the column order of the feature frame and of every model's manifest.
Explanations turn a feature's contribution into a sentence with ``label`` and ``unit``;
a model trained on another catalogue refuses to load (see ``catalogue_digest``).

Each feature names where it is computed (``computed_in``, one of :data:`COMPUTED_IN`):
the referral's own facts in one pass over the document (:func:`features.flatten.rows`),
the point-in-time links and the platform's past against the history
(:func:`features.linking.linking_features`). ``tests/unit/test_catalogue_modules.py``
checks that every column of the pipeline's output has an entry and that the function
it names really produces it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Literal

from features.contract import IncidentType, Source
from features.countries import CA_PROVINCES

Kind = Literal["numeric", "binary", "categorical"]

SOURCES: tuple[Source, ...] = (
    "ncmec",
    "cybertip",
    "industry",
    "domestic_police",
    "foreign_police",
    "rcmp_division",
    "public",
    "other",
)
INCIDENT_TYPES: tuple[IncidentType, ...] = (
    "csam",
    "trafficking",
    "sex_tourism",
    "molestation",
    "misleading_domain",
    "misleading_content",
    "online_enticement",
    "unsolicited_material",
)
CHANNELS = ("web", "email", "newsgroup", "chat", "gaming", "phone", "offline", "p2p", "unknown")
SOURCE_PRIORITIES = ("E", "1", "2", "3", "other")
JURISDICTIONS = ("canada", "foreign", "proxy", "unknown")
PROVINCES = CA_PROVINCES


#: the functions that compute features, and what each computes
COMPUTED_IN: dict[str, str] = {
    "features.flatten.rows": "the referral's own facts, read from its document alone",
    "features.linking.linking_features": "point in time: earlier referrals sharing a key, "
    "and the reporting platform's past, from the history",
}
#: groups of features computed against the history (the rest come from the document)
POINT_IN_TIME_GROUPS = ("linking", "platform")


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    kind: Kind
    label: str
    unit: str = ""
    levels: tuple[str, ...] = ()
    group: str = "other"
    computed_in: str = ""

    def __post_init__(self) -> None:
        if not self.computed_in:  # by its group: the history's features, or the document's
            where = (
                "features.linking.linking_features"
                if self.group in POINT_IN_TIME_GROUPS
                else "features.flatten.rows"
            )
            object.__setattr__(self, "computed_in", where)
        if self.computed_in not in COMPUTED_IN:
            raise ValueError(f"{self.name}: computed_in {self.computed_in!r} is not known")

    def describe(self, value: object) -> str:
        """Plain words for ``feature = value``, as a reviewer reads it."""
        if value is None or (isinstance(value, float) and value != value):
            return f"{self.label}: not reported"
        if self.kind == "binary":
            return f"{self.label}: {'yes' if float(value) >= 0.5 else 'no'}"  # type: ignore[arg-type]
        if self.kind == "numeric" and isinstance(value, float):
            shown = f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:.2f}"
            return f"{self.label}: {shown}{(' ' + self.unit) if self.unit else ''}"
        return f"{self.label}: {value}"


def _b(name: str, label: str, group: str) -> FeatureSpec:
    return FeatureSpec(name, "binary", label, group=group)


def _n(name: str, label: str, group: str, unit: str = "") -> FeatureSpec:
    return FeatureSpec(name, "numeric", label, unit=unit, group=group)


def _c(name: str, label: str, levels: tuple[str, ...], group: str) -> FeatureSpec:
    return FeatureSpec(name, "categorical", label, levels=tuple(levels), group=group)


FILE_ANNOTATIONS = (
    "live_streaming",
    "physical_harm",
    "infant",
    "possible_self_production",
    "generative_ai",
    "potential_meme",
    "viral",
    "violence_gore",
    "bestiality",
    "anime_virtual",
)
INCIDENT_ANNOTATIONS = (
    "sextortion",
    "csam_solicitation",
    "minor_to_minor",
    "spam",
    "sadistic_exploitation",
)

CATALOGUE: tuple[FeatureSpec, ...] = (
    # the report itself
    _c("source", "Referral source", SOURCES, "report"),
    _c("source_priority", "Source's own priority code", SOURCE_PRIORITIES, "report"),
    _c("incident_type", "Incident type", INCIDENT_TYPES, "report"),
    _c("channel", "Where it happened", CHANNELS, "report"),
    _b("escalated", "Reporter escalated it as a child at immediate risk", "urgency"),
    *(
        _b(f"ann_{a}", f"Report annotated '{a.replace('_', ' ')}'", "urgency")
        for a in INCIDENT_ANNOTATIONS
    ),
    _b("batched", "Batched viral/meme report", "report"),
    _n("batched_accounts", "Accounts in the batched report", "report", "accounts"),
    _n("completeness", "Share of optional fields the reporter filled", "report"),
    _b("bsi_included", "Basic subscriber information included", "viability"),
    _b("has_narrative", "Narrative text supplied", "report"),
    # files (metadata only)
    _n("n_files", "Files reported", "files", "files"),
    _n("n_videos", "Video files reported", "files", "files"),
    _n("files_new", "Files matching no known hash (possibly new material)", "urgency", "files"),
    _n("files_known", "Files matching a known hash", "files", "files"),
    _n("files_similar", "Files similar to a known hash", "files", "files"),
    _n("files_unchecked", "Files not checked against hash lists", "files", "files"),
    _n("share_new", "Share of hash-checked files that are new", "urgency"),
    *(
        _b(f"fa_{a}", f"A file annotated '{a.replace('_', ' ')}'", "urgency")
        for a in FILE_ANNOTATIONS
    ),
    _b("cls_prepubescent", "A file classified A (prepubescent)", "urgency"),
    _b("cls_pubescent", "A file classified B (pubescent)", "files"),
    _n("share_viewed", "Share of files viewed by the reporter", "viability"),
    _b("any_public", "A file was publicly available", "files"),
    # victims and recipients
    _n("n_victims", "Victims in the report", "victim", "victims"),
    _n("victim_min_age", "Youngest victim's age", "victim", "years"),
    _n(
        "victim_min_band",
        "Youngest victim's age band (0 infant, 1 prepubescent, 2 pubescent)",
        "victim",
    ),
    _b("victim_unidentified", "A victim not yet identified", "victim"),
    _b("victim_located", "A victim's location is known", "victim"),
    _b("victim_school_known", "A victim's school is known", "victim"),
    _n("n_recipients", "Intended recipients", "victim", "recipients"),
    _n("recipient_min_age", "Youngest intended recipient's age", "victim", "years"),
    # suspects: identifiability and risk
    _n("n_subjects", "Reported persons/accounts", "suspect", "subjects"),
    _n("n_identifiers", "Suspect identifiers supplied", "viability", "identifiers"),
    _n("n_verified", "Verified suspect identifiers", "viability", "identifiers"),
    _b("has_email", "Suspect e-mail supplied", "viability"),
    _b("has_verified_email", "Suspect e-mail verified", "viability"),
    _b("has_phone", "Suspect phone supplied", "viability"),
    _b("has_esp_user_id", "Platform user id supplied", "viability"),
    _b("has_device_id", "Device id supplied", "viability"),
    _n("n_ip_events", "IP capture events", "viability", "events"),
    _n("n_ip_timed", "IP capture events with a time", "viability", "events"),
    _n("ip_proxy_share", "Share of IP events flagged as possible proxy", "viability"),
    _b("has_upload_ip", "An upload IP capture", "viability"),
    _n("subject_prior_reports", "Suspect's prior reports (per the reporter)", "suspect", "reports"),
    _n("subject_known_offender", "Suspect is a known offender", "suspect"),
    _n("subject_access_to_children", "Suspect has access to children", "suspect"),
    _n("subject_account_disabled", "Suspect's account disabled", "suspect"),
    _n("subject_compromised", "Suspect's account possibly compromised", "suspect"),
    _n(
        "subject_associated_accounts", "Accounts associated with the suspect", "suspect", "accounts"
    ),
    _b("subject_group", "Suspect belongs to a reported group", "suspect"),
    _n("subject_min_age", "Youngest reported person's age", "suspect", "years"),
    # jurisdiction
    _c("jurisdiction", "Jurisdiction", JURISDICTIONS, "viability"),
    _c("province", "Province or territory", PROVINCES, "viability"),
    _b("location_verified", "Suspect's location verified", "viability"),
    # freshness
    _n("days_incident_to_received", "Days from incident to receipt", "freshness", "days"),
    _n(
        "days_last_ip_to_received",
        "Days from the latest IP capture to receipt",
        "freshness",
        "days",
    ),
    _n("days_upload_to_received", "Days from the latest upload to receipt", "freshness", "days"),
    _n("retention_days_left", "Days of data preservation left at receipt", "freshness", "days"),
    # point in time: what was known before this referral arrived
    _n(
        "link_prior_referrals",
        "Earlier referrals sharing a suspect identifier",
        "linking",
        "referrals",
    ),
    _n("link_days_since_last", "Days since the last linked referral", "linking", "days"),
    _n(
        "link_prior_package",
        "Earlier linked referrals that became packages",
        "linking",
        "referrals",
    ),
    _n("link_prior_urgent", "Earlier linked referrals judged urgent", "linking", "referrals"),
    _n("ip_prior_referrals", "Earlier referrals sharing an IP", "linking", "referrals"),
    _n("group_prior_referrals", "Earlier referrals from the same group", "linking", "referrals"),
    _b("platform_seen", "Reporting platform seen before", "platform"),
    _n(
        "platform_recent_volume",
        "Referrals from this platform in the previous 90 days",
        "platform",
        "referrals",
    ),
    _n("platform_package_rate", "Platform's past package rate (smoothed)", "platform"),
    _n("platform_urgent_rate", "Platform's past urgent rate (smoothed)", "platform"),
)

FEATURES: tuple[str, ...] = tuple(f.name for f in CATALOGUE)
BY_NAME: dict[str, FeatureSpec] = {f.name: f for f in CATALOGUE}
CATEGORICAL: tuple[str, ...] = tuple(f.name for f in CATALOGUE if f.kind == "categorical")


def catalogue_digest() -> str:
    """A digest of names, kinds and levels: models record it and check it on load."""
    blob = json.dumps([(f.name, f.kind, f.levels) for f in CATALOGUE])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
