from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.names import DisplayName
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

    name: DisplayName | None = Field(None, min_length=1, max_length=255)
    description: Text | None = Field(None, max_length=65535)
    visibility: VisibilityName | None = None
    team: Text | None = Field(None, min_length=1, max_length=255, description="team name")


class NamespaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DisplayName = Field(min_length=1, max_length=255)
    team: Text = Field(min_length=1, max_length=255, description="name of a (visible) team")
    description: Text | None = Field(None, max_length=65535)


class NameValidation(BaseModel):
    valid: bool
    messages: dict[str, list[str]]


class NamespaceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: NamespaceUpdateFields
