"""Request parameter types shared by the endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

MAX_ID = 2**63 - 1  # BIGINT: larger ids are a 422, not a database error

ResourceId = Annotated[int, Path(ge=1, le=MAX_ID, description="numeric id")]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Text fields of request bodies: PostgreSQL cannot store NUL, and no client means to send one.
Text = Annotated[str, AfterValidator(_no_nul)]
