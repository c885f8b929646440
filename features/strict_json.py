"""The one JSON reader for documents from outside (HTTP bodies and JSON Lines files).

Python's ``json.loads`` is lenient where a hostile or buggy client can hurt us: a repeated
key silently keeps the last value (two readers of one document could disagree on what it
says), ``NaN`` and ``Infinity`` are accepted though JSON has no such values, and an integer
of more than 4,300 digits raises a bare ``ValueError`` instead of a decode error. Here each
of these is refused with a :class:`JsonProblem` whose message names the problem (and a
repeated key when it is one of the contract's field names; any other key could be data),
so every caller answers it as bad input.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any


class JsonProblem(ValueError):
    """The text is not a JSON document we accept; the message says why without quoting it."""


@cache
def _field_names() -> frozenset[str]:
    """Every field name of the contract's models: the keys an error may name."""
    from pydantic import BaseModel

    from features import contract

    models = [
        m
        for m in vars(contract).values()
        if isinstance(m, type) and issubclass(m, BaseModel) and m is not BaseModel
    ]
    return frozenset(name for m in models for name in m.model_fields) | {"outcome", "_oracle"}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            if key in _field_names():
                raise JsonProblem(f"duplicate key {key!r} in one object")
            raise JsonProblem("duplicate key (not a contract field) in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise JsonProblem(f"{name} is not a JSON number")


def loads(text: str | bytes) -> Any:
    """Parse one JSON value strictly; raises :class:`JsonProblem` (a ``ValueError``)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonProblem("not UTF-8 text") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except JsonProblem:
        raise
    except json.JSONDecodeError as e:
        raise JsonProblem(f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise JsonProblem("nested too deeply") from None
    except ValueError:  # int() of more than sys.get_int_max_str_digits() digits
        raise JsonProblem("a number has too many digits") from None
