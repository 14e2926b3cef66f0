"""The queries of event processing. The per-event statements are built once (building a
statement costs more CPU than running it): Core statements on the tables, their values bound at
execution."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Executable, Row, Table, bindparam, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core import queue
from app.models import (
    Activity,
    EventStatus,
    Registry,
    RegistryEvent,
    Repository,
    Role,
    Tag,
    TeamUser,
    User,
)

_EVENTS = cast(Table, RegistryEvent.__table__)
# New events, ignoring ids stored already (the registry redelivers): the ids of the rows inserted
# come back, a conflict returns nothing. Several events are one multi-row INSERT (SQLAlchemy's
# insertmanyvalues); the statement is compiled once per dialect, not per request as the ORM's
# bulk insert with `.values(rows)` was (a third of the intake's CPU).
_STORE_EVENTS: dict[str, Executable] = {
    name: queue.insert_ignore(name, _EVENTS, conflict=["event_id"]).returning(_EVENTS.c.id)
    for name in ("postgresql", "sqlite")
}
_TAGS = cast(Table, Tag.__table__)
_TAG_BY_NAME = select(Tag).where(
    Tag.repository_id == bindparam("repository_id"), Tag.name == bindparam("name")
)
_INSERT_TAG = insert(_TAGS).returning(_TAGS.c.id)
# A new tag, or nothing if the repository has one of that name (a conflict inserts nothing).
_INSERT_NEW_TAG: dict[str, Executable] = {
    name: queue.insert_ignore(name, _TAGS, conflict=["repository_id", "name"]).returning(_TAGS.c.id)
    for name in ("postgresql", "sqlite")
}


async def store_events(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
    """Inserts the events' rows but those whose `event_id` is stored already; how many were."""
    result = await conn.execute(_STORE_EVENTS[queue.dialect_of(conn)], list(rows))
    return len(result.all())


async def registries(session: AsyncSession) -> list[Registry]:
    return list((await session.scalars(select(Registry).order_by(Registry.id))).all())


async def repository_by_name(
    session: AsyncSession, namespace_id: int, name: str
) -> Repository | None:
    return await session.scalar(
        select(Repository).where(Repository.namespace_id == namespace_id, Repository.name == name)
    )


async def actor_columns(
    session: AsyncSession, username: str
) -> Row[int, str, bool, bool, int | None] | None:
    """The user's id, username, admin and bot flags and personal namespace id."""
    statement = select(User.id, User.username, User.admin, User.bot, User.namespace_id)
    return (await session.execute(statement.where(User.username == username))).first()


async def team_role(session: AsyncSession, team_id: int, user_id: int) -> Role | None:
    return await session.scalar(
        select(TeamUser.role).where(TeamUser.team_id == team_id, TeamUser.user_id == user_id)
    )


async def tag_by_name(session: AsyncSession, repository_id: int, name: str) -> Tag | None:
    return await session.scalar(_TAG_BY_NAME, {"repository_id": repository_id, "name": name})


async def insert_tag(
    session: AsyncSession, repository_id: int, name: str, values: dict[str, Any]
) -> int:
    """A new tag with these columns; its id."""
    params = {"name": name, "repository_id": repository_id, **values}
    tag_id: int = await session.scalar(_INSERT_TAG, params)
    return tag_id


async def insert_new_tag(
    session: AsyncSession, repository_id: int, name: str, values: dict[str, Any]
) -> int | None:
    """The new tag's id; None if the repository has a tag of that name already."""
    statement = _INSERT_NEW_TAG.get(queue.dialect_of(session))
    if statement is None:
        return None
    params = {"name": name, "repository_id": repository_id, **values}
    tag_id: int | None = await session.scalar(statement, params)
    return tag_id


async def credit_push_activity(
    session: AsyncSession, repository_id: int, tag_id: int, owner_id: int
) -> None:
    """The catalog sync's `repository.push` activity of the tag (it has no owner) gets one
    (found through the indexed trackable)."""
    await session.execute(
        update(Activity)
        .where(
            Activity.trackable_type == "Repository",
            Activity.trackable_id == repository_id,
            Activity.key == "repository.push",
            Activity.recipient_type == "Tag",
            Activity.recipient_id == tag_id,
            Activity.owner_id.is_(None),
        )
        .values(owner_id=owner_id)
    )


async def record_pull(
    session: AsyncSession,
    repository_id: int,
    pulled_at: datetime,
    *,
    tag: str | None,
    digest: str | None,
) -> None:
    """The tag named `tag`, else the tags of `digest`, were pulled at `pulled_at`. One
    statement (pulls are the most frequent events); an older pull never moves it back."""
    matches = Tag.name == tag if tag is not None else Tag.digest == digest
    await session.execute(
        update(Tag)
        .where(
            Tag.repository_id == repository_id,
            matches,
            or_(Tag.pulled_at.is_(None), Tag.pulled_at < pulled_at),
        )
        .values(pulled_at=pulled_at)
    )


async def tags_deleted_by(
    session: AsyncSession,
    repository_id: int,
    deleted_at: datetime,
    *,
    digest: str | None,
    tag: str | None,
) -> Sequence[Tag]:
    """The tags of `digest`, else the tag named `tag`, unless pushed after `deleted_at`."""
    matches = Tag.digest == digest if digest is not None else Tag.name == tag
    return (
        await session.scalars(
            select(Tag).where(
                Tag.repository_id == repository_id,
                matches,
                or_(Tag.pushed_at.is_(None), Tag.pushed_at <= deleted_at),
            )
        )
    ).all()


# --- the worker's queue ------------------------------------------------------------------------
async def fresh_event_data(session: AsyncSession, limit: int) -> list[Any]:
    """The stored JSON of the next fresh events, oldest first (read, not claimed)."""
    statement = (
        select(RegistryEvent.data)
        .where(RegistryEvent.status == EventStatus.fresh)
        .order_by(RegistryEvent.id)
        .limit(limit)
    )
    return list((await session.scalars(statement)).all())


async def claim_fresh_events(
    session: AsyncSession, limit: int
) -> Sequence[Row[int, str, Any, int]]:
    """The next fresh events (id, event_id, data, attempts), claimed for this transaction."""
    statement = (
        select(RegistryEvent.id, RegistryEvent.event_id, RegistryEvent.data, RegistryEvent.attempts)
        .where(RegistryEvent.status == EventStatus.fresh)
        .order_by(RegistryEvent.id)
        .limit(limit)
    )
    return (await session.execute(queue.for_claim(statement, session))).all()


async def record_outcomes(session: AsyncSession, outcomes: list[dict[str, Any]]) -> None:
    """Every event's new columns (each dict holds its `id`), in one statement."""
    await session.execute(update(RegistryEvent), outcomes)
