"""On PostgreSQL the repository search is answered from the pg_trgm indexes, not by a scan."""

from __future__ import annotations

import pytest
from sqlalchemy import text, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.search.service import _repository_hits


@pytest.mark.parametrize("term", ["app12", "team/app"])
async def test_repository_search_uses_the_trigram_indexes(session: AsyncSession, term: str) -> None:
    dialect = session.get_bind().dialect
    if dialect.name != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's; SQLite scans")
    statement = _repository_hits(term, true()).limit(25)
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    # Tables are tiny in a test: forbid the scan so that the plan shows what can serve the query.
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join((await session.scalars(text("EXPLAIN " + sql))).all())
    assert "ix_repositories_name_trgm" in plan
    # (namespaces are few: the planner may walk them by another index; repositories are many)
    assert "Seq Scan on repositories" not in plan
