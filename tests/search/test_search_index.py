"""On PostgreSQL repository search is answered from indexes, not by a scan: exact and prefix
matches from a byte-ordered B-tree read in order (stopping at the page), matches anywhere from
the pg_trgm indexes."""

from __future__ import annotations

import pytest
from sqlalchemy import Select, text, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.search.repository import contains as _contains
from app.search.service import LIMIT, _starting_with


async def _plan(session: AsyncSession, statement: Select[int, str, str | None, int]) -> str:
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        pytest.skip("these indexes are PostgreSQL's; SQLite scans")
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    # Tables are tiny in a test: forbid the scan so that the plan shows what can serve the query.
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    return "\n".join((await session.scalars(text("EXPLAIN " + sql))).all())


@pytest.mark.parametrize("term", ["app12", "team/app"])
async def test_matches_anywhere_use_the_trigram_indexes(session: AsyncSession, term: str) -> None:
    plan = await _plan(session, _contains(term, true()).limit(LIMIT))
    assert "ix_repositories_name_trgm" in plan
    assert "Seq Scan on repositories" not in plan


async def test_prefix_matches_read_the_name_index_in_order(session: AsyncSession) -> None:
    plan = await _plan(session, _starting_with("app1", true(), "postgresql", LIMIT))
    assert "ix_repositories_name_prefix" in plan
    assert "Seq Scan on repositories" not in plan
