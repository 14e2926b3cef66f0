from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.names import DisplayName
from app.core.params import Text

VisibilityName = Literal["private", "protected", "public"]
RoleName = Literal["viewer", "contributor", "owner"]


class TeamRef(BaseModel):
    id: int
    name: str
    hidden: bool


class NamespacePermissions(BaseModel):
    """The caller's rights in the namespace (the UI shows or hides actions by them; the API
    still checks)."""

    role: RoleName | None = Field(description="the caller's role in the namespace's team")
    pull: bool
    push: bool
    webhooks: bool = Field(description="may see the namespace's webhooks")
    visibility: bool = Field(description="may change the visibility")


class NamespaceRead(BaseModel):
    id: int
    name: str
    display_name: str = Field(
        description="what to show for it: the name, except the global namespace, shown as its "
        "registry's host (as in `docker pull HOST/NAME`), as Portus does"
    )
    description: str | None
    visibility: VisibilityName
    global_: bool = Field(serialization_alias="global")
    team: TeamRef
    created_at: datetime
    updated_at: datetime
    repositories_count: int
    webhooks_count: int | None = Field(
        description="null when the caller may not see the webhooks (`permissions.webhooks`)"
    )
    permissions: NamespacePermissions
    updatable: bool = Field(description="may change the name and description")
    destroyable: bool = Field(description="may delete the namespace")


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
