from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.core.names import DisplayName
from app.core.params import Text

MethodName = Literal["GET", "POST"]
ContentTypeName = Literal["application/json", "application/x-www-form-urlencoded"]
DeliveryStatusName = Literal["pending", "delivered", "failed"]

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Set by the HTTP client or by the sender itself: a custom header may not replace them.
RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
RESERVED_PREFIX = "x-portus-"
# Header values that are credentials: stored, sent, but shown as MASK in the API and the attempt
# log (team viewers may read both).
_SENSITIVE = re.compile(r"authorization|cookie|token|secret|password|api[-_]?key", re.IGNORECASE)
MASK = "********"


def is_sensitive_header(name: str) -> bool:
    return _SENSITIVE.search(name) is not None


def _http_url(value: str) -> str:
    value = value.strip()
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise ValueError("must start with http:// or https://")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain credentials: use username and password")
    if port == 0:
        raise ValueError("has an invalid port")
    if parts.fragment:
        raise ValueError("must not contain a #fragment")
    return value


def _header_name(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError("must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)")
    lowered = value.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIX):
        raise ValueError(f"{value} is set by Portus and cannot be overridden")
    return value


def _header_value(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise ValueError("must not contain line breaks or NUL characters")
    return value


HttpUrl = Annotated[Text, Field(min_length=1, max_length=2048), AfterValidator(_http_url)]
HeaderName = Annotated[Text, Field(min_length=1, max_length=255), AfterValidator(_header_name)]
HeaderValue = Annotated[Text, Field(max_length=4096), AfterValidator(_header_value)]
Name = Annotated[DisplayName, Field(min_length=1, max_length=255)]
Credential = Annotated[Text, Field(max_length=255), AfterValidator(_header_value)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    url: HttpUrl
    request_method: MethodName = "POST"
    content_type: ContentTypeName = "application/json"
    username: Credential | None = Field(None, description="HTTP Basic user; empty: none")
    password: Credential | None = Field(None, description="HTTP Basic password (never returned)")
    enabled: bool = True


class WebhookUpdate(BaseModel):
    """Only the given fields change; `username: ""` / `password: ""` remove them."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    url: HttpUrl | None = None
    request_method: MethodName | None = None
    content_type: ContentTypeName | None = None
    username: Credential | None = None
    password: Credential | None = None
    enabled: bool | None = None


class WebhookRead(BaseModel):
    id: int
    namespace_id: int
    name: str
    url: str
    request_method: MethodName
    content_type: ContentTypeName
    username: str | None
    has_password: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime
    updatable: bool = Field(description="the caller may edit, toggle and re-send")
    destroyable: bool = Field(description="the caller may delete it")


class WebhookWithSecret(WebhookRead):
    secret: str = Field(
        description="Signing secret of X-Portus-Signature-256: shown only now; store it"
    )


class WebhookHeaderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: HeaderName
    value: HeaderValue


class WebhookHeaderRead(BaseModel):
    id: int
    webhook_id: int
    name: str
    value: str


class DeliveryRead(BaseModel):
    id: int
    uuid: str
    webhook_id: int
    event: str
    status: DeliveryStatusName
    attempts: int
    last_status_code: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class AttemptRead(BaseModel):
    id: int
    number: int
    request_method: str
    request_url: str
    request_headers: dict[str, str]
    request_body: str
    response_status: int | None
    response_headers: dict[str, str] | None
    response_body: str | None
    duration_ms: int
    error: str | None
    created_at: datetime


class DeliveryDetail(DeliveryRead):
    payload: dict[str, Any]
    attempt_log: list[AttemptRead]
