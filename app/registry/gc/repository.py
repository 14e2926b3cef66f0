"""The queries of the garbage collector."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Namespace, Repository, Tag


@dataclass(frozen=True)
class TagFacts:
    id: int
    repository_id: int
    repository: str  # full name
    name: str
    digest: str
    pushed_at: datetime
    pulled_at: datetime | None


def facts_of(tag: Tag, repository: str) -> TagFacts:
    return TagFacts(
        id=tag.id,
        repository_id=tag.repository_id,
        repository=repository,
        name=tag.name,
        digest=tag.digest,
        pushed_at=tag.pushed_at or tag.created_at,
        pulled_at=tag.pulled_at,
    )


async def tags_of_repositories_with_old_tags(
    session: AsyncSession, cutoff: datetime
) -> list[TagFacts]:
    """Every tag of each repository that has at least one tag pushed and pulled before `cutoff`
    (keep_latest and the name pattern are applied on the whole repository)."""
    pushed = func.coalesce(Tag.pushed_at, Tag.created_at)
    with_old_tags = (
        select(Tag.repository_id)
        .where(pushed < cutoff, or_(Tag.pulled_at.is_(None), Tag.pulled_at < cutoff))
        .distinct()
    )
    rows = await session.execute(
        select(Tag, Namespace.name, Namespace.global_, Repository.name)
        .join(Repository, Repository.id == Tag.repository_id)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(Tag.repository_id.in_(with_old_tags))
        .order_by(Tag.repository_id, Tag.id)
    )
    return [
        facts_of(tag, name if global_ else f"{namespace}/{name}")
        for tag, namespace, global_, name in rows.all()
    ]
