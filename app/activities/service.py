"""Recording the audit trail (Portus activity keys: `repository.push`, `namespace.create`, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import repository
from app.authz.principal import Principal
from app.authz.queries import readable_namespaces
from app.models import Activity

# A feed shows what happened lately; the full trail is the admin list.
FEED_DEPTH = 1000


def record(
    session: AsyncSession,
    key: str,
    *,
    trackable_type: str,
    trackable_id: int | None,
    owner_id: int | None,
    recipient_type: str | None = None,
    recipient_id: int | None = None,
    parameters: dict[str, Any] | None = None,
) -> None:
    session.add(
        Activity(
            key=key,
            trackable_type=trackable_type,
            trackable_id=trackable_id,
            owner_id=owner_id,
            recipient_type=recipient_type,
            recipient_id=recipient_id,
            parameters=parameters or {},
        )
    )


async def record_now(
    session: AsyncSession,
    key: str,
    *,
    trackable_type: str,
    trackable_id: int | None,
    owner_id: int | None,
    recipient_type: str | None = None,
    recipient_id: int | None = None,
    parameters: dict[str, Any] | None = None,
) -> None:
    """`record`, written at once by one INSERT rather than at the next flush (hot paths: the
    unit of work costs more CPU than the statement)."""
    await repository.insert_activity(
        session,
        {
            "key": key,
            "trackable_type": trackable_type,
            "trackable_id": trackable_id,
            "owner_id": owner_id,
            "recipient_type": recipient_type,
            "recipient_id": recipient_id,
            "parameters": parameters or {},
        },
    )


# --- reading -----------------------------------------------------------------------------------
async def feed(
    session: AsyncSession, principal: Principal, *, offset: int, limit: int | None
) -> tuple[int, Sequence[tuple[Activity, str | None]]]:
    """What the caller may see (`repository.feed_filter`), newest first, within the newest
    `FEED_DEPTH`; each with its actor's name."""
    visible = repository.feed_filter(
        principal.user_id, principal.admin, readable_namespaces(principal)
    )
    return await repository.page(session, visible, offset=offset, limit=limit, depth=FEED_DEPTH)


@dataclass(frozen=True)
class ActivityView:
    activity: Activity
    owner_name: str | None
    trackable_name: str | None  # the current name of what it is about (None once deleted)
    recipient_name: str | None


async def views(
    session: AsyncSession, rows: Sequence[tuple[Activity, str | None]]
) -> list[ActivityView]:
    """The activities with the names of what they refer to, for a page at a time."""
    references = {
        (kind, object_id)
        for activity, _ in rows
        for kind, object_id in (
            (activity.trackable_type, activity.trackable_id),
            (activity.recipient_type, activity.recipient_id),
        )
        if kind is not None and object_id is not None
    }
    names = await repository.names_of(session, references)

    def name(kind: str | None, object_id: int | None) -> str | None:
        return None if kind is None or object_id is None else names.get((kind, object_id))

    return [
        ActivityView(
            activity,
            owner_name,
            name(activity.trackable_type, activity.trackable_id),
            name(activity.recipient_type, activity.recipient_id),
        )
        for activity, owner_name in rows
    ]


async def list_activities(
    session: AsyncSession,
    *,
    key: str | None = None,
    owner: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, Sequence[tuple[Activity, str | None]]]:
    """Every activity (the administrators' list), newest first, filtered."""
    return await repository.page(
        session,
        key=key,
        owner=owner,
        since=since,
        until=until,
        offset=offset,
        limit=limit,
    )
