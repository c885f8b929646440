"""The CyberTipline XSD's vocabularies and their contract equivalents, in one place.

Both directions (``xml_mapping`` reads, ``xml_export`` writes) use these tables, so a value
that reads in one way always writes back the same way. The XSD spellings are copied
exactly from ``reference/cybertipline-report.xsd``; see ``docs/xml-mapping.md``.
"""

from __future__ import annotations

# incidentSummary/incidentType enumeration -> contract incident.type
INCIDENT_TYPES: dict[str, str] = {
    "Child Pornography (possession, manufacture, and distribution)": "csam",
    "Child Sex Trafficking": "trafficking",
    "Child Sex Tourism": "sex_tourism",
    "Child Sexual Molestation": "molestation",
    "Misleading Domain Name": "misleading_domain",
    "Misleading Words or Digital Images on the Internet": "misleading_content",
    "Online Enticement of Children for Sexual Acts": "online_enticement",
    "Unsolicited Obscene Material Sent to a Child": "unsolicited_material",
}

# internetDetails choice element -> contract incident.channel
CHANNELS: dict[str, str] = {
    "webPageIncident": "web",
    "emailIncident": "email",
    "newsgroupIncident": "newsgroup",
    "chatImIncident": "chat",
    "onlineGamingIncident": "gaming",
    "cellPhoneIncident": "phone",
    "nonInternetIncident": "offline",
    "peer2peerIncident": "p2p",
}

# incidentSummary/reportAnnotations children -> contract incident.annotations
REPORT_ANNOTATIONS: dict[str, str] = {
    "sextortion": "sextortion",
    "csamSolicitation": "csam_solicitation",
    "minorToMinorInteraction": "minor_to_minor",
    "spam": "spam",
    "sadisticOnlineExploitation": "sadistic_exploitation",
}

# fileDetails/fileAnnotations children -> contract files[].annotations
FILE_ANNOTATIONS: dict[str, str] = {
    "animeDrawingVirtualHentai": "anime_virtual",
    "potentialMeme": "potential_meme",
    "viral": "viral",
    "possibleSelfProduction": "possible_self_production",
    "physicalHarm": "physical_harm",
    "violenceGore": "violence_gore",
    "bestiality": "bestiality",
    "liveStreaming": "live_streaming",
    "infant": "infant",
    "generativeAi": "generative_ai",
}

# ipCaptureType enumeration -> contract ip_events[].event
IP_EVENTS: dict[str, str] = {
    "Login": "login",
    "Registration": "registration",
    "Purchase": "purchase",
    "Upload": "upload",
    "Other": "other",
    "Unknown": "unknown",
}

# fileRelevance enumeration -> contract files[].relevance
RELEVANCE: dict[str, str] = {"Reported": "reported", "Supplemental Reported": "supplemental"}

BATCHED_REASONS: dict[str, str] = {"VIRAL_POTENTIAL_MEME": "viral_potential_meme"}

# Codes the XSD's `country` type allows but ISO 3166-1 (and so the contract) does not:
# FX (metropolitan France) folds into FR; the others name no single country and read as
# null rather than rejecting the referral.
COUNTRY_ALIASES: dict[str, str | None] = {
    "FX": "FR",
    "AN": None,
    "AP": None,
    "EU": None,
    "XK": None,
}

# The XSD has no file type; the kind comes from the file name's extension.
IMAGE_EXTENSIONS = frozenset(
    ["jpg", "jpeg", "jpe", "png", "gif", "bmp", "webp", "heic", "heif", "tif", "tiff", "avif"]
)
VIDEO_EXTENSIONS = frozenset(
    ["mp4", "m4v", "mov", "avi", "mkv", "wmv", "flv", "webm", "mpg", "mpeg", "3gp", "ts"]
)

# incidentDateTimeDescription text that marks incidentDateTime as a placeholder: the
# exporter writes it when occurred_at is null (the XSD requires a time), and the reader
# then leaves occurred_at null.
UNKNOWN_TIME_MARK = "unknown"


def invert(table: dict[str, str]) -> dict[str, str]:
    """Contract value -> XSD spelling, for the exporter."""
    return {v: k for k, v in table.items()}
