"""Every query of search: repositories, namespaces and teams whose names (or descriptions) match
a term, best first. Visibility comes in as a condition (`app.authz.queries`)."""

from __future__ import annotations

import sys
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Namespace, Repository, RepositoryCountChange, Star, Tag, Team, TeamUser

# id, name, description, rank (0 exact, 1 prefix, 2 anywhere)
Row = tuple[int, str, str | None, int]


def escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like(term: str) -> str:
    return f"%{escape(term)}%"


def rank(column: Any, term: str) -> ColumnElement[int]:
    """0 exact, 1 prefix, 2 anywhere: best first."""
    lowered = func.lower(column)
    return case(
        (lowered == term, literal(0)),
        (lowered.like(escape(term) + "%", escape="\\"), literal(1)),
        else_=literal(2),
    )


def full_name() -> ColumnElement[str]:
    return case((Namespace.global_, Repository.name), else_=Namespace.name + "/" + Repository.name)


def contains(term: str, visible: ColumnElement[bool]) -> Select[int, str, str | None, int]:
    """Repositories whose name, or whose namespace's name, contains `term`, best first.
    Two index-served matches (pg_trgm on PostgreSQL) joined to the visible namespaces, rather
    than one OR across the join, which can only be answered by scanning every repository."""
    pattern = like(term)
    by_name = select(Repository.id).where(func.lower(Repository.name).like(pattern, escape="\\"))
    by_namespace = (
        select(Repository.id)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(func.lower(Namespace.name).like(pattern, escape="\\"))
    )
    matches = [by_name, by_namespace]
    name = full_name()
    order = rank(Repository.name, term)
    namespace_part, slash, repository_part = term.partition("/")
    if slash:
        # `alice/ap`: alice's repositories that start with `ap`, ranked on the full name.
        matches.append(
            select(Repository.id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(
                func.lower(Namespace.name) == namespace_part,
                func.lower(Repository.name).like(escape(repository_part) + "%", escape="\\"),
            )
        )
        order = rank(name, term)
    return (
        select(Repository.id, name, Repository.description, order)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(visible, Repository.id.in_(union(*matches)))
        .order_by(order, name)
    )


def starting_with(
    term: str, visible: ColumnElement[bool], key: ColumnElement[str], limit: int
) -> Select[int, str, str | None, int]:
    """Names equal to or starting with `term`, exact first, then by name: a range of the
    B-tree read in order and stopped at `limit`, however many names share the prefix. `key`:
    lower(name) as the index orders it."""
    in_range = key >= term
    if term[-1] != chr(sys.maxunicode):  # the last code point has no successor: no upper bound
        in_range = and_(in_range, key < term[:-1] + chr(ord(term[-1]) + 1))
    return (
        select(Repository.id, full_name(), Repository.description, rank(Repository.name, term))
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(visible, in_range)
        .order_by(key != term, key, full_name())
        .limit(limit)
    )


async def fetch(session: AsyncSession, statement: Select[int, str, str | None, int]) -> list[Row]:
    """The rows of a statement built by `contains` or `starting_with`."""
    return [(row[0], row[1], row[2], row[3]) for row in (await session.execute(statement)).all()]


async def repositories_containing(
    session: AsyncSession,
    term: str,
    visible: ColumnElement[bool],
    *,
    limit: int,
    anywhere_only: bool = False,
) -> list[Row]:
    """`contains`; with `anywhere_only`, without the exact and prefix matches."""
    statement = contains(term, visible)
    if anywhere_only:
        statement = statement.where(rank(Repository.name, term) == 2)
    return await fetch(session, statement.limit(limit))


def _namespace_matches(term: str, visible: ColumnElement[bool]) -> ColumnElement[bool]:
    pattern = like(term)
    return and_(
        visible,
        Namespace.global_.is_(False),
        or_(
            func.lower(Namespace.name).like(pattern, escape="\\"),
            func.lower(Namespace.description).like(pattern, escape="\\"),
        ),
    )


def _team_matches(term: str, visible: ColumnElement[bool]) -> ColumnElement[bool]:
    pattern = like(term)
    return and_(
        visible,
        or_(
            func.lower(Team.name).like(pattern, escape="\\"),
            func.lower(Team.description).like(pattern, escape="\\"),
        ),
    )


async def namespaces_matching(
    session: AsyncSession, term: str, visible: ColumnElement[bool], *, limit: int
) -> list[Row]:
    """Visible namespaces (never the global one) whose name or description contains `term`."""
    statement = (
        select(Namespace.id, Namespace.name, Namespace.description, rank(Namespace.name, term))
        .where(_namespace_matches(term, visible))
        .order_by(rank(Namespace.name, term), Namespace.name)
        .limit(limit)
    )
    rows = (await session.execute(statement)).all()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


async def teams_matching(
    session: AsyncSession, term: str, visible: ColumnElement[bool], *, limit: int
) -> list[Row]:
    """Visible teams whose name or description contains `term`."""
    statement = (
        select(Team.id, Team.name, Team.description, rank(Team.name, term))
        .where(_team_matches(term, visible))
        .order_by(rank(Team.name, term), Team.name)
        .limit(limit)
    )
    rows = (await session.execute(statement)).all()
    return [(row[0], row[1], row[2], row[3]) for row in rows]


# --- totals and the hits' details ----------------------------------------------------------------
async def _count(session: AsyncSession, statement: Select[*tuple[Any, ...]]) -> int:
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)


