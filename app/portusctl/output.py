"""What portusctl prints: Portus's tables (its headers, tab-aligned with four spaces of
padding), JSON as the API sent it, and one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TextIO, TypeVar

from app.portusctl.models import (
    ActivityRead,
    ApplicationTokenCreated,
    ApplicationTokenRead,
    CommentRead,
    DeliveryRead,
    MemberRead,
    NamespaceRead,
    RefreshTokenRead,
    RegistryRead,
    RepositoryRead,
    SearchHit,
    TagRead,
    TeamRead,
    UserRead,
    WebhookHeaderRead,
    WebhookRead,
)

T = TypeVar("T")
PADDING = 4


def cell(value: Any) -> str:
    """Go's `%v` for the values a table shows: true/false, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return " ".join(str(value).split())  # one line per row, whatever a description holds


def render(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Like Go's tabwriter (padding 4): every column but the last padded to its widest cell."""
    table = [list(headers), *([cell(value) for value in row] for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for row in table:
        parts = [text.ljust(widths[i] + PADDING) for i, text in enumerate(row[:-1])]
        lines.append(("".join(parts) + row[-1]).rstrip())
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Columns(Generic[T]):
    headers: tuple[str, ...]
    row: Callable[[T], Sequence[Any]]

    def render(self, items: Sequence[T]) -> str:
        return render(self.headers, [self.row(item) for item in items])


USERS: Columns[UserRead] = Columns(
    ("ID", "Username", "Email", "Admin", "NamespaceID", "DisplayName"),
    lambda u: (u.id, u.username, u.email, u.admin, u.namespace_id, u.display_name),
)
APPLICATION_TOKENS: Columns[ApplicationTokenRead] = Columns(
    ("ID", "Application"), lambda t: (t.id, t.application)
)
PLAIN_TOKENS: Columns[ApplicationTokenCreated] = Columns(
    ("PlainToken",), lambda t: (t.plain_token,)
)
TEAMS: Columns[TeamRead] = Columns(("ID", "Name", "Hidden"), lambda t: (t.id, t.name, t.hidden))
NAMESPACES: Columns[NamespaceRead] = Columns(
    ("ID", "Name", "Description", "TeamID", "Visibility", "Global"),
    lambda n: (n.id, n.name, n.description, n.team.id, n.visibility, n.global_),
)
REPOSITORIES: Columns[RepositoryRead] = Columns(
    ("ID", "Name", "FullName", "Namespace", "Stars", "TagsCount"),
    lambda r: (
        r.id,
        r.name,
        r.full_name,
        r.namespace.id,
        r.stars,
        r.tags_count,
    ),
)
TAGS: Columns[TagRead] = Columns(
    ("ID", "Name", "Author", "Digest", "ImageID"),
    lambda t: (t.id, t.name, t.author.name, t.digest, t.image_id),
)
REGISTRIES: Columns[RegistryRead] = Columns(
    ("ID", "Name", "Hostname", "ExternalHostname", "Secure"),
    lambda r: (r.id, r.name, r.hostname, r.external_hostname, r.use_ssl),
)
MEMBERS: Columns[MemberRead] = Columns(
    ("ID", "UserID", "Username", "Role"), lambda m: (m.id, m.user_id, m.username, m.role)
)
WEBHOOKS: Columns[WebhookRead] = Columns(
    ("ID", "NamespaceID", "Name", "URL", "Method", "ContentType", "Enabled"),
    lambda w: (
        w.id,
        w.namespace_id,
        w.name,
        w.url,
        w.request_method,
        w.content_type,
        w.enabled,
    ),
)
WEBHOOK_HEADERS: Columns[WebhookHeaderRead] = Columns(
    ("ID", "Name", "Value"), lambda h: (h.id, h.name, h.value)
)
DELIVERIES: Columns[DeliveryRead] = Columns(
    ("ID", "UUID", "Event", "Status", "Attempts", "LastStatusCode", "DeliveredAt"),
    lambda d: (d.id, d.uuid, d.event, d.status, d.attempts, d.last_status_code, d.delivered_at),
)
ACTIVITIES: Columns[ActivityRead] = Columns(
    ("ID", "Key", "Owner", "Trackable", "Recipient", "CreatedAt"),
    lambda a: (
        a.id,
        a.key,
        a.owner_name,
        a.trackable_name,
        a.recipient_name,
        a.created_at.isoformat(timespec="seconds"),
    ),
)
REFRESH_TOKENS: Columns[RefreshTokenRead] = Columns(
    ("ID", "Service", "ClientID", "ApplicationTokenID", "CreatedAt"),
    lambda t: (
        t.id,
        t.service,
        t.client_id,
        t.application_token_id,
        t.created_at.isoformat(timespec="seconds"),
    ),
)
COMMENTS: Columns[CommentRead] = Columns(
    ("ID", "Author", "CreatedAt", "Body"),
    lambda c: (
        c.id,
        c.author.name if c.author else None,
        c.created_at.isoformat(timespec="seconds"),
        c.body,
    ),
)
SEARCH: Columns[SearchHit] = Columns(
    ("Kind", "ID", "Name", "Description"), lambda h: (h.kind, h.id, h.name, h.description)
)


def print_json(data: Any, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(json.dumps(data, separators=(",", ":")) + "\n")


def field_lines(problems: dict[str, list[str]]) -> list[str]:
    """Portus's `- Field: message. message` lines, one per field."""
    return [
        f"- {field[:1].upper() + field[1:]}: {'. '.join(str(p) for p in messages)}"
        for field, messages in problems.items()
    ]
