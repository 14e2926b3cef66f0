from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.core.names import DisplayName
from app.core.params import Text


class RegistryFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DisplayName = Field(min_length=1, max_length=255)
    hostname: Text = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9.\-]+(:\d{1,5})?$",
        description="host:port as the registry knows itself (its token `service`)",
    )
    use_ssl: bool = False
    external_hostname: Text | None = Field(None, max_length=255)


class RegistryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registry: RegistryFields
    force: bool = Field(False, description="skip the reachability check")


class RegistryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    hostname: str
    external_hostname: str | None
    use_ssl: bool
    created_at: datetime
    updated_at: datetime


class RegistryDetail(RegistryRead):
    can_change_hostname: bool = Field(
        description="false once the registry holds repositories (the hostname is then locked)"
    )


class RegistryUpdateFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: DisplayName | None = Field(None, min_length=1, max_length=255)
    hostname: Text | None = Field(
        None, min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.\-]+(:\d{1,5})?$"
    )
    use_ssl: bool | None = None
    external_hostname: Text | None = Field(None, max_length=255)


class RegistryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    registry: RegistryUpdateFields
    force: bool = Field(False, description="skip the reachability check of a new hostname")


class RegistryValidation(BaseModel):
    valid: bool
    messages: dict[str, list[str]]
