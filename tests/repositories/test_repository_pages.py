"""Pages of `GET /repositories`: every page number shows the right rows in every sort order
(pages past the middle are read from the end)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Slice, page_slice
from app.models import Namespace, Repository, Role, Visibility
from tests.fixtures import factories

PER_PAGE = 4
SORTS = [
    (None, "asc"),
    ("id", "desc"),
    ("name", "asc"),
    ("name", "desc"),
    ("created_at", "asc"),
    ("updated_at", "desc"),
]


class TestPageSlice:
    @pytest.mark.parametrize(
        ("offset", "limit", "total", "expected"),
        [
            (0, 10, 100, Slice(0, 10, reverse=False)),
            (40, 10, 100, Slice(40, 10, reverse=False)),  # ends before the middle
            (45, 10, 100, Slice(45, 10, reverse=False)),  # centred: either way, forwards
            (50, 10, 100, Slice(40, 10, reverse=True)),
            (90, 10, 100, Slice(0, 10, reverse=True)),
            (95, 10, 100, Slice(0, 5, reverse=True)),  # the last, short page
            (100, 10, 100, None),
            (130, 10, 100, None),
            (0, 10, 0, None),
            (0, 10, 3, Slice(0, 3, reverse=True)),
            (0, None, 100, Slice(0, None, reverse=False)),  # all
            (50, 10, None, Slice(50, 10, reverse=False)),  # no exact total
        ],
    )
    def test_reads_a_deep_page_from_the_nearer_end(
        self, offset: int, limit: int | None, total: int | None, expected: Slice | None
    ) -> None:
        assert page_slice(offset, limit, total) == expected


class TestRepositoryPages:
    @pytest.fixture
    async def listing(
        self, session: AsyncSession, digester: Any
    ) -> tuple[dict[str, str], list[Repository]]:
        """Alice sees two namespaces out of three; names and timestamps repeat across them, so
        the id must break ties."""
        registry = await factories.create_registry(session)
        alice = await factories.create_user(session, username="alice")
        mine = await factories.create_namespace(
            session, registry, name="mine", members={alice.id: Role.viewer}
        )
        public = await factories.create_namespace(
            session, registry, name="open", visibility=Visibility.public
        )
        hidden = await factories.create_namespace(session, registry, name="hidden")
        base = datetime(2026, 1, 1, tzinfo=UTC)
        visible: list[Repository] = []
        for n in range(23):
            namespace: Namespace = (mine, public, hidden)[n % 3]
            repository = Repository(
                name=f"app{n // 3}",  # the same names in each namespace
                namespace_id=namespace.id,
                created_at=base + timedelta(minutes=n % 4),
                updated_at=base + timedelta(seconds=n % 6, microseconds=n % 2),
            )
            session.add(repository)
            await session.flush()
            if namespace is not hidden:
                visible.append(repository)
        headers = {"Portus-Auth": f"alice:{await factories.create_token(session, digester, alice)}"}
        return headers, visible

    @staticmethod
    def _expected(rows: list[Repository], sort_attr: str | None, order: str) -> list[int]:
        attribute = sort_attr or "id"
        if attribute == "id":
            ids = sorted(r.id for r in rows)
            return ids[::-1] if order == "desc" else ids
        # Ties broken by ascending id, whatever the order of the attribute.
        values = {r.id: getattr(r, attribute) for r in rows}
        by_id = sorted(values)
        return sorted(by_id, key=lambda i: values[i], reverse=order == "desc")

    @staticmethod
    def _params(sort_attr: str | None, order: str, **more: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"per_page": PER_PAGE, "sort_order": order, **more}
        if sort_attr is not None:
            params["sort_attr"] = sort_attr
        return params

    @pytest.mark.parametrize(("sort_attr", "order"), SORTS)
    async def test_every_page_number_shows_its_rows(
        self,
        client: httpx.AsyncClient,
        listing: tuple[dict[str, str], list[Repository]],
        sort_attr: str | None,
        order: str,
    ) -> None:
        headers, visible = listing
        expected = self._expected(visible, sort_attr, order)
        pages = math.ceil(len(expected) / PER_PAGE)
        for page in range(1, pages + 2):
            response = await client.get(
                "/api/v1/repositories",
                headers=headers,
                params=self._params(sort_attr, order, page=page),
            )
            assert response.status_code == 200
            assert response.headers["X-Total"] == str(len(expected))
            assert response.headers["X-Total-Pages"] == str(pages)
            start = (page - 1) * PER_PAGE
            assert [r["id"] for r in response.json()] == expected[start : start + PER_PAGE], page
