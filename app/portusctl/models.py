"""The API's answers as portusctl reads them: the fields it uses of the API's response schemas
(`app/*/schemas.py`), with the names and types they have on the wire.

Why not import those schemas: they pull in the server's stack (FastAPI through the parameter
types, SQLAlchemy through the models' enums, pydantic-settings), about 1.7 s of imports for
every command against 0.2 s for httpx and pydantic. `tests/portusctl/test_models.py` holds each
model here against its API schema (same wire names, same JSON types), so they cannot drift
apart unnoticed; unknown fields are kept (`extra="allow"`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class UserRead(ApiModel):
    """`app.users.schemas.UserRead` (and `UserDetail`)."""

    id: int
    username: str
    email: str | None
    admin: bool
    enabled: bool
    bot: bool
    namespace_id: int | None
    display_name: str | None


class ApplicationTokenCreated(ApiModel):
    id: int
    application: str
    plain_token: str


class UserCreated(UserRead):
    application_token: ApplicationTokenCreated | None = None


class ApplicationTokenRead(ApiModel):
    id: int
    application: str
    created_at: datetime


class RefreshTokenRead(ApiModel):
    id: int
    service: str
    client_id: str | None
    application_token_id: int | None
    created_at: datetime


class TeamRead(ApiModel):
    id: int
    name: str
    description: str | None
    hidden: bool


class MemberRead(ApiModel):
    id: int
    team_id: int
    user_id: int
    username: str
    role: str


class TeamRef(ApiModel):
    id: int
    name: str


class NamespaceRead(ApiModel):
    id: int
    name: str
    description: str | None
    visibility: str
    global_: bool = Field(alias="global")
    team: TeamRef


class Validation(ApiModel):
    """`NameValidation` and `RegistryValidation`."""

    valid: bool
    messages: dict[str, list[str]]


class NamespaceRef(ApiModel):
    id: int
    name: str


class RepositoryRead(ApiModel):
    """`RepositoryRead`; `stars` only in `RepositoryDetail` (one repository)."""

    id: int
    name: str
    full_name: str
    namespace: NamespaceRef
    tags_count: int
    stars: int | None = None


class AuthorRef(ApiModel):
    id: int | None
    name: str | None


class TagRead(ApiModel):
    id: int
    repository_id: int
    name: str
    digest: str
    image_id: str | None
    author: AuthorRef


class RegistryRead(ApiModel):
    id: int
    name: str
    hostname: str
    external_hostname: str | None
    use_ssl: bool


class WebhookRead(ApiModel):
    id: int
    namespace_id: int
    name: str
    url: str
    request_method: str
    content_type: str
    enabled: bool


class WebhookWithSecret(WebhookRead):
    secret: str


class WebhookHeaderRead(ApiModel):
    id: int
    webhook_id: int
    name: str
    value: str


class DeliveryRead(ApiModel):
    id: int
    uuid: str
    webhook_id: int
    event: str
    status: str
    attempts: int
    last_status_code: int | None
    delivered_at: datetime | None


class CommentAuthor(ApiModel):
    id: int
    name: str


class CommentRead(ApiModel):
    id: int
    body: str
    author: CommentAuthor | None
    created_at: datetime


class ActivityRead(ApiModel):
    id: int
    key: str
    owner_name: str | None = None
    trackable_name: str | None = None
    recipient_name: str | None = None
    parameters: dict[str, Any]
    created_at: datetime


class SearchHit(ApiModel):
    kind: str
    id: int
    name: str
    description: str | None


class HealthComponent(ApiModel):
    """One component of `/api/v1/health` (administrators also get `msg` and details)."""

    success: bool = True
    msg: str | None = None


class ServerVersion(ApiModel):
    """`/api/version`."""

    version: str
    api_versions: list[str] = Field(default_factory=list, alias="api-versions")
    git: str | None = None
