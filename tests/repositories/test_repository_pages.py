"""Pages of `GET /repositories`: every page number shows the right rows in every sort order
(pages past the middle are read from the end), and the `after` cursor that `Link rel="next"`
carries walks the same rows; a bad cursor is a 422 that names it."""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import Slice, page_slice
from app.models import Namespace, Repository, Role, Visibility
from app.repositories import repository
from tests.fixtures import factories
from tests.support.auth import token_headers

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


def _cursor(payload: Any) -> str:
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _links(response: httpx.Response) -> dict[str, httpx.URL]:
    found = re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("Link", ""))
    return {rel: httpx.URL(url) for url, rel in found}


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
        headers = await token_headers(session, digester, alice)
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

    @pytest.mark.parametrize(("sort_attr", "order"), [(None, "asc"), ("name", "desc")])
    async def test_pages_of_a_caller_who_sees_many_namespaces(
        self,
        client: httpx.AsyncClient,
        listing: tuple[dict[str, str], list[Repository]],
        monkeypatch: pytest.MonkeyPatch,
        sort_attr: str | None,
        order: str,
    ) -> None:
        """Above INLINE_NAMESPACES the visible namespaces are a subquery, not constants."""
        monkeypatch.setattr(repository, "INLINE_NAMESPACES", 1)
        await self.test_every_page_number_shows_its_rows(client, listing, sort_attr, order)
        await self.test_following_next_walks_the_same_rows(client, listing, sort_attr, order)

    @pytest.mark.parametrize(("sort_attr", "order"), SORTS)
    async def test_following_next_walks_the_same_rows(
        self,
        client: httpx.AsyncClient,
        listing: tuple[dict[str, str], list[Repository]],
        sort_attr: str | None,
        order: str,
    ) -> None:
        headers, visible = listing
        expected = self._expected(visible, sort_attr, order)
        url = httpx.URL("/api/v1/repositories", params=self._params(sort_attr, order))
        walked: list[int] = []
        pages = 0
        while True:
            response = await client.get(url, headers=headers)
            assert response.status_code == 200
            pages += 1
            assert response.headers["X-Page"] == str(pages)
            walked += [r["id"] for r in response.json()]
            links = _links(response)
            for rel in ("prev", "first", "last"):
                if rel in links:
                    assert "after" not in links[rel].params
            if "next" not in links:
                break
            url = links["next"]
            assert url.params["page"] == str(pages + 1)
            assert "after" in url.params
            assert url.params.get("sort_order") == order
            assert url.params.get("sort_attr") == sort_attr
        assert walked == expected
        assert pages == math.ceil(len(expected) / PER_PAGE)

    async def test_the_cursor_reads_after_its_row_where_a_page_number_shifts(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        listing: tuple[dict[str, str], list[Repository]],
    ) -> None:
        """A repository added before the cursor's row moves the rows of page 2, not the rows
        after the cursor."""
        headers, visible = listing
        expected = self._expected(visible, None, "desc")
        params: dict[str, str | int] = {"per_page": PER_PAGE, "sort_order": "desc"}
        first = await client.get("/api/v1/repositories", headers=headers, params=params)
        after = _links(first)["next"].params["after"]
        session.add(Repository(name="newest", namespace_id=visible[0].namespace_id))
        await session.flush()  # the highest id: first in descending order
        by_number = await client.get(
            "/api/v1/repositories", headers=headers, params={**params, "page": 2}
        )
        by_cursor = await client.get(
            "/api/v1/repositories", headers=headers, params={**params, "page": 2, "after": after}
        )
        assert [r["id"] for r in by_number.json()] == expected[PER_PAGE - 1 : 2 * PER_PAGE - 1]
        assert [r["id"] for r in by_cursor.json()] == expected[PER_PAGE : 2 * PER_PAGE]
        assert by_cursor.headers["X-Total"] == str(len(expected) + 1)

    @pytest.mark.parametrize(
        ("after", "problem"),
        [
            ("%%%", "is not a cursor"),
            ("bm90IGpzb24", "is not a cursor"),  # "not json"
            (_cursor([1, 2]), "is not a cursor"),
            (_cursor({"s": "id", "o": "asc"}), "is not a cursor"),
            (_cursor({"s": "id", "o": "asc", "v": [1, 2]}), "is not a cursor"),
            (_cursor({"s": "id", "o": "asc", "v": ["1"]}), "is not a cursor"),
            (_cursor({"s": "id", "o": "asc", "v": [True]}), "is not a cursor"),
            (_cursor({"s": "id", "o": "asc", "v": [1.5]}), "is not a cursor"),
            (_cursor({"s": "id", "o": "asc", "v": [2**63]}), "is not a cursor"),
            (_cursor({"s": "id", "o": "asc", "v": [None]}), "is not a cursor"),
            (_cursor({"s": "id", "o": "desc", "v": [1]}), "another sort_attr or sort_order"),
            (_cursor({"s": "name", "o": "asc", "v": ["a", 1]}), "another sort_attr"),
            ("x" * 2049, "at most 2048 characters"),
            # nested deeper than the JSON parser recurses (a RecursionError, once a 500)
            (base64.urlsafe_b64encode(b"[" * 1500).rstrip(b"=").decode(), "is not a cursor"),
        ],
    )
    async def test_a_bad_cursor_is_a_422_naming_it(
        self,
        client: httpx.AsyncClient,
        listing: tuple[dict[str, str], list[Repository]],
        after: str,
        problem: str,
    ) -> None:
        headers, _ = listing
        response = await client.get(
            "/api/v1/repositories", headers=headers, params={"after": after}
        )
        assert response.status_code == 422
        message = response.json()["message"]
        assert list(message) == ["after"]
        assert problem in " ".join(message["after"])

    @pytest.mark.parametrize(
        ("sort_attr", "values"),
        [
            ("name", ["app\x00", 1]),
            ("name", [3, 1]),
            ("created_at", ["2026-01-01T00:00:00", 1]),  # no time zone
            ("created_at", ["yesterday", 1]),
            ("updated_at", [1767225600, 1]),
        ],
    )
    async def test_a_cursor_value_of_the_wrong_kind_is_a_422(
        self,
        client: httpx.AsyncClient,
        listing: tuple[dict[str, str], list[Repository]],
        sort_attr: str,
        values: list[Any],
    ) -> None:
        headers, _ = listing
        after = _cursor({"s": sort_attr, "o": "asc", "v": values})
        response = await client.get(
            "/api/v1/repositories",
            headers=headers,
            params={"after": after, "sort_attr": sort_attr},
        )
        assert response.status_code == 422
        assert list(response.json()["message"]) == ["after"]

    async def test_a_cursor_with_all_is_a_422(
        self, client: httpx.AsyncClient, listing: tuple[dict[str, str], list[Repository]]
    ) -> None:
        headers, _ = listing
        first = await client.get("/api/v1/repositories", headers=headers, params={"per_page": 2})
        after = _links(first)["next"].params["after"]
        response = await client.get(
            "/api/v1/repositories", headers=headers, params={"after": after, "all": "true"}
        )
        assert response.status_code == 422
        assert response.json()["message"] == {"after": ["cannot be combined with all"]}

    async def test_a_cursor_past_the_end_is_an_empty_page(
        self, client: httpx.AsyncClient, listing: tuple[dict[str, str], list[Repository]]
    ) -> None:
        headers, visible = listing
        after = _cursor({"s": "id", "o": "asc", "v": [max(r.id for r in visible)]})
        response = await client.get(
            "/api/v1/repositories", headers=headers, params={"after": after, "page": 9}
        )
        assert response.status_code == 200
        assert response.json() == []
        assert "next" not in _links(response)


async def test_the_cursor_is_documented(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    parameters = document["paths"]["/v1/repositories"]["get"]["parameters"]
    (after,) = [p for p in parameters if p["name"] == "after"]
    assert after["in"] == "query"
    assert after["required"] is False
    assert "Link" in after["description"]
    assert after["schema"]["anyOf"][0]["maxLength"] == 2048
