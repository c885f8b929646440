"""Structured (JSON Lines) service logs that cannot carry referral content.

The service logs events, not data: each line is one JSON object whose keys come from a
fixed allow-list and whose values are numbers, booleans or short strings of a safe
alphabet (route templates, request ids, tier names, exception *type* names). Anything
else is replaced by ``"<redacted>"`` before it is written, so a careless call site cannot
leak an identifier value, an IP address, a referral id or free text into the logs.
Client addresses are never logged (BentoML's access log, which records them, is off).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER = "triage.service"
#: Every key a log line may have. Add here (deliberately) before logging something new.
ALLOWED_KEYS = frozenset(
    {
        "event",
        "level",
        "request_id",
        "endpoint",
        "status",
        "ms",
        "role",
        "scored",
        "rejected",
        "degraded",
        "tiers",
        "model_version",
        "mode",
        "error_type",
        "history_events",
        "referrals",
        "decisions",
        "created",
        "decision",
        "tier",
        "limit",
        "store",
        "reason",
        "failures",
        "window_s",
    }
)
_SAFE = re.compile(r"^[A-Za-z0-9_.{}() :/-]{0,80}$")
REDACTED = "<redacted>"
_IP_LIKE = re.compile(r"\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{0,4}){2,}")


def safe_value(value: Any) -> Any:
    """The value if it is plainly harmless (number, bool, safe short string), else redacted."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if _SAFE.match(value) and not _IP_LIKE.search(value) else REDACTED
    if isinstance(value, dict):
        return {str(k): safe_value(v) for k, v in value.items() if _SAFE.match(str(k))}
    return REDACTED


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event and the allowed fields only."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "event": safe_value(record.getMessage()),
        }
        line.update({k: safe_value(v) for k, v in fields.items() if k in ALLOWED_KEYS})
        return json.dumps(line, separators=(",", ":"))


def configure(level: int = logging.INFO) -> logging.Logger:
    """Set up the service logger (stderr, JSON); idempotent. Called at service start."""
    logger = logging.getLogger(LOGGER)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one event; ``fields`` outside :data:`ALLOWED_KEYS` are dropped, unsafe values redacted."""
    logging.getLogger(LOGGER).log(level, name, extra={"fields": fields})
