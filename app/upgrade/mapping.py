"""Portus rows → rows of our tables, one function per table.

Portus's ids are kept (the import goes into an empty database), so relations need no mapping:
a row whose parent was not imported is an orphan (Portus has few foreign keys) and is skipped
with its reason; a reference that may be empty (a tag's pusher, an activity's owner) is emptied
instead. Every function returns the row to insert, or raises `Skip`.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.core.crypto import SecretBox
from app.models import DeliveryStatus, Role, Visibility, WebhookContentType, WebhookMethod
from app.upgrade.ruby_yaml import UnreadableParameters, parse_parameters

Row = Mapping[str, Any]
PORTUS_SERVICE_USER = "portus"  # Portus's own identity towards the registry: not a person
EXAMPLES = 5  # skipped rows named per reason in the summary


class Skip(Exception):
    """This row is not imported: the message is the reason, counted in the summary."""


@dataclass
class Context:
    box: SecretBox
    new_webhook_secret: Callable[[], str]
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Ids imported so far, per Portus table.
    ids: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    # Unique keys taken so far, per table (Portus did not always enforce ours).
    taken: dict[str, set[Any]] = field(default_factory=lambda: defaultdict(set))
    skipped: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    examples: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    # Rows imported with a value changed, and why (counted like the skips).
    adjusted: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    webhook_methods: dict[int, str] = field(default_factory=dict)
    webhook_urls: dict[int, str] = field(default_factory=dict)

    def skip(self, table: str, row: Row, reason: str) -> None:
        self.skipped[table][reason] += 1
        shown = self.examples[(table, reason)]
        if len(shown) < EXAMPLES:
            shown.append(f"id {row.get('id')}")

    def require(self, table: str, column: str, value: Any) -> int:
        """`value` is the id of a row imported into `table`, else the row is an orphan."""
        if value is None or int(value) not in self.ids[table]:
            raise Skip(f"orphan: {column} {value} is no imported {table} row")
        return int(value)

    def optional(self, table: str, value: Any) -> int | None:
        return int(value) if value is not None and int(value) in self.ids[table] else None

    def unique(self, table: str, key: Any, what: str) -> None:
        if key in self.taken[table]:
            raise Skip(f"duplicate {what}")
        self.taken[table].add(key)


def _when(value: Any, ctx: Context) -> datetime:
    """Portus's datetimes are UTC without a zone."""
    if value is None:
        return ctx.now
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    raise Skip(f"not a datetime: {value!r}")


def _maybe_when(value: Any, ctx: Context) -> datetime | None:
    return None if value is None else _when(value, ctx)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _blank_none(value: Any) -> str | None:
    text = _text(value)
    return text if text else None


def _name(row: Row, column: str = "name", limit: int = 255) -> str:
    value = _text(row[column])
    if not value:
        raise Skip(f"empty {column}")
    if len(value) > limit:
        raise Skip(f"{column} longer than {limit} characters")
    return value


def _timestamps(row: Row, ctx: Context) -> dict[str, datetime]:
    created = _when(row["created_at"], ctx)
    return {"created_at": created, "updated_at": _when(row.get("updated_at") or created, ctx)}


def registry(row: Row, ctx: Context) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": _name(row),
        "hostname": _name(row, "hostname"),
        "external_hostname": _blank_none(row["external_hostname"]),
        "use_ssl": bool(row["use_ssl"]),
        "created_at": _when(row["created_at"], ctx),
    }


def team(row: Row, ctx: Context) -> dict[str, Any]:
    name = _name(row)
    ctx.unique("teams", name, "team name")
    return {
        "id": row["id"],
        "name": name,
        "description": _text(row["description"]),
        "hidden": bool(row["hidden"]),
        **_timestamps(row, ctx),
    }


def namespace(row: Row, ctx: Context) -> dict[str, Any]:
    registry_id = ctx.require("registries", "registry_id", row["registry_id"])
    team_id = ctx.require("teams", "team_id", row["team_id"])
    name = _name(row)
    ctx.unique("namespaces", (registry_id, name), "namespace name")
    try:
        visibility = Visibility(int(row["visibility"]))
    except (TypeError, ValueError) as exc:
        raise Skip(f"unknown visibility {row['visibility']!r}") from exc
    is_global = bool(row["global"])
    if is_global:
        ctx.unique("global namespaces", registry_id, "global namespace of a registry")
        if visibility is Visibility.private:
            # Ours cannot be private (anyone may pull what is pushed without a namespace).
            ctx.adjusted["namespaces"]["a private global namespace became protected"] += 1
            visibility = Visibility.protected
    return {
        "id": row["id"],
        "name": name,
        "registry_id": registry_id,
        "team_id": team_id,
        "global": is_global,
        "description": _text(row["description"]),
        "visibility": visibility,
        **_timestamps(row, ctx),
    }


