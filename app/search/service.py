"""Search across repositories, namespaces and teams the caller may see; explore for anonymous."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import ANONYMOUS, Principal
from app.authz.queries import readable_namespaces, visible_teams
from app.core import queue
from app.models import Repository
from app.search import repository

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


def _name_key(dialect: str) -> ColumnElement[str]:
    """lower(name) in byte order: PostgreSQL's `ix_repositories_name_prefix` index expression
    (SQLite compares bytes anyway)."""
    return queue.byte_order(func.lower(Repository.name), dialect)


def _starting_with(
    term: str, visible: ColumnElement[bool], dialect: str, limit: int
) -> Select[int, str, str | None, int]:
    """`repository.starting_with`, on the name key of `dialect`."""
    return repository.starting_with(term, visible, _name_key(dialect), limit)


async def repository_hits(
    session: AsyncSession, term: str, visible: ColumnElement[bool]
) -> list[Hit]:
    """Exact and prefix matches first (cheap, in order); matches anywhere only to fill up.
    A short, common term ("app1" in a catalogue of "app<n>") then costs 25 rows, not 11,000."""
    if "/" in term:
        rows = await repository.repositories_containing(session, term, visible, limit=LIMIT)
        return [Hit("repository", *row) for row in rows]
    dialect = queue.dialect_of(session)
    rows = await repository.fetch(session, _starting_with(term, visible, dialect, LIMIT))
    if len(rows) < LIMIT:
        seen = {row[0] for row in rows}
        more = await repository.repositories_containing(
            session, term, visible, limit=LIMIT, anywhere_only=True
        )
        rows += [row for row in more if row[0] not in seen][: LIMIT - len(rows)]
    return [Hit("repository", *row) for row in rows]


async def search(session: AsyncSession, principal: Principal, query: str) -> list[Hit]:
    term = normalize(query)
    if not term:
        return []
    visible = readable_namespaces(principal)
    hits = await repository_hits(session, term, visible)
    namespaces = await repository.namespaces_matching(session, term, visible, limit=LIMIT)
    teams = await repository.teams_matching(session, term, visible_teams(principal), limit=LIMIT)
    hits += [Hit("namespace", *row) for row in namespaces]
    hits += [Hit("team", *row) for row in teams]
    return sorted(hits, key=lambda hit: (hit.rank, hit.kind != "repository", hit.name))


async def explore(session: AsyncSession, query: str) -> list[Hit]:
    """Public repositories only, for anonymous visitors (`anonymous_browsing`)."""
    term = normalize(query)
    public = readable_namespaces(ANONYMOUS)  # the public namespaces
    if not term:  # browsing: every public repository, by name
        rows = await repository.repositories_containing(session, term, public, limit=LIMIT)
        return [Hit("repository", *row) for row in rows]
    return await repository_hits(session, term, public)
