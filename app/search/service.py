"""Search across repositories, namespaces and teams the caller may see; explore for anonymous."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    updated_at: datetime | None = None
    # repository: stars, tags_count; namespace: repositories_count; team: members_count,
    # namespaces_count
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    # How many of each kind match in all (the hits stop at LIMIT per kind).
    totals: dict[str, int]


KINDS = ("repository", "namespace", "team")
NO_RESULTS = Results([], dict.fromkeys(KINDS, 0))
_DETAILS: dict[str, Callable[[AsyncSession, Collection[int]], Awaitable[dict[int, Any]]]] = {
    "repository": repository.repository_details,
    "namespace": repository.namespace_details,
    "team": repository.team_details,
}


async def _detailed(session: AsyncSession, hits: list[Hit]) -> list[Hit]:
    """The hits with their last change and counts: one query per kind, whatever their number."""
    found: dict[str, dict[int, repository.Details]] = {}
    for kind, details in _DETAILS.items():
        ids = [hit.id for hit in hits if hit.kind == kind]
        found[kind] = await details(session, ids) if ids else {}
    return [
        dataclasses.replace(
            hit,
            updated_at=found[hit.kind][hit.id].updated_at,
            counts=found[hit.kind][hit.id].counts,
        )
        for hit in hits
    ]


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


async def search(session: AsyncSession, principal: Principal, query: str) -> Results:
    term = normalize(query)
    if not term:
        return NO_RESULTS
    visible = readable_namespaces(principal)
    teams_visible = visible_teams(principal)
    hits = await repository_hits(session, term, visible)
    namespaces = await repository.namespaces_matching(session, term, visible, limit=LIMIT)
    teams = await repository.teams_matching(session, term, teams_visible, limit=LIMIT)
    hits += [Hit("namespace", *row) for row in namespaces]
    hits += [Hit("team", *row) for row in teams]
    ranked = sorted(hits, key=lambda hit: (hit.rank, hit.kind != "repository", hit.name))
    counters = {
        "repository": (repository.repositories_total, visible),
        "namespace": (repository.namespaces_total, visible),
        "team": (repository.teams_total, teams_visible),
    }
    totals = {
        kind: await _total(session, hits, kind, count, term, scope)
        for kind, (count, scope) in counters.items()
    }
    return Results(await _detailed(session, ranked), totals)


Counter = Callable[[AsyncSession, str, ColumnElement[bool]], Awaitable[int]]


async def _total(
    session: AsyncSession,
    hits: list[Hit],
    kind: str,
    count: Counter,
    term: str,
    visible: ColumnElement[bool],
) -> int:
    """How many of `kind` match: the hits themselves when they stop short of LIMIT (they are
    then all of them), else counted."""
    found = sum(1 for hit in hits if hit.kind == kind)
    return found if found < LIMIT else await count(session, term, visible)


async def explore(session: AsyncSession, query: str) -> Results:
    """Public repositories only, for anonymous visitors (`anonymous_browsing`)."""
    term = normalize(query)
    public = readable_namespaces(ANONYMOUS)  # the public namespaces
    if not term:  # browsing: every public repository, by name
        rows = await repository.repositories_containing(session, term, public, limit=LIMIT)
        hits = [Hit("repository", *row) for row in rows]
    else:
        hits = await repository_hits(session, term, public)
    total = await _total(session, hits, "repository", repository.repositories_total, term, public)
    totals = dict.fromkeys(KINDS, 0) | {"repository": total}
    return Results(await _detailed(session, hits), totals)