def user(row: Row, ctx: Context) -> dict[str, Any]:
    username = _name(row, "username")
    if username == PORTUS_SERVICE_USER:
        raise Skip("Portus's own service user (not a person)")
    ctx.unique("users", username, "username")
    email = _blank_none(row["email"])
    if email is not None:
        ctx.unique("user emails", email.lower(), "email")
    display_name = _blank_none(row["display_name"])
    if display_name is not None and display_name in ctx.taken["user display names"]:
        ctx.adjusted["users"]["a duplicate display name was dropped"] += 1
        display_name = None
    if display_name is not None:
        ctx.taken["user display names"].add(display_name)
    password = _blank_none(row["encrypted_password"])
    if password is not None and not password.startswith(("$2a$", "$2b$", "$2y$")):
        ctx.adjusted["users"]["a password hash that is not bcrypt was dropped"] += 1
        password = None
    namespace_id = row["namespace_id"]
    personal = ctx.optional("namespaces", namespace_id)
    if namespace_id is not None and personal is None:
        ctx.adjusted["users"]["a personal namespace that was not imported was unset"] += 1
    provider, uid = _blank_none(row["provider"]), _blank_none(row["uid"])
    if provider is not None and uid is not None:
        ctx.unique("user identities", (provider, uid), "provider identity")
    return {
        "id": row["id"],
        "username": username,
        "email": email,
        "encrypted_password": password,
        "admin": bool(row["admin"]),
        "enabled": bool(row["enabled"]),
        "bot": bool(row["bot"]),
        "display_name": display_name,
        "namespace_id": personal,
        "ldap_name": _blank_none(row["ldap_name"]),
        "provider": provider if uid is not None else None,
        "uid": uid if provider is not None else None,
        "failed_attempts": int(row["failed_attempts"] or 0),
        "locked_at": _maybe_when(row["locked_at"], ctx),
        "password_changed_at": ctx.now,
        **_timestamps(row, ctx),
    }


def team_user(row: Row, ctx: Context) -> dict[str, Any]:
    team_id = ctx.require("teams", "team_id", row["team_id"])
    user_id = ctx.require("users", "user_id", row["user_id"])
    ctx.unique("team_users", (team_id, user_id), "membership")
    try:
        role = Role(int(row["role"]))
    except (TypeError, ValueError) as exc:
        raise Skip(f"unknown role {row['role']!r}") from exc
    return {
        "id": row["id"],
        "team_id": team_id,
        "user_id": user_id,
        "role": role,
        **_timestamps(row, ctx),
    }


def repository(row: Row, ctx: Context) -> dict[str, Any]:
    namespace_id = ctx.require("namespaces", "namespace_id", row["namespace_id"])
    name = _name(row)
    ctx.unique("repositories", (namespace_id, name), "repository name")
    return {
        "id": row["id"],
        "name": name,
        "namespace_id": namespace_id,
        "marked": bool(row["marked"]),
        **_timestamps(row, ctx),
    }


def tag(row: Row, ctx: Context) -> dict[str, Any]:
    repository_id = ctx.require("repositories", "repository_id", row["repository_id"])
    name = _name(row, limit=128)
    ctx.unique("tags", (repository_id, name), "tag name")
    times = _timestamps(row, ctx)
    digest = _blank_none(row["digest"])
    if digest is None:
        ctx.adjusted["tags"]["no digest (`portus sync --strategy update` reads it)"] += 1
    return {
        "id": row["id"],
        "name": name,
        "repository_id": repository_id,
        "user_id": ctx.optional("users", row["user_id"]),
        "username": _blank_none(row["username"]),
        "digest": digest or "",
        "image_id": _blank_none(row["image_id"]),
        "marked": bool(row["marked"]),
        "scanned": int(row["scanned"] or 0),
        "pushed_at": times["updated_at"],
        **times,
    }


def star(row: Row, ctx: Context) -> dict[str, Any]:
    user_id = ctx.require("users", "user_id", row["user_id"])
    repository_id = ctx.require("repositories", "repository_id", row["repository_id"])
    ctx.unique("stars", (user_id, repository_id), "star")
    return {
        "id": row["id"],
        "user_id": user_id,
        "repository_id": repository_id,
        "created_at": _when(row["created_at"], ctx),
    }


def comment(row: Row, ctx: Context) -> dict[str, Any]:
    return {
        "id": row["id"],
        "body": _text(row["body"]) or "",
        "repository_id": ctx.require("repositories", "repository_id", row["repository_id"]),
        "user_id": ctx.optional("users", row["user_id"]),
        **_timestamps(row, ctx),
    }


