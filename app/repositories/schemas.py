from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.params import Text


class NamespaceRef(BaseModel):
    id: int
    name: str
    display_name: str = Field(
        description="the name, except the global namespace: its registry's host, as Portus shows it"
    )


class RepositoryPermissions(BaseModel):
    """The caller's rights on the repository (those of its namespace)."""

    role: Literal["viewer", "contributor", "owner"] | None = Field(
        description="the caller's role in the namespace's team"
    )
    pull: bool
    push: bool


class RepositoryRead(BaseModel):
    id: int
    name: str
    full_name: str
    description: str | None
    namespace: NamespaceRef
    tags_count: int
    created_at: datetime
    updated_at: datetime
    permissions: RepositoryPermissions


class AuthorRef(BaseModel):
    id: int | None
    name: str | None


class TagRead(BaseModel):
    id: int
    repository_id: int
    name: str
    digest: str
    media_type: str | None
    image_id: str | None
    size: int | None
    author: AuthorRef
    pulled_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RepositoryDetail(RepositoryRead):
    stars: int
    starred: bool
    destroyable: bool
    updatable: bool  # the description (administrators and the namespace's owners)
    registry_hostname: str
    pull_command: str


class RepositoryUpdateFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Text | None = Field(None, max_length=65535, description="markdown")
    name: Text | None = Field(
        None,
        max_length=255,
        description="accepted and ignored, as Portus's clients send it: a repository's name is "
        "where it was pushed",
    )


class RepositoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repository: RepositoryUpdateFields


class CommentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: Text = Field(min_length=1, max_length=65535, description="markdown")


class CommentAuthor(BaseModel):
    id: int
    name: str = Field(description="the display name when they are enabled and set")
    avatar_url: str | None = Field(description="Gravatar's; null when `gravatar.enabled` is off")


class CommentRead(BaseModel):
    id: int
    body: str
    user_id: int | None
    author: CommentAuthor | None = Field(description="null once the author's account is gone")
    destroyable: bool = Field(description="the caller may delete it (its author, admins)")
    created_at: datetime
    updated_at: datetime
