"""The catalog bench's `next (cursor)` workload reads the URLs it measures from the service's
real `Link` headers: each is a next page number with an `after` cursor."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Repository, Visibility
from tests.fixtures import factories
from tests.support.auth import token_headers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import catalog_bench


async def test_next_links_carry_the_next_page_and_a_cursor(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    registry = await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    public = await factories.create_namespace(session, registry, visibility=Visibility.public)
    for n in range(60):
        session.add(Repository(name=f"app{n}", namespace_id=public.id))
    await session.flush()
    headers = await token_headers(session, digester, alice)

    async def get(path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200
        return response

    links = list(await catalog_bench._next_links(get, pages=3, count=10))
    assert len(links) == 10
    for link in links:
        url = httpx.URL(link)
        assert url.params["page"] in ("2", "3")
        assert url.params["per_page"] == "25"
        assert "after" in url.params
        followed = await get(link)
        assert len(followed.json()) == (25 if url.params["page"] == "2" else 10)