def webhook(row: Row, ctx: Context) -> dict[str, Any]:
    namespace_id = ctx.require("namespaces", "namespace_id", row["namespace_id"])
    url = _name(row, "url", limit=2048)
    try:
        method = WebhookMethod(int(row["request_method"]))
        content_type = WebhookContentType(int(row["content_type"]))
    except (TypeError, ValueError) as exc:
        kinds = f"{row['request_method']!r}/{row['content_type']!r}"
        raise Skip(f"unknown request method or content type {kinds}") from exc
    password = _blank_none(row["password"])
    ctx.webhook_methods[int(row["id"])] = method.name
    ctx.webhook_urls[int(row["id"])] = url
    return {
        "id": row["id"],
        "namespace_id": namespace_id,
        "name": _blank_none(row["name"]) or url[:255],
        "url": url,
        "request_method": method,
        "content_type": content_type,
        "username": _blank_none(row["username"]),
        # Portus kept it in plain text; ours are encrypted at rest.
        "password_encrypted": ctx.box.encrypt(password) if password else None,
        # Portus signed nothing: each webhook gets a signing secret (shown on its page).
        "secret_encrypted": ctx.box.encrypt(ctx.new_webhook_secret()),
        "enabled": bool(row["enabled"]),
        **_timestamps(row, ctx),
    }


def webhook_header(row: Row, ctx: Context) -> dict[str, Any]:
    webhook_id = ctx.require("webhooks", "webhook_id", row["webhook_id"])
    name = _name(row)
    ctx.unique("webhook_headers", (webhook_id, name), "header name")
    return {
        "id": row["id"],
        "webhook_id": webhook_id,
        "name": name,
        "value": _text(row["value"]) or "",
        "created_at": _when(row["created_at"], ctx),
    }


def _headers(value: Any) -> dict[str, str]:
    """Portus stored headers as JSON text; anything else is kept whole under one name."""
    text = _text(value)
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        return {"portus-request-header": text[:4096]}
    if isinstance(parsed, dict):
        return {str(k): str(v) for k, v in parsed.items()}
    return {"portus-request-header": text[:4096]}


def webhook_delivery(row: Row, ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Portus delivery was one request and its answer: a delivery with one attempt."""
    webhook_id = ctx.require("webhooks", "webhook_id", row["webhook_id"])
    uuid = _name(row, "uuid", limit=36)
    ctx.unique("webhook_deliveries", uuid, "delivery uuid")
    body = _text(row["request_body"]) or ""
    try:
        payload = json.loads(body) if body else {}
    except ValueError:
        payload = {"body": body}
    if not isinstance(payload, dict):
        payload = {"events": payload}
    event = "delete" if '"action":"delete"' in body.replace(" ", "") else "push"
    status = int(row["status"]) if row["status"] is not None else None
    delivered = status is not None and 200 <= status < 300
    times = _timestamps(row, ctx)
    delivery = {
        "id": row["id"],
        "webhook_id": webhook_id,
        "uuid": uuid,
        "event": event,
        "payload": payload,
        "status": DeliveryStatus.delivered if delivered else DeliveryStatus.failed,
        "attempts": 1,
        "cycle_attempts": 1,
        "last_status_code": status,
        "delivered_at": times["updated_at"] if delivered else None,
        "created_at": times["created_at"],
    }
    attempt = {
        "delivery_id": row["id"],
        "number": 1,
        "request_method": ctx.webhook_methods.get(webhook_id, "POST"),
        "request_url": ctx.webhook_urls.get(webhook_id, ""),
        "request_headers": _headers(row["request_header"]),
        "request_body": body,
        "response_status": status,
        "response_headers": _headers(row["response_header"]),
        "response_body": _text(row["response_body"]),
        "duration_ms": 0,
        "created_at": times["updated_at"],
    }
    return delivery, attempt


def activity(row: Row, ctx: Context) -> dict[str, Any]:
    key = _name(row, "key", limit=64)
    trackable_type = _name(row, "trackable_type", limit=32)
    owner = ctx.optional("users", row["owner_id"]) if row["owner_type"] == "User" else None
    try:
        parameters = parse_parameters(row["parameters"])
    except UnreadableParameters as exc:
        ctx.adjusted["activities"][f"parameters dropped: {exc}"] += 1
        parameters = {}
    recipient_type = _blank_none(row["recipient_type"])
    return {
        "id": row["id"],
        "key": key,
        "trackable_type": trackable_type,
        "trackable_id": row["trackable_id"],
        "owner_id": owner,
        "recipient_type": recipient_type[:32] if recipient_type else None,
        "recipient_id": row["recipient_id"],
        "parameters": parameters,
        "created_at": _when(row["created_at"], ctx),
    }


def application_token(row: Row, ctx: Context) -> dict[str, Any]:
    user_id = ctx.require("users", "user_id", row["user_id"])
    application = _name(row, "application")
    ctx.unique("application_tokens", (user_id, application), "application name of a user")
    token_hash = _text(row["token_hash"]) or ""
    if not token_hash.startswith(("$2a$", "$2b$", "$2y$")) or len(token_hash) != 60:
        raise Skip("token_hash is no bcrypt hash")
    return {
        "id": row["id"],
        "user_id": user_id,
        "application": application,
        # Never matched by a presented token (see ApplicationToken.legacy_hash).
        "lookup": secrets.token_hex(8),
        "token_digest": "",
        "legacy_hash": token_hash,
        "created_at": ctx.now,
    }
