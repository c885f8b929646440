"""The door: raw documents in, validated and pseudonymised referrals out.

A bad document is rejected whole with every problem listed as ``field.path: reason``; a
batch keeps its good documents and lists the bad ones, never dropping any silently.
Error texts never quote the offending value (it may be an identifier or free text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from features import strict_json
from features.contract import Oracle, Outcome, Referral, Truth
from features.labels import Provenance
from features.pseudonyms import Pseudonymiser

LABEL_KEYS = ("outcome", "_oracle", "_truth")


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Rejected:
    """A document that failed validation: where it was, its id if readable, every problem."""

    index: int
    referral_id: str | None
    problems: list[Problem]

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "referral_id": self.referral_id,
            "errors": [{"path": p.path, "reason": p.reason} for p in self.problems],
        }


@dataclass
class Labelled:
    """A referral with its training label and (synthetic data only) the oracle and truth."""

    referral: Referral
    outcome: Outcome | None = None
    oracle: Oracle | None = None
    truth: Truth | None = None
    #: where the label came from (``features.labels``); a labelled file is imported history
    provenance: Provenance = "history"


@dataclass
class Batch:
    good: list[Labelled] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def referrals(self) -> list[Referral]:
        return [g.referral for g in self.good]


_PATH_REASON = re.compile(r"^([A-Za-z_][\w.]*): (.+)$")


def problems_from(err: ValidationError, prefix: str = "") -> list[Problem]:
    """Every error as ``path: reason``. A whole-document check (a model validator, which
    pydantic places at the root) says ``path: reason; path: reason`` and is put on its
    fields here, so every problem names its field."""
    out = []
    for e in err.errors(include_input=False, include_url=False):
        path = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        parts = [_PATH_REASON.match(part) for part in msg.split("; ")] if not path else []
        if parts and all(parts):
            out += [Problem(prefix + m.group(1), m.group(2)) for m in parts if m]
        else:
            out.append(Problem(prefix + (path or "(document)"), msg))
    return out


def _safe_id(doc: Any) -> str | None:
    if isinstance(doc, dict):
        rid = doc.get("referral_id")
        if (
            isinstance(rid, str)
            and 0 < len(rid) <= 64
            and rid.replace(".", "").replace("_", "").replace(":", "").replace("-", "").isalnum()
        ):
            return rid
    return None


def parse_referral(
    doc: Any, pseudonymiser: Pseudonymiser, *, now: datetime | None = None
) -> Referral:
    """Validate and pseudonymise one raw document; raises ``ValidationError``."""
    ctx: dict[str, Any] = {"pseudonymiser": pseudonymiser}
    if now is not None:
        ctx["now"] = now
    return Referral.model_validate(doc, context=ctx)


def load_trusted(doc: dict[str, Any]) -> Referral:
    """Re-read a referral we pseudonymised earlier (from our own store or files)."""
    return Referral.model_validate(doc, context={"trusted": True})


def parse_documents(
    docs: Iterable[Any],
    pseudonymiser: Pseudonymiser,
    *,
    labels: bool = False,
    now: datetime | None = None,
) -> Batch:
    """Validate many documents; with ``labels`` also read ``outcome``, ``_oracle`` and
    ``_truth``.

    Duplicate ``referral_id`` values within the batch are rejected (the later ones).
    """
    batch = Batch()
    seen: set[str] = set()
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            why = str(doc) if isinstance(doc, Unparseable) else "not a JSON object"
            batch.rejected.append(Rejected(i, None, [Problem("(document)", why)]))
            continue
        body = {k: v for k, v in doc.items() if k not in LABEL_KEYS}
        problems: list[Problem] = []
        ref = outcome = oracle = truth = None
        try:
            ref = parse_referral(body, pseudonymiser, now=now)
        except ValidationError as e:
            problems += problems_from(e)
        if labels:
            try:
                outcome = Outcome.model_validate(doc["outcome"]) if doc.get("outcome") else None
            except ValidationError as e:
                problems += problems_from(e, "outcome.")
            try:
                oracle = Oracle.model_validate(doc["_oracle"]) if doc.get("_oracle") else None
            except ValidationError as e:
                problems += problems_from(e, "_oracle.")
            try:
                truth = Truth.model_validate(doc["_truth"]) if doc.get("_truth") else None
            except ValidationError as e:
                problems += problems_from(e, "_truth.")
        if ref is not None and ref.referral_id in seen:
            problems.append(Problem("referral_id", "duplicate referral_id in this batch"))
        if problems or ref is None:
            batch.rejected.append(Rejected(i, _safe_id(doc), problems))
            continue
        seen.add(ref.referral_id)
        batch.good.append(Labelled(ref, outcome, oracle, truth))
    return batch


def iter_jsonl(path: Path) -> Iterator[Any]:
    """Yield each line's JSON value; an unreadable line yields a marker the parser rejects."""
    with path.open("r", encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                yield strict_json.loads(line)
            except strict_json.JsonProblem as e:
                yield Unparseable(str(e).replace(" (line 1,", " ("))


class Unparseable(str):
    """Marks a line that was not JSON; its text is the reason, never the line itself."""


def read_jsonl(path: Path, pseudonymiser: Pseudonymiser, *, labels: bool = False) -> Batch:
    return parse_documents(iter_jsonl(path), pseudonymiser, labels=labels)