async def repositories_total(session: AsyncSession, term: str, visible: ColumnElement[bool]) -> int:
    """How many repositories `contains` finds (every hit of `repository_hits` is one)."""
    return await _count(session, contains(term, visible))


async def namespaces_total(session: AsyncSession, term: str, visible: ColumnElement[bool]) -> int:
    return await _count(session, select(Namespace.id).where(_namespace_matches(term, visible)))


async def teams_total(session: AsyncSession, term: str, visible: ColumnElement[bool]) -> int:
    return await _count(session, select(Team.id).where(_team_matches(term, visible)))


@dataclass(frozen=True)
class Details:
    updated_at: datetime
    counts: dict[str, int]


def _count_of(column: Any, key: Any) -> Any:
    return select(func.count(column)).where(key).scalar_subquery()


async def repository_details(session: AsyncSession, ids: Collection[int]) -> dict[int, Details]:
    """Stars and tags of each repository, in one query."""
    if not ids:
        return {}
    statement = select(
        Repository.id,
        Repository.updated_at,
        _count_of(Star.id, Star.repository_id == Repository.id),
        _count_of(Tag.id, Tag.repository_id == Repository.id),
    ).where(Repository.id.in_(ids))
    return {
        row[0]: Details(row[1], {"stars": int(row[2]), "tags_count": int(row[3])})
        for row in (await session.execute(statement)).all()
    }


async def namespace_details(session: AsyncSession, ids: Collection[int]) -> dict[int, Details]:
    """Repositories of each namespace (its counter and pending changes), in one query."""
    if not ids:
        return {}
    pending = (
        select(func.coalesce(func.sum(RepositoryCountChange.delta), 0))
        .where(RepositoryCountChange.namespace_id == Namespace.id)
        .scalar_subquery()
    )
    statement = select(
        Namespace.id, Namespace.updated_at, Namespace.repositories_count + pending
    ).where(Namespace.id.in_(ids))
    return {
        row[0]: Details(row[1], {"repositories_count": int(row[2])})
        for row in (await session.execute(statement)).all()
    }


async def team_details(session: AsyncSession, ids: Collection[int]) -> dict[int, Details]:
    """Members and namespaces of each team, in one query."""
    if not ids:
        return {}
    statement = select(
        Team.id,
        Team.updated_at,
        _count_of(TeamUser.id, TeamUser.team_id == Team.id),
        _count_of(Namespace.id, Namespace.team_id == Team.id),
    ).where(Team.id.in_(ids))
    return {
        row[0]: Details(row[1], {"members_count": int(row[2]), "namespaces_count": int(row[3])})
        for row in (await session.execute(statement)).all()
    }
