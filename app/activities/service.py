"""Recording the audit trail (Portus activity keys: `repository.push`, `namespace.create`, ...)."""

from __future__ import annotations

from collections.abc import Sequence
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
