"""Storing the registry's notifications: validated, filtered, deduplicated by event id."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import INTERNAL_USERNAME
from app.core import queue
from app.core.errors import BadRequest
from app.core.text import JsonRefused, load_json
from app.models import EventStatus, RegistryEvent
from app.registry.client import MANIFEST_TYPES

HANDLED_ACTIONS = ("push", "pull", "delete")


def parse_envelope(raw: bytes) -> list[dict[str, Any]]:
    """`{"events": [...]}`; anything else is a 400 naming the problem. Every string in it is
    storable text (the whole event is kept), nested no deeper than an event ever is."""
    try:
        body = load_json(raw)
    except JsonRefused as exc:
        raise BadRequest(f"the body is refused: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise BadRequest('the body must be an object with an "events" list')
    events: list[dict[str, Any]] = body["events"]
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise BadRequest(f"events[{index}] must be an object")
        if not isinstance(event.get("id"), str) or not event["id"]:
            raise BadRequest(f"events[{index}].id must be a non-empty string")
        if not isinstance(event.get("action"), str):
            raise BadRequest(f"events[{index}].action must be a string")
        if not isinstance(event.get("target"), dict):
            raise BadRequest(f"events[{index}].target must be an object")
    return events


def is_relevant(event: dict[str, Any]) -> bool:
    """Manifest pushes, real (GET) pulls by users, and deletes. Blob events, mounts, HEAD checks
    and the service's own reads are noise."""
    action = event["action"]
    target = event["target"]
    if action not in HANDLED_ACTIONS or not isinstance(target.get("repository"), str):
        return False
    if (event.get("actor") or {}).get("name") == INTERNAL_USERNAME:
        return False  # the service's own reads and deletes: it records its changes itself
    if action == "delete":
        return True
    if target.get("mediaType") not in MANIFEST_TYPES:
        return False
    if action == "pull":
        request = event.get("request") or {}
        return request.get("method") == "GET"
    return True


async def store(session: AsyncSession, events: list[dict[str, Any]]) -> int:
    """Insert the relevant events, ignoring ids already stored (the registry redelivers)."""
    rows = [
        {
            "event_id": event["id"][:255],
            "action": event["action"],
            "repository": event["target"]["repository"][:255],
            "status": EventStatus.fresh,
            "data": event,
            "attempts": 0,
        }
        for event in events
        if is_relevant(event)
    ]
    if not rows:
        return 0
    statement = queue.insert_ignore(session, RegistryEvent, conflict=["event_id"]).values(rows)
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)
