"""Storing the registry's notifications: validated, filtered, deduplicated by event id."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.authz.principal import INTERNAL_USERNAME
from app.core.db import autocommit_scope
from app.core.errors import BadRequest
from app.core.text import JsonRefused, load_json
from app.models import EventStatus
from app.registry.client import MANIFEST_TYPES
from app.registry.events import repository
from app.registry.events.schemas import Envelope, Event, EventRefused

HANDLED_ACTIONS = ("push", "pull", "delete")


def parse_envelope(raw: bytes) -> list[Event]:
    """`{"events": [...]}` as typed events; anything else is a 400 naming the problem. Every
    string in it is storable text (the whole event is kept), nested no deeper than an event ever
    is."""
    try:
        body: Any = load_json(raw)
    except JsonRefused as exc:
        raise BadRequest(f"the body is refused: {exc}") from None
    try:
        return Envelope.events_of(body)
    except EventRefused as exc:
        raise BadRequest(str(exc)) from None


def is_relevant(event: Event) -> bool:
    """Manifest pushes, real (GET) pulls by users, and deletes. Blob events, mounts, HEAD checks
    and the service's own reads are noise."""
    action = event.action
    if action not in HANDLED_ACTIONS or event.target.repository is None:
        return False
    if event.actor_name == INTERNAL_USERNAME:
        return False  # the service's own reads and deletes: it records its changes itself
    if action == "delete":
        return True
    if event.target.media_type not in MANIFEST_TYPES:
        return False
    if action == "pull":
        return event.request_method == "GET"
    return True


async def store(bind: AsyncEngine | AsyncConnection, events: list[Event]) -> int:
    """Insert the relevant events, ignoring ids already stored (the registry redelivers). The
    row keeps the event's JSON as the registry sent it. One statement, atomic by itself: run
    outside a transaction (one round trip, not three)."""
    rows = [
        {
            "event_id": event.id[:255],
            "action": event.action,
            "repository": (event.target.repository or "")[:255],  # relevant: never None
            "status": EventStatus.fresh,
            "data": event.payload,
            "attempts": 0,
        }
        for event in events
        if is_relevant(event)
    ]
    if not rows:
        return 0
    async with autocommit_scope(bind) as conn:
        return await repository.store_events(conn, rows)
