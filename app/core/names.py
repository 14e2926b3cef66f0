"""Names the registry accepts: repository paths (distribution's reference grammar)."""

from __future__ import annotations

import re

# distribution's reference grammar for a repository path (lowercase components, separators
# inside). The grammar writes the hyphen separator `[-]*`; its empty case only joins two
# alphanumeric runs, which `[a-z0-9]+` already covers, and leaving it in makes Python's
# backtracking engine exponential on near-misses. So: `-+`.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
REPOSITORY_NAME_MAX = 255


def is_repository_name(name: str) -> bool:
    return len(name) <= REPOSITORY_NAME_MAX and REPOSITORY_NAME.fullmatch(name) is not None
