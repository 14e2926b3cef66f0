"""Request parameter types shared by the endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator

from app.core.text import text_problem

MAX_ID = 2**63 - 1  # BIGINT: larger ids are a 422, not a database error

ResourceId = Annotated[int, Path(ge=1, le=MAX_ID, description="numeric id")]


def _storable(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


# Text fields of request bodies: no NUL (PostgreSQL cannot store it) and no lone surrogate (no
# driver can encode it), which no client means to send.
Text = Annotated[str, AfterValidator(_storable)]
