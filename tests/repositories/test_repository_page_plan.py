"""On PostgreSQL a page of repositories deep in the list skips its rows in the covering index
(id) INCLUDE (namespace_id): an index-only scan that reads no table row once VACUUM has set the
visibility map, walking from the nearer end of the list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
from sqlalchemy import ColumnElement, Select, text, true
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.db import create_engine
from app.core.pagination import PageParams
from app.models import Namespace, Visibility
from app.repositories import repository
from tests.fixtures import factories
from tests.fixtures.database import backend, throwaway_database

REPOSITORIES = 30_000
VISIBLE = 20_000  # two namespaces out of three
PER_PAGE = 25


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated database with 30,000 repositories in three namespaces, vacuumed (as
    autovacuum leaves a table after a bulk load)."""
    if backend() != "postgresql":
        pytest.skip("the covering index and its plan are PostgreSQL's")
    async with throwaway_database(tmp_path_factory.mktemp("plan")) as url:
        engine = create_engine(url, pool_size=1)
        try:
            async with async_sessionmaker(engine)() as session:
                registry = await factories.create_registry(session)
                ids = [
                    (await factories.create_namespace(session, registry, visibility=v)).id
                    for v in (Visibility.public, Visibility.protected, Visibility.private)
                ]
                await session.execute(
                    text(
                        "INSERT INTO repositories"
                        " (name, namespace_id, marked, created_at, updated_at)"
                        " SELECT 'app' || g, (CAST(:ids AS bigint[]))[1 + g % 3], false,"
                        " now(), now() FROM generate_series(1, :n) AS g"
                    ),
                    {"ids": ids, "n": REPOSITORIES},
                )
                await session.commit()
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text("VACUUM ANALYZE"))
        finally:
            await engine.dispose()
        yield url


async def _plan(
    url: str,
    visible: ColumnElement[bool],
    page: int,
    order: Literal["asc", "desc"] = "asc",
    after: list[Any] | None = None,
) -> str:
    engine = create_engine(url, pool_size=1)
    try:
        async with async_sessionmaker(engine)() as session:
            scope, total = await repository.visible_scope(session, visible)
            params = PageParams(page=page, per_page=PER_PAGE, all=False, sort_order=order)
            statement = repository.page_query(
                scope,
                keys=params.sort_keys(repository.REPOSITORY_SORT),
                offset=params.offset,
                limit=params.limit,
                total=total,
                after=after,
            )
            assert isinstance(statement, Select)
            sql = str(
                statement.compile(
                    dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
                )
            )
            explained = await session.scalars(
                text("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
            )
            return "\n".join(explained.all())
    finally:
        await engine.dispose()


def _visible() -> ColumnElement[bool]:
    return Namespace.visibility.in_([Visibility.public, Visibility.protected])


async def test_a_deep_page_is_an_index_only_scan(seeded: str) -> None:
    plan = await _plan(seeded, _visible(), page=VISIBLE // PER_PAGE // 2 - 10)
    assert "Index Only Scan using ix_repositories_id_covering on repositories" in plan, plan
    assert "Heap Fetches: 0" in plan, plan


async def test_a_page_past_the_middle_is_read_from_the_end(seeded: str) -> None:
    plan = await _plan(seeded, _visible(), page=VISIBLE // PER_PAGE - 10)
    assert "Index Only Scan Backward using ix_repositories_id_covering" in plan, plan
    assert "Heap Fetches: 0" in plan, plan
    # 10 pages from the end: about 250 visible rows skipped, not 19,500.
    (walked,) = [line for line in plan.splitlines() if "Index Only Scan Backward" in line]
    assert int(walked.split("rows=")[-1].split()[0]) < 500, plan


async def test_descending_pages_read_the_same_index(seeded: str) -> None:
    plan = await _plan(seeded, _visible(), page=VISIBLE // PER_PAGE - 10, order="desc")
    assert "Index Only Scan using ix_repositories_id_covering" in plan, plan


async def test_an_administrators_page_has_no_filter(seeded: str) -> None:
    plan = await _plan(seeded, true(), page=REPOSITORIES // PER_PAGE // 2 - 10)
    assert "Index Only Scan" in plan, plan
    assert "Filter" not in plan.split("Index Only Scan")[1].split("->")[0], plan


async def test_a_cursor_page_starts_at_its_row(seeded: str) -> None:
    """Following `after` reads from the cursor's position in the index: about a page of rows
    however deep, where the same page by number skips thousands."""
    engine = create_engine(seeded, pool_size=1)
    try:
        async with async_sessionmaker(engine)() as session:
            middle = await session.scalar(
                text("SELECT id FROM repositories ORDER BY id OFFSET :n LIMIT 1"),
                {"n": REPOSITORIES // 2},
            )
    finally:
        await engine.dispose()
    plan = await _plan(seeded, _visible(), page=2, after=[middle])
    assert "Index Only Scan using ix_repositories_id_covering" in plan, plan
    assert "Index Cond: (id >" in plan, plan
    (walked,) = [line for line in plan.splitlines() if "Index Only Scan using" in line]
    assert int(walked.split("rows=")[-1].split()[0]) <= PER_PAGE, plan
