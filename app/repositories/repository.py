from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Namespace, Repository, Tag


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


async def page_visible(
    session: AsyncSession, visible: ColumnElement[bool], *, offset: int, limit: int | None
) -> list[tuple[Repository, Namespace, int]]:
    statement = (
        select(Repository, Namespace, _tags_count().label("tags_count"))
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(visible)
        .order_by(Repository.id)
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [(repo, ns, count) for repo, ns, count in (await session.execute(statement)).all()]


async def get_visible(
    session: AsyncSession, repository_id: int, visible: ColumnElement[bool]
) -> Repository | None:
    return await session.scalar(
        select(Repository)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(Repository.id == repository_id, visible)
    )


async def tags_of(session: AsyncSession, repository_id: int) -> Sequence[Tag]:
    statement = (
        select(Tag)
        .where(Tag.repository_id == repository_id)
        .order_by(Tag.updated_at.desc(), Tag.id)
    )
    return (await session.scalars(statement)).all()
