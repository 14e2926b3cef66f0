from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Comment, Namespace, Repository, Star, Tag


def _tags_count() -> ScalarSelect[int]:
    return (
        select(func.count(Tag.id))
        .where(Tag.repository_id == Repository.id)
        .correlate(Repository)
        .scalar_subquery()
    )


async def count_visible(session: AsyncSession, visible: ColumnElement[bool]) -> int:
    statement = select(func.count(Repository.id)).join(Namespace).where(visible)
    return int(await session.scalar(statement) or 0)


REPOSITORY_SORT = {
    "id": Repository.id,
    "name": Repository.name,
    "created_at": Repository.created_at,
    "updated_at": Repository.updated_at,
}


async def page_visible(
    session: AsyncSession,
    visible: ColumnElement[bool],
    *,
    offset: int,
    limit: int | None,
    order: list[Any] | None = None,
) -> list[tuple[Repository, Namespace, int]]:
    ordering = order or [Repository.id]
    # The page's ids first: the tag counts (a correlated subquery) are then computed for the
    # rows returned, not for every row an OFFSET skips.
    page_ids = (
        select(Repository.id)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(visible)
        .order_by(*ordering)
        .offset(offset)
    )
    if limit is not None:
        page_ids = page_ids.limit(limit)
    statement = (
        select(Repository, Namespace, _tags_count().label("tags_count"))
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(Repository.id.in_(page_ids.scalar_subquery()))
        .order_by(*ordering)
    )
    return [(repo, ns, count) for repo, ns, count in (await session.execute(statement)).all()]


async def tags_of(session: AsyncSession, repository_id: int) -> Sequence[Tag]:
    statement = (
        select(Tag)
        .where(Tag.repository_id == repository_id)
        .order_by(Tag.updated_at.desc(), Tag.id)
    )
    return (await session.scalars(statement)).all()


async def tags_count(session: AsyncSession, repository_id: int) -> int:
    statement = select(func.count(Tag.id)).where(Tag.repository_id == repository_id)
    return int(await session.scalar(statement) or 0)


async def star_facts(
    session: AsyncSession, repository_id: int, user_id: int | None
) -> tuple[int, bool]:
    count = await session.scalar(
        select(func.count(Star.id)).where(Star.repository_id == repository_id)
    )
    mine = await session.scalar(
        select(Star.id).where(Star.repository_id == repository_id, Star.user_id == user_id)
    )
    return int(count or 0), mine is not None


async def starred_by(
    session: AsyncSession, user_id: int, visible: ColumnElement[bool]
) -> list[tuple[Repository, Namespace, int]]:
    statement = (
        select(Repository, Namespace, _tags_count().label("tags_count"))
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .join(Star, Star.repository_id == Repository.id)
        .where(Star.user_id == user_id, visible)
        .order_by(Star.id.desc())
    )
    return [(repo, ns, count) for repo, ns, count in (await session.execute(statement)).all()]


async def comments_of(session: AsyncSession, repository_id: int) -> Sequence[Comment]:
    statement = select(Comment).where(Comment.repository_id == repository_id).order_by(Comment.id)
    return (await session.scalars(statement)).all()


TAG_SORT = {
    "id": Tag.id,
    "name": Tag.name,
    "size": Tag.size,
    "created_at": Tag.created_at,
    "updated_at": Tag.updated_at,
}


async def page_tags(
    session: AsyncSession, *, offset: int, limit: int | None, order: list[Any] | None
) -> tuple[int, Sequence[Tag]]:
    total = await session.scalar(select(func.count(Tag.id)))
    statement = select(Tag).order_by(*(order or [Tag.updated_at.desc(), Tag.id.desc()]))
    statement = statement.offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return int(total or 0), (await session.scalars(statement)).all()
