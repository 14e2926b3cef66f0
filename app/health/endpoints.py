"""`/api/v1/_ping` and `/api/v1/health` (database, registry, background work, mail, LDAP)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from app.auth.dependencies import OptionalPrincipal, Public
from app.authz import policy
from app.core.db import DbSession
from app.core.directory import Directory, DirectoryUnavailable
from app.core.state import State
from app.health import service
from app.mail import outbox
from app.namespaces import service as namespaces
from app.registry.client import check_reachable

router = APIRouter(tags=["health"])


class Pong(BaseModel):
    pong: bool = True


@router.get("/_ping", dependencies=[Public])
async def ping() -> Pong:
    return Pong()


async def _ldap_component(directory: Directory) -> dict[str, Any]:
    """The service bind (or an anonymous bind), as a login would do it."""
    try:
        await directory.check()
    except DirectoryUnavailable as exc:
        return {"msg": exc.message, "success": False}
    return {"msg": f"LDAP server {directory.url} accepted the bind", "success": True}


@router.get(
    "/health",
    dependencies=[Public],
    # The body of a 503 is the same report as a 200's, not the error envelope.
    responses={503: {"model": dict[str, dict[str, Any]], "description": "A component is failing"}},
)
async def health(session: DbSession, state: State, principal: OptionalPrincipal) -> JSONResponse:
    """Up or down per component for anybody (a load balancer, a monitor). The details (what
    failed and why, schema revisions, task runs with their host names and pids, mail counts,
    the directory's address) for administrators only: they map the installation."""
    components: dict[str, dict[str, Any]] = {}
    try:
        revision = await service.schema_revision(session)
        head = state.schema_head
        up_to_date = head is None or revision == head
        components["database"] = {
            "msg": "database is up-to-date"
            if up_to_date
            else f"database at {revision}, not {head}",
            "success": up_to_date,
        }
        registry = await namespaces.get_registry(session)
    except SQLAlchemyError as exc:
        components["database"] = {"msg": f"cannot query the database: {exc}", "success": False}
        registry = None
    if registry is None:
        components["registry"] = {"msg": "no registry configured", "success": True}
    else:
        problem = await check_reachable(state.http, registry.base_url, state.settings)
        components["registry"] = {
            "msg": problem or "registry is reachable",
            "success": problem is None,
        }
    try:
        tasks = await service.background_status(session)
        background: dict[str, Any] = {
            "msg": "background tasks as recorded by every process",
            "success": all(task["success"] for task in tasks.values()),
            "tasks": tasks,
        }
    except SQLAlchemyError as exc:
        background = {"msg": f"cannot read the background tasks: {exc}", "success": False}
    if state.background_health is not None:
        background["this_process"] = state.background_health()
    components["background"] = background
    try:
        components["mail"] = await outbox.status(session, state.settings)
    except SQLAlchemyError as exc:
        components["mail"] = {"msg": f"cannot read the mail outbox: {exc}", "success": False}
    if state.ldap is not None:
        components["ldap"] = await _ldap_component(state.ldap)
    ok = all(c.get("success", True) for c in components.values())
    if not policy.can_see_health_details(principal):
        components = {name: {"success": c.get("success", True)} for name, c in components.items()}
    return JSONResponse(components, status_code=200 if ok else 503)
