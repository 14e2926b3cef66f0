"""Names: repository paths the registry accepts, and the names people give things."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

from app.core.params import Text

# distribution's reference grammar for a repository path (lowercase components, separators
# inside). The grammar writes the hyphen separator `[-]*`; its empty case only joins two
# alphanumeric runs, which `[a-z0-9]+` already covers, and leaving it in makes Python's
# backtracking engine exponential on near-misses. So: `-+`.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
REPOSITORY_NAME_MAX = 255


def is_repository_name(name: str) -> bool:
    return len(name) <= REPOSITORY_NAME_MAX and REPOSITORY_NAME.fullmatch(name) is not None


# Characters a name shown to other people must not hold: controls (Cc: NUL, tab, newline, ESC...),
# format characters (Cf: bidi overrides and isolates such as U+202E and U+2066-U+2069, zero-width
# spaces and joiners), which make a name read as another one, lone surrogates (Cs), and the line
# and paragraph separators (Zl, Zp).
_UNSHOWABLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a user, team, namespace, webhook or application, or None."""
    for char in name:
        if unicodedata.category(char) in _UNSHOWABLE:
            return (
                "must not contain control or invisible formatting characters "
                f"(U+{ord(char):04X} at position {name.index(char)})"
            )
    return None


def _showable(name: str) -> str:
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


# A name of a request body (descriptions stay `Text`: they may hold newlines).
DisplayName = Annotated[Text, AfterValidator(_showable)]
