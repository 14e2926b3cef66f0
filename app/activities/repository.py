from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, func, insert, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Activity,
    Namespace,
    Registry,
    Repository,
    Tag,
    Team,
    TeamUser,
    User,
    Webhook,
)

_INSERT = insert(cast(Table, Activity.__table__))


async def insert_activity(session: AsyncSession, values: dict[str, Any]) -> None:
    """One activity, written now by one INSERT (no unit of work)."""
    await session.execute(_INSERT, values)


def feed_filter(
    user_id: int | None, admin: bool, readable: ColumnElement[bool]
) -> ColumnElement[bool]:
    """What a user's activity feed shows (Portus's rules): activities of namespaces and
    repositories they may pull from, of their teams, of their teams' namespaces' webhooks, and
    about themselves. Admins see all."""
    if admin:
        return true()
    readable_namespace_ids = select(Namespace.id).where(readable)
    # A per-row lookup of the activity's repository, not `trackable_id IN (readable repositories)`:
    # the feed walks the newest activities and stops at its depth, so probing a primary key for
    # each costs the same at any size, where hashing every readable repository grows with them.
    repository_namespace = (
        select(Repository.namespace_id)
        .where(Repository.id == Activity.trackable_id)
        .correlate(Activity)
        .scalar_subquery()
    )
    my_teams = select(TeamUser.team_id).where(TeamUser.user_id == user_id)
    return or_(
        and_(
            Activity.trackable_type == "Namespace",
            Activity.trackable_id.in_(readable_namespace_ids),
        ),
        and_(
            Activity.trackable_type == "Repository",
            repository_namespace.in_(readable_namespace_ids),
        ),
        and_(Activity.trackable_type == "Team", Activity.trackable_id.in_(my_teams)),
        and_(
            Activity.trackable_type == "Webhook",
            Activity.recipient_type == "Namespace",
            Activity.recipient_id.in_(select(Namespace.id).where(Namespace.team_id.in_(my_teams))),
        ),
        and_(Activity.trackable_type == "User", Activity.trackable_id == user_id),
    )


def _query(
    visible: ColumnElement[bool],
    *,
    key: str | None,
    owner: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Select[Activity, str]:
    statement: Select[Activity, str] = (
        select(Activity, User.username).outerjoin(User, User.id == Activity.owner_id).where(visible)
    )
    if key:
        statement = statement.where(Activity.key == key)
    if owner:
        statement = statement.where(User.username == owner)
    if since:
        statement = statement.where(Activity.created_at >= since)
    if until:
        statement = statement.where(Activity.created_at < until)
    return statement


async def page(
    session: AsyncSession,
    visible: ColumnElement[bool] | None = None,
    *,
    key: str | None = None,
    owner: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int | None = None,
    depth: int | None = None,
) -> tuple[int, Sequence[tuple[Activity, str | None]]]:
    """`depth`: only the newest `depth` activities count (and are paged through), so that the
    count of a feed costs the same with 200 or 200,000 activities. `visible` None: every
    activity."""
    where = true() if visible is None else visible
    statement = _query(where, key=key, owner=owner, since=since, until=until)
    counted = statement
    if depth is not None:
        counted = counted.order_by(Activity.created_at.desc()).limit(depth)
        room = max(0, depth - offset)
        limit = room if limit is None else min(limit, room)
    total = await session.scalar(select(func.count()).select_from(counted.subquery()))
    statement = statement.order_by(Activity.created_at.desc(), Activity.id.desc()).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    rows = (await session.execute(statement)).all()
    return int(total or 0), [(row[0], row[1]) for row in rows]


def _name_queries() -> dict[str, Any]:
    """For each kind of object an activity names, (id, name) rows: a repository by its full
    name, a tag as `namespace/repository:tag`, the others by their own name."""
    repository_name = Namespace.name + "/" + Repository.name
    return {
        "Namespace": select(Namespace.id, Namespace.name),
        "Repository": select(Repository.id, repository_name).join(
            Namespace, Namespace.id == Repository.namespace_id
        ),
        "Tag": select(Tag.id, repository_name + ":" + Tag.name)
        .join(Repository, Repository.id == Tag.repository_id)
        .join(Namespace, Namespace.id == Repository.namespace_id),
        "Team": select(Team.id, Team.name),
        "User": select(User.id, User.username),
        "Registry": select(Registry.id, Registry.name),
        "Webhook": select(Webhook.id, Webhook.name),
    }


_NAME_QUERIES = _name_queries()


async def names_of(
    session: AsyncSession, references: set[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """The current names of the objects activities refer to, one query per kind (not per
    activity); an object deleted since has none."""
    by_kind: dict[str, set[int]] = {}
    for kind, object_id in references:
        if kind in _NAME_QUERIES:
            by_kind.setdefault(kind, set()).add(object_id)
    names: dict[tuple[str, int], str] = {}
    for kind, ids in by_kind.items():
        statement = _NAME_QUERIES[kind]
        id_column = statement.selected_columns[0]
        for object_id, name in (await session.execute(statement.where(id_column.in_(ids)))).all():
            names[(kind, object_id)] = name
    return names
