"""Portus-style pagination: `page`, `per_page`, `all` in; `X-*` and `Link` headers out.

A listing may also take an opaque keyset cursor, `after`, which its `Link rel="next"` carries
besides the page number: following it reads the next rows from an index position instead of
skipping every row before them."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request, Response
from sqlalchemy import ColumnElement, and_, or_

from app.core.errors import Invalid
from app.core.state import SettingsDep
from app.core.text import load_json

MAX_PER_PAGE = 1000
MAX_PAGE = 10**12  # keeps the row offset inside BIGINT
AFTER = "after"  # the cursor's query parameter
MAX_CURSOR_LENGTH = 2048
_BIGINT = range(-(2**63), 2**63)


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

AfterCursor = Annotated[
    str | None,
    Query(
        alias=AFTER,
        min_length=1,
        max_length=MAX_CURSOR_LENGTH,
        description=(
            "Opaque keyset cursor: the rows that follow the one it was made from. Copy it from "
            '`Link rel="next"`, which also carries the next `page` (used for the `X-*` headers); '
            "it must be used with the same `sort_attr` and `sort_order`, and not with `all`."
        ),
    ),
]


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


def keyset_after(keys: Sequence[SortKey], values: Sequence[Any]) -> ColumnElement[bool]:
    """The rows that come after `values` (one for each of `keys`) in the keys' order."""
    terms = []
    for i, key in enumerate(keys):
        ties = [earlier.column == value for earlier, value in zip(keys[:i], values, strict=False)]
        beyond = key.column < values[i] if key.descending else key.column > values[i]
        terms.append(and_(*ties, beyond))
    return or_(*terms)


def _order_name(keys: Sequence[SortKey]) -> tuple[str, str]:
    return keys[0].attribute, "desc" if keys[0].descending else "asc"


def encode_cursor(keys: Sequence[SortKey], values: Sequence[Any]) -> str:
    """An `after` cursor for the row whose sort values are `values`."""
    attribute, order = _order_name(keys)
    dumped = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    raw = json.dumps({"s": attribute, "o": order, "v": dumped}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def _cursor_value(key: SortKey, value: Any) -> Any:
    kind = key.column.type.python_type
    if kind is int and type(value) is int and value in _BIGINT:
        return value
    if kind is str and isinstance(value, str):
        return value  # storable: load_json refused NUL and lone surrogates
    if kind is datetime and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else None
    return None


def decode_cursor(cursor: str, keys: Sequence[SortKey]) -> list[Any]:
    """The sort values an `after` cursor carries; a 422 naming `after` unless it is one that
    `encode_cursor` made for this ordering."""
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        # Refuses lone surrogates too (JSON's "\ud800"): no database driver can encode one.
        payload = load_json(raw, max_depth=2)
    except (ValueError, binascii.Error):
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("v"), list):
        raise Invalid({AFTER: ["is not a cursor from a Link header of this listing"]})
    if (payload.get("s"), payload.get("o")) != _order_name(keys):
        raise Invalid({AFTER: ["was made for another sort_attr or sort_order"]})
    if len(payload["v"]) != len(keys):
        raise Invalid({AFTER: ["is not a cursor from a Link header of this listing"]})
    values = [_cursor_value(key, value) for key, value in zip(keys, payload["v"], strict=True)]
    if any(value is None for value in values):
        raise Invalid({AFTER: ["is not a cursor from a Link header of this listing"]})
    return values


def set_page_headers(
    request: Request,
    response: Response,
    params: PageParams,
    total: int,
    *,
    next_cursor: str | None = None,
) -> None:
    """`next_cursor` (an `after` cursor for the page's last row) goes into `Link rel="next"`
    along with the next page number; the other links carry page numbers only."""
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

    def link(target: int, rel: str, cursor: str | None = None) -> None:
        url = request.url.remove_query_params(AFTER)
        url = url.include_query_params(page=target, per_page=params.per_page)
        if cursor is not None:
            url = url.include_query_params(**{AFTER: cursor})
        links.append(f'<{url}>; rel="{rel}"')

    if not params.all:
        if headers["X-Prev-Page"]:
            link(page - 1, "prev")
        if headers["X-Next-Page"]:
            link(page + 1, "next", next_cursor)
        link(1, "first")
        link(pages, "last")
    if links:
        headers["Link"] = ", ".join(links)
    response.headers.update(headers)
