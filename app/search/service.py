"""Search across repositories, namespaces and teams the caller may see; explore for anonymous."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.authz.queries import readable_namespaces, visible_teams
from app.models import Namespace, Repository, Team, Visibility

LIMIT = 25


@dataclass(frozen=True)
class Hit:
    kind: str  # repository | namespace | team
    id: int
    name: str
    description: str | None
    rank: int


def normalize(query: str) -> str:
    """Portus drops what follows the first `:` (`alpine:3.19` searches `alpine`)."""
    return query.split(":", 1)[0].strip().lower()


def _escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(term: str) -> str:
    return f"%{_escape(term)}%"


def _rank(column: Any, term: str) -> ColumnElement[int]:
    """0 exact, 1 prefix, 2 anywhere: best first."""
    lowered = func.lower(column)
    return case(
        (lowered == term, literal(0)),
        (lowered.like(_escape(term) + "%", escape="\\"), literal(1)),
        else_=literal(2),
    )


def _full_name() -> ColumnElement[str]:
    return case((Namespace.global_, Repository.name), else_=Namespace.name + "/" + Repository.name)


def _contains(term: str, visible: ColumnElement[bool]) -> Select[int, str, str | None, int]:
    """Repositories whose name, or whose namespace's name, contains `term`, best first.
    Two index-served matches (pg_trgm on PostgreSQL) joined to the visible namespaces, rather
    than one OR across the join, which can only be answered by scanning every repository."""
    pattern = _like(term)
    by_name = select(Repository.id).where(func.lower(Repository.name).like(pattern, escape="\\"))
    by_namespace = (
        select(Repository.id)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(func.lower(Namespace.name).like(pattern, escape="\\"))
    )
    matches = [by_name, by_namespace]
    full_name = _full_name()
    rank = _rank(Repository.name, term)
    namespace_part, slash, repository_part = term.partition("/")
    if slash:
        # `alice/ap`: alice's repositories that start with `ap`, ranked on the full name.
        matches.append(
            select(Repository.id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .where(
                func.lower(Namespace.name) == namespace_part,
                func.lower(Repository.name).like(_escape(repository_part) + "%", escape="\\"),
            )
        )
        rank = _rank(full_name, term)
    return (
        select(Repository.id, full_name, Repository.description, rank)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(visible, Repository.id.in_(union(*matches)))
        .order_by(rank, full_name)
    )


def _name_key(dialect: str) -> ColumnElement[str]:
    """lower(name) in byte order: PostgreSQL's `ix_repositories_name_prefix` index expression
    (SQLite compares bytes anyway)."""
    lowered = func.lower(Repository.name)
    return lowered.collate("C") if dialect == "postgresql" else lowered


def _starting_with(
    term: str, visible: ColumnElement[bool], dialect: str, limit: int
) -> Select[int, str, str | None, int]:
    """Names equal to or starting with `term`, exact first, then by name: a range of the
    B-tree read in order and stopped at `limit`, however many names share the prefix."""
    key = _name_key(dialect)
    in_range = key >= term
    if term[-1] != chr(sys.maxunicode):  # the last code point has no successor: no upper bound
        in_range = and_(in_range, key < term[:-1] + chr(ord(term[-1]) + 1))
    return (
        select(Repository.id, _full_name(), Repository.description, _rank(Repository.name, term))
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(visible, in_range)
        .order_by(key != term, key, _full_name())
        .limit(limit)
    )


async def repository_hits(
    session: AsyncSession, term: str, visible: ColumnElement[bool]
) -> list[Hit]:
    """Exact and prefix matches first (cheap, in order); matches anywhere only to fill up.
    A short, common term ("app1" in a catalogue of "app<n>") then costs 25 rows, not 11,000."""
    if "/" in term:
        rows = (await session.execute(_contains(term, visible).limit(LIMIT))).all()
        return [Hit("repository", *row) for row in rows]
    dialect = session.get_bind().dialect.name
    rows = list((await session.execute(_starting_with(term, visible, dialect, LIMIT))).all())
    if len(rows) < LIMIT:
        seen = {row[0] for row in rows}
        anywhere = _contains(term, visible).where(_rank(Repository.name, term) == 2)
        more = (await session.execute(anywhere.limit(LIMIT))).all()
        rows += [row for row in more if row[0] not in seen][: LIMIT - len(rows)]
    return [Hit("repository", *row) for row in rows]


async def search(session: AsyncSession, principal: Principal, query: str) -> list[Hit]:
    term = normalize(query)
    if not term:
        return []
    pattern = _like(term)
    visible = readable_namespaces(principal)
    hits = await repository_hits(session, term, visible)
    namespaces = (
        await session.execute(
            select(Namespace.id, Namespace.name, Namespace.description, _rank(Namespace.name, term))
            .where(
                visible,
                Namespace.global_.is_(False),
                or_(
                    func.lower(Namespace.name).like(pattern, escape="\\"),
                    func.lower(Namespace.description).like(pattern, escape="\\"),
                ),
            )
            .order_by(_rank(Namespace.name, term), Namespace.name)
            .limit(LIMIT)
        )
    ).all()
    teams = (
        await session.execute(
            select(Team.id, Team.name, Team.description, _rank(Team.name, term))
            .where(
                visible_teams(principal),
                or_(
                    func.lower(Team.name).like(pattern, escape="\\"),
                    func.lower(Team.description).like(pattern, escape="\\"),
                ),
            )
            .order_by(_rank(Team.name, term), Team.name)
            .limit(LIMIT)
        )
    ).all()
    hits += [Hit("namespace", *row) for row in namespaces]
    hits += [Hit("team", *row) for row in teams]
    return sorted(hits, key=lambda hit: (hit.rank, hit.kind != "repository", hit.name))


async def explore(session: AsyncSession, query: str) -> list[Hit]:
    """Public repositories only, for anonymous visitors (`anonymous_browsing`)."""
    term = normalize(query)
    public = Namespace.visibility == Visibility.public
    if not term:  # browsing: every public repository, by name
        rows = (await session.execute(_contains(term, public).limit(LIMIT))).all()
        return [Hit("repository", *row) for row in rows]
    return await repository_hits(session, term, public)
