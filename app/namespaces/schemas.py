from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.params import Text

VisibilityName = Literal["private", "protected", "public"]


class TeamRef(BaseModel):
    id: int
    name: str
    hidden: bool


class NamespaceRead(BaseModel):
    id: int
    name: str
    description: str | None
    visibility: VisibilityName
    global_: bool = Field(serialization_alias="global")
    team: TeamRef
    created_at: datetime
    updated_at: datetime


class NamespaceUpdateFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Text | None = Field(None, max_length=65535)
    visibility: VisibilityName | None = None


class NamespaceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: NamespaceUpdateFields
