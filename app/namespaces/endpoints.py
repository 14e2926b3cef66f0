from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.activities import service as activities
from app.auth.dependencies import CurrentUser
from app.authz import policy
from app.authz.principal import Principal
from app.core.db import DbSession
from app.core.errors import Forbidden, Invalid, NotFound
from app.core.params import ResourceId
from app.core.state import SettingsDep
from app.models import Namespace, Team, Visibility
from app.namespaces import repository
from app.namespaces.schemas import NamespaceRead, NamespaceUpdate, TeamRef

router = APIRouter(prefix="/namespaces", tags=["namespaces"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Authentication fails"},
    403: {"description": "Authorization fails"},
    404: {"description": "Not found (or not visible to the caller)"},
    422: {"description": "Invalid fields"},
}


def _read(namespace: Namespace, team: Team) -> NamespaceRead:
    return NamespaceRead(
        id=namespace.id,
        name=namespace.name,
        description=namespace.description,
        visibility=namespace.visibility.name,
        global_=namespace.global_,
        team=TeamRef(id=team.id, name=team.name, hidden=team.hidden),
        created_at=namespace.created_at,
        updated_at=namespace.updated_at,
    )


async def _load(
    session: DbSession, namespace_id: int, principal: Principal
) -> tuple[Namespace, Team, policy.NamespaceFacts]:
    found = await repository.with_team_and_role(session, namespace_id, principal.user_id)
    if found is None:
        raise NotFound("Not found: no such namespace")
    namespace, team, role = found
    facts = policy.NamespaceFacts(
        id=namespace.id, visibility=namespace.visibility, global_=namespace.global_, role=role
    )
    if not policy.can_pull(principal, facts):
        raise NotFound("Not found: no such namespace")  # existence stays hidden
    return namespace, team, facts


@router.get("/{namespace_id}", responses=ERRORS, response_model_by_alias=True)
async def get_namespace(
    namespace_id: ResourceId, session: DbSession, principal: CurrentUser
) -> NamespaceRead:
    namespace, team, _ = await _load(session, namespace_id, principal)
    return _read(namespace, team)


@router.put("/{namespace_id}", responses=ERRORS, response_model_by_alias=True)
async def update_namespace(
    namespace_id: ResourceId,
    body: NamespaceUpdate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> NamespaceRead:
    """Description and visibility (`private`, `protected`, `public`)."""
    namespace, team, facts = await _load(session, namespace_id, principal)
    fields = body.namespace
    if fields.visibility is not None and fields.visibility != namespace.visibility.name:
        if not policy.can_change_visibility(principal, facts, settings):
            raise Forbidden("Authorization fails: you may not change this namespace's visibility")
        if namespace.global_ and fields.visibility == "private":
            raise Invalid({"visibility": ["the global namespace cannot be private"]})
        namespace.visibility = Visibility[fields.visibility]
        activities.record(
            session,
            "namespace.change_visibility",
            trackable_type="Namespace",
            trackable_id=namespace.id,
            owner_id=principal.user_id,
            parameters={"visibility": fields.visibility},
        )
    if fields.description is not None and fields.description != namespace.description:
        if not policy.can_manage_namespace(principal, facts, settings):
            raise Forbidden("Authorization fails: you may not edit this namespace")
        old = namespace.description
        namespace.description = fields.description
        activities.record(
            session,
            "namespace.change_namespace_description",
            trackable_type="Namespace",
            trackable_id=namespace.id,
            owner_id=principal.user_id,
            parameters={"old": old, "new": fields.description},
        )
    await session.flush()
    await session.refresh(namespace)
    return _read(namespace, team)
