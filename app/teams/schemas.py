from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.names import DisplayName
from app.core.params import MAX_ID, Text
from app.models import LdapCheck

RoleName = Literal["viewer", "contributor", "owner"]


LdapCheckName = Literal["unchecked", "checked", "disabled"]


class TeamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    hidden: bool
    ldap_group_checked: LdapCheckName = Field(
        "unchecked",
        description="LDAP group sync: `disabled` once excluded with POST /teams/:id/ldap_check",
    )
    checked_at: datetime | None = Field(None, description="last LDAP group sync of the team")
    created_at: datetime
    updated_at: datetime
    role: RoleName | None = Field(description="the caller's role in the team")
    updatable: bool = Field(description="the caller may rename it and edit its description")
    destroyable: bool = Field(description="the caller may delete it")
    members_count: int
    namespaces_count: int

    @field_validator("ldap_group_checked", mode="before")
    @classmethod
    def _check_name(cls, value: object) -> object:
        return value.name if isinstance(value, LdapCheck) else value


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DisplayName = Field(min_length=1, max_length=255)
    description: Text | None = Field(None, max_length=65535)
    owner_id: int | None = Field(None, ge=1, le=MAX_ID, description="administrators only")


class TeamUpdateFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DisplayName | None = Field(None, min_length=1, max_length=255)
    description: Text | None = Field(None, max_length=65535)


class TeamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    team: TeamUpdateFields


class MemberRead(BaseModel):
    id: int
    team_id: int
    user_id: int
    username: str
    display_name: str = Field(description="the display name when they are enabled and set")
    avatar_url: str | None = Field(description="Gravatar's; null when `gravatar.enabled` is off")
    admin: bool
    current: bool = Field(description="the member is the caller")
    role: RoleName
    created_at: datetime
    updated_at: datetime


class MemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: Text = Field(min_length=1, max_length=255, description="username")
    role: RoleName


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleName
