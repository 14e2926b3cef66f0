"""`POST /v2/webhooks/events`: the registry's notifications, stored and acknowledged at once."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, status
from pydantic import BaseModel

from app.auth.dependencies import Public
from app.core.errors import Unauthenticated
from app.core.security import constant_time_equals
from app.core.state import State
from app.registry.events import service

router = APIRouter(tags=["registry"])


class EventsAccepted(BaseModel):
    stored: int


@router.post(
    "/v2/webhooks/events",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Public],  # checked against the shared secret below instead
    responses={400: {"description": "Not an event envelope"}, 401: {"description": "Bad secret"}},
)
async def receive_registry_events(
    request: Request, state: State, background: BackgroundTasks
) -> EventsAccepted:
    """Requires `Authorization: Bearer <notifications.secret>` (see `portus registry-config`)."""
    header = request.headers.get("authorization", "")
    if not constant_time_equals(header, f"Bearer {state.notifications_secret}"):
        raise Unauthenticated("Authentication fails: wrong or missing notification secret")
    events = service.parse_envelope(await request.body())
    stored = await service.store(state.sessionmaker.kw["bind"], events)
    if stored:
        # Runs after the response, so after the commit: the worker will see the rows.
        background.add_task(state.wake_event_worker)
    return EventsAccepted(stored=stored)
