"""Input text the service can store and send, and JSON parsed into nothing but such text.

Two things reach the database drivers and fail there, as 500s, unless refused where they enter:
NUL (PostgreSQL cannot store it) and lone surrogates (U+D800-U+DFFF unpaired: JSON's `\\ud800`
escape decodes to one, and no encoder, UTF-8 for asyncpg and SQLite alike, accepts it). Request
bodies validated by pydantic refuse both through `app.core.params.Text`; JSON the service parses
itself (registry events, cursors) goes through `load_json`, which also bounds the nesting (the
parser recurses: 100,000 brackets were a RecursionError) and refuses non-finite numbers.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_JSON_DEPTH = 64


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    if _SURROGATE.search(value) is not None:
        return "must be valid Unicode (it holds a lone surrogate)"
    return None


class JsonRefused(ValueError):
    """The document is not JSON the service accepts; the message says why (and where)."""


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:32]}")
    return number


def _no_constant(text: str) -> Any:
    raise ValueError(f"{text} is not a JSON number")


def load_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The parsed document; `JsonRefused` if it is not JSON, nests deeper than `max_depth`, or
    holds a string (or key) that is not storable text."""
    try:
        value = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise JsonRefused(f"nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, invalid UTF-8, an integer of 4,300+ digits
        raise JsonRefused(f"not valid JSON: {exc}") from None
    _check(value, max_depth)
    return value


def _check(document: Any, max_depth: int) -> None:
    # Iterative: the document may be as deep as the parser allowed (~1,000 levels).
    stack: list[tuple[Any, int, tuple[str | int, ...]]] = [(document, 0, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                raise JsonRefused(f"{_where(path)}{problem}")
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                raise JsonRefused(f"nested deeper than {max_depth} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    problem = text_problem(key)
                    if problem is not None:
                        raise JsonRefused(f"{_where(path)}a key {problem}")
                    stack.append((item, depth + 1, (*path, key)))
            else:
                stack.extend((item, depth + 1, (*path, i)) for i, item in enumerate(value))


def _where(path: tuple[str | int, ...]) -> str:
    if not path:
        return ""
    parts = [f"[{part}]" if isinstance(part, int) else f".{part}" for part in path]
    # The path repeats the client's own keys: keep it short and printable.
    shown = "".join(parts).lstrip(".")
    return f"{ascii(shown)[1:-1][:80]}: "
