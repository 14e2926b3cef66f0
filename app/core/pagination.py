"""Portus-style pagination: `page`, `per_page`, `all` in; `X-*` and `Link` headers out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response

from app.core.errors import Invalid
from app.core.state import SettingsDep

MAX_PER_PAGE = 1000
MAX_PAGE = 10**12  # keeps the row offset inside BIGINT


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term of a listing: `column`, the rows' attribute `attribute`."""

    attribute: str
    column: Any
    descending: bool

    def clause(self, *, reverse: bool = False) -> Any:
        return self.column.desc() if self.descending != reverse else self.column.asc()


@dataclass(frozen=True)
class PageParams:
    page: int
    per_page: int
    all: bool
    sort_attr: str | None = None
    sort_order: Literal["asc", "desc"] = "asc"

    def sort_keys(self, columns: Mapping[str, Any]) -> list[SortKey]:
        """The ordering for `sort_attr` (one of `columns`; `id` when absent), ties broken by id.
        Portus silently fell back to `id` on an unknown attribute; a 422 says what is allowed."""
        name = self.sort_attr or "id"
        if name not in columns:
            allowed = ", ".join(sorted(columns))
            raise Invalid({"sort_attr": [f"must be one of: {allowed}"]})
        first = SortKey(name, columns[name], self.sort_order == "desc")
        return [first] if name == "id" else [first, SortKey("id", columns["id"], False)]

    def order_by(self, columns: Mapping[str, Any]) -> list[Any]:
        return [key.clause() for key in self.sort_keys(columns)]

    @property
    def offset(self) -> int:
        return 0 if self.all else (self.page - 1) * self.per_page

    @property
    def limit(self) -> int | None:
        return None if self.all else self.per_page


def page_params(
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")] = 1,
    per_page: Annotated[int | None, Query(ge=1, le=MAX_PER_PAGE)] = None,
    all: Annotated[bool, Query(description="every item, no pagination")] = False,
    sort_attr: Annotated[
        str | None, Query(max_length=64, description="attribute to sort by")
    ] = None,
    sort_order: Annotated[Literal["asc", "desc"], Query()] = "asc",
) -> PageParams:
    return PageParams(
        page=page,
        per_page=per_page or settings.pagination.per_page,
        all=all,
        sort_attr=sort_attr,
        sort_order=sort_order,
    )


Pagination = Annotated[PageParams, Depends(page_params)]


@dataclass(frozen=True)
class Slice:
    """The rows to read for one page of an ordered listing."""

    offset: int
    limit: int | None
    reverse: bool  # in the opposite order: the caller puts the rows back in order


def page_slice(offset: int, limit: int | None, total: int | None) -> Slice | None:
    """Where to read rows `offset`..`offset + limit` of `total` ordered rows (None: there are
    none). An OFFSET costs every row it skips, so a page past the middle is read from the other
    end: a page then skips at most half of the listing. `total` must be exact (a count in the
    same visibility); without it, or for `all`, the page is read from the start."""
    if limit is None or total is None:
        return Slice(offset, limit, reverse=False)
    if offset >= total:
        return None
    if 2 * offset + limit <= total:
        return Slice(offset, limit, reverse=False)
    from_end = total - offset - limit
    return Slice(max(0, from_end), limit + min(0, from_end), reverse=True)


def set_page_headers(request: Request, response: Response, params: PageParams, total: int) -> None:
    per_page = total if params.all else params.per_page
    pages = 1 if params.all else max(1, math.ceil(total / params.per_page))
    page = 1 if params.all else params.page
    headers = {
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if 1 < page <= pages + 1 else "",
    }
    links = []

    def link(target: int, rel: str) -> None:
        url = request.url.include_query_params(page=target, per_page=params.per_page)
        links.append(f'<{url}>; rel="{rel}"')

    if not params.all:
        if headers["X-Prev-Page"]:
            link(page - 1, "prev")
        if headers["X-Next-Page"]:
            link(page + 1, "next")
        link(1, "first")
        link(pages, "last")
    if links:
        headers["Link"] = ", ".join(links)
    response.headers.update(headers)
