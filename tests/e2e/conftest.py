from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fixtures.database import throwaway_database


@pytest.fixture(scope="module")
async def stack_db(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """An empty database per e2e module; `start_stack` migrates it with `portus migrate`."""
    async with throwaway_database(tmp_path_factory.mktemp("db"), migrated=False) as url:
        yield url
