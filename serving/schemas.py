"""The HTTP answers that are not contract models themselves (``contract.md`` §6).

Scores, feedback, queue items and stored records are the contract's and the store's
models; these wrap them (a batch answer, a page of the queue) and describe errors, so the
published OpenAPI says exactly what comes back. Error texts name fields, never values.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from features.contract import Score
from features.ingest import Problem, Rejected
from serving.outcomes import OutcomeRecord
from serving.records import DecisionRecord, QueueItem


class FieldError(BaseModel):
    """One problem: where (a field path such as ``subjects.0.ip_events.1.at``) and why."""

    path: str
    reason: str


class RejectedReferral(BaseModel):
    """A referral of a list that was not scored: its place in the list, its id if readable."""

    index: int
    referral_id: str | None
    errors: list[FieldError]


class ErrorAnswer(BaseModel):
    """Any refusal: a sentence, and for invalid input every problem by field path."""

    error: str
    errors: list[FieldError] | None = None
    rejected: list[RejectedReferral] | None = None
    #: 409 on feedback: the score that superseded the one decided on (show it instead)
    current_score_id: int | None = None
    current: dict[str, Any] | None = None


class ScoreBatch(BaseModel):
    """The answer to a list: scores of the good referrals (in input order) and the bad ones."""

    request_id: str
    model_version: str
    degraded: bool
    scores: list[Score]
    rejected: list[RejectedReferral]


class FeedbackAnswer(BaseModel):
    """A recorded decision; ``created`` is false when the same decision was already stored."""

    created: bool
    decision: DecisionRecord


class OutcomeAnswer(BaseModel):
    """A recorded outcome report; ``created`` is false when it was already stored."""

    created: bool
    outcome: OutcomeRecord


class QueuePage(BaseModel):
    """Referrals awaiting confirmation, highest priority now first (as at the request)."""

    items: list[QueueItem]
    limit: int
    offset: int
    model_version: str


def field_errors(problems: list[Problem]) -> list[FieldError]:
    """Problems as answered; a model-level message ``field: why`` is put on its field."""
    out = []
    for p in problems:
        path, reason = p.path, p.reason
        head, sep, rest = reason.partition(": ")
        if path == "(document)" and sep and head.isidentifier():
            path, reason = head, rest
        out.append(FieldError(path=path, reason=reason))
    return out


def rejected_answer(rejected: list[Rejected]) -> list[RejectedReferral]:
    return [
        RejectedReferral(index=r.index, referral_id=r.referral_id, errors=field_errors(r.problems))
        for r in rejected
    ]


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema with its ``$defs`` references inlined (for an OpenAPI request body,
    which cannot carry ``$defs``). The contract's models are not recursive."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result
