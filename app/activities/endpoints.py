"""The audit trail: a feed of what the caller may see, and the full list (admins) with CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.activities import service
from app.activities.schemas import ActivityRead
from app.auth.dependencies import AdminUser, CurrentUser
from app.core.db import DbSession
from app.core.openapi import error_responses
from app.core.pagination import Pagination, set_page_headers
from app.core.params import Text

router = APIRouter(prefix="/activities", tags=["activities"])

ERRORS = error_responses(401, (403, "Administrators only"), (422, "Invalid filter"))
Key = Annotated[Text | None, Query(max_length=64, description="e.g. repository.push")]
Owner = Annotated[Text | None, Query(max_length=255, description="username of the actor")]
Since = Annotated[datetime | None, Query(description="from this time (inclusive)")]
Until = Annotated[datetime | None, Query(description="before this time")]


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _read(view: service.ActivityView) -> ActivityRead:
    read = ActivityRead.model_validate(view.activity)
    read.owner_name = view.owner_name
    read.trackable_name = view.trackable_name
    read.recipient_name = view.recipient_name
    return read


@router.get("/feed", responses=ERRORS)
async def activity_feed(
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentUser,
    pagination: Pagination,
) -> list[ActivityRead]:
    """Newest first: namespaces and repositories the caller may pull from, their teams, and
    their own account (tokens); the newest 1,000 such activities."""
    total, rows = await service.feed(
        session, principal, offset=pagination.offset, limit=pagination.limit
    )
    set_page_headers(request, response, pagination, total)
    return [_read(view) for view in await service.views(session, rows)]


@router.get("", responses=ERRORS)
async def list_activities(
    request: Request,
    response: Response,
    session: DbSession,
    _admin: AdminUser,
    pagination: Pagination,
    key: Key = None,
    owner: Owner = None,
    since: Since = None,
    until: Until = None,
) -> list[ActivityRead]:
    """Every activity, newest first, filtered by key, actor and time."""
    total, rows = await service.list_activities(
        session,
        key=key,
        owner=owner,
        since=since,
        until=until,
        offset=pagination.offset,
        limit=pagination.limit,
    )
    set_page_headers(request, response, pagination, total)
    return [_read(view) for view in await service.views(session, rows)]


@router.get(
    "/export.csv",
    responses={**ERRORS, 200: {"content": {"text/csv": {}}, "description": "CSV file"}},
    response_class=StreamingResponse,
)
async def export_activities(
    session: DbSession,
    _admin: AdminUser,
    key: Key = None,
    owner: Owner = None,
    since: Since = None,
    until: Until = None,
) -> StreamingResponse:
    """The same filters as the list, every row, as CSV."""
    _, rows = await service.list_activities(session, key=key, owner=owner, since=since, until=until)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "created_at", "key", "owner", "trackable", "recipient", "parameters"])
    for activity, name in rows:
        writer.writerow(
            _cell(value)
            for value in (
                activity.id,
                activity.created_at.isoformat(),
                activity.key,
                name or "",
                f"{activity.trackable_type}:{activity.trackable_id or ''}",
                f"{activity.recipient_type or ''}:{activity.recipient_id or ''}",
                json.dumps(activity.parameters, sort_keys=True),
            )
        )
    return StreamingResponse(
        iter([buffer.getvalue()]),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="activities.csv"'},
    )
