from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from app.core.config import Settings
from app.core.names import DisplayName
from app.core.params import Text
from app.core.people import gravatar_url


class UserCreateFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: DisplayName = Field(min_length=1, max_length=255)
    email: Text = Field(min_length=3, max_length=255)
    password: Text | None = Field(None, max_length=128)
    display_name: DisplayName | None = Field(None, max_length=255)
    bot: bool = False


class UserCreate(BaseModel):
    """Portus's shape: the fields are wrapped in `user`."""

    model_config = ConfigDict(extra="forbid")

    user: UserCreateFields


class BootstrapFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: DisplayName = Field(min_length=1, max_length=255)
    email: Text = Field(min_length=3, max_length=255)
    password: Text = Field(max_length=128)
    display_name: DisplayName | None = Field(None, max_length=255)


class BootstrapCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: BootstrapFields


class UserRead(BaseModel):
    """Validate with `context=avatars(settings)` for `avatar_url` (gravatar.enabled)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str | None
    admin: bool
    enabled: bool
    bot: bool
    locked_at: datetime | None
    namespace_id: int | None
    display_name: str | None
    provider: str | None = Field(
        None,
        description="the sign-in provider (`openid_connect`, …) of an account made by signing in "
        "with one: it has no password here (the docker CLI takes application tokens)",
    )
    created_at: datetime
    updated_at: datetime
    avatar_url: str | None = None

    @model_validator(mode="after")
    def _avatar(self, info: ValidationInfo) -> UserRead:
        if info.context and info.context.get("gravatar") and self.email and not self.bot:
            self.avatar_url = gravatar_url(self.email)
        return self


def avatars(settings: Settings) -> dict[str, bool]:
    return {"gravatar": settings.gravatar.enabled}


class UserDetail(UserRead):
    """A user in the administrators' views, with their memberships counted."""

    namespaces_count: int = Field(
        description="namespaces of the teams the user belongs to (the personal one included)"
    )
    teams_count: int = Field(description="the teams the user belongs to (hidden ones left out)")


class UserCreated(UserRead):
    """A bot is created with its first application token, shown this once."""

    application_token: ApplicationTokenCreated | None = None


class ApplicationTokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application: DisplayName = Field(min_length=1, max_length=255)


class ApplicationTokenRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    application: str
    created_at: datetime


class RefreshTokenRead(BaseModel):
    """A login that holds an identity token (docker login, containerd...)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    service: str
    client_id: str | None
    application_token_id: int | None
    created_at: datetime


class ApplicationTokenCreated(BaseModel):
    id: int
    application: str
    plain_token: str = Field(description="Shown once; only a digest is stored")


UserCreated.model_rebuild()


class UserUpdateFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: DisplayName | None = Field(None, min_length=1, max_length=255)
    email: Text | None = Field(None, min_length=3, max_length=255)
    password: Text | None = Field(None, max_length=128)
    display_name: DisplayName | None = Field(None, max_length=255)


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: UserUpdateFields


class EnabledUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool


class AdminUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admin: bool


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Text = Field(min_length=1, max_length=255)


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Text = Field(min_length=1, max_length=255, description="from the link in the mail")
    password: Text = Field(max_length=128)


class PasswordResetRequested(BaseModel):
    message: str
