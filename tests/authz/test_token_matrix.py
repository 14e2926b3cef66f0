"""The whole registry permission matrix, through `/v2/token`, against a table written here.

Roles x namespaces x actions x push_images.policy x delete.enabled x delete.contributors.
The expected table below is written from Portus's documented matrix (reference §6.1), by listing
who may do what, not by calling the policy code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Role, Visibility
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD, REGISTRY_HOST
from tests.fixtures.jwt import access

ROLES = ["admin", "owner", "contributor", "viewer", "other", "anonymous", "bot"]
# team namespaces by visibility, the owner's personal namespace, the registry's global namespace
NAMESPACES = ["private", "protected", "public", "personal", "global"]
ACTIONS = ["pull", "push", "delete", "*"]
POLICIES = ["allow-teams", "allow-personal", "admin-only"]

# Who is a member of the team namespaces' team, and with which role.
TEAM_ROLE = {
    "owner": "owner",
    "contributor": "contributor",
    "viewer": "viewer",
    "bot": "contributor",
}


def may_pull(role: str, namespace: str) -> bool:
    if role == "admin":
        return True
    if namespace in ("public", "global"):  # the global namespace is public by default
        return True
    if role == "anonymous":
        return False
    if namespace == "protected":
        return True
    if namespace == "private":
        return role in TEAM_ROLE
    return role == "owner"  # personal: its owner only


def may_push(role: str, namespace: str, policy: str) -> bool:
    if role == "admin":
        return True
    if role == "anonymous" or policy == "admin-only":
        return False
    if policy == "allow-personal":
        return namespace == "personal" and role == "owner"
    # allow-teams: owners and contributors of the namespace's team; personal team = its owner
    if namespace == "personal":
        return role == "owner"
    if namespace == "global":
        return False
    return TEAM_ROLE.get(role) in ("owner", "contributor")


def may_delete(role: str, namespace: str, enabled: bool, contributors: bool) -> bool:
    if not enabled:
        return False
    if role == "admin":
        return True
    if namespace == "personal":
        return role == "owner"
    if namespace == "global":
        return False
    team_role = TEAM_ROLE.get(role)
    return team_role == "owner" or (contributors and team_role == "contributor")


def expected(
    role: str, namespace: str, action: str, policy: str, enabled: bool, contributors: bool
) -> list[str]:
    allowed = {
        "pull": may_pull(role, namespace),
        "push": may_push(role, namespace, policy),
        "delete": may_delete(role, namespace, enabled, contributors),
    }
    wanted = ["pull", "push", "delete"] if action == "*" else [action]
    held = [a for a in wanted if allowed[a]]
    # Portus keeps `*` when it is allowed; we do when every action is.
    return ["*"] if action == "*" and len(held) == len(wanted) else held


@dataclass
class World:
    credentials: dict[str, tuple[str, str] | None]
    repositories: dict[str, str]


async def build_world(session: AsyncSession, digester: TokenDigester) -> World:
    registry = await factories.create_registry(session)
    users = {}
    for role in ROLES:
        if role == "anonymous":
            continue
        users[role] = await factories.create_user(
            session, username=f"m-{role}", admin=role == "admin", bot=role == "bot"
        )
    members = {users[role].id: Role[team_role] for role, team_role in TEAM_ROLE.items()}
    repositories = {}
    for visibility in ("private", "protected", "public"):
        namespace = await factories.create_namespace(
            session,
            registry,
            name=f"m-{visibility}",
            visibility=Visibility[visibility],
            members=members,
        )
        repositories[visibility] = f"{namespace.name}/app"
    assert users["owner"].namespace_id is not None
    repositories["personal"] = "m-owner/app"
    repositories["global"] = "app"
    bot_token = await factories.create_token(session, digester, users["bot"])
    credentials: dict[str, tuple[str, str] | None] = {
        role: (user.username, PASSWORD) for role, user in users.items()
    }
    credentials["bot"] = ("m-bot", bot_token)
    credentials["anonymous"] = None
    return World(credentials=credentials, repositories=repositories)


async def granted(
    client: httpx.AsyncClient, world: World, role: str, action: str
) -> dict[str, list[str]]:
    """One request per role and action, asking for that action on every namespace."""
    params: list[tuple[str, str | int | float | bool | None]] = [("service", REGISTRY_HOST)]
    params += [("scope", f"repository:{repo}:{action}") for repo in world.repositories.values()]
    creds = world.credentials[role]
    response = await client.get("/v2/token", params=params, auth=creds)
    assert response.status_code == 200, response.text
    by_name = access(response.json()["token"])
    return {ns: by_name[f"repository:{repo}"] for ns, repo in world.repositories.items()}


async def test_token_matrix(
    session: AsyncSession, digester: TokenDigester, make_client: ClientFactory
) -> None:
    world = await build_world(session, digester)
    mismatches = []
    checked = 0
    for policy, enabled, contributors in itertools.product(POLICIES, [True, False], [True, False]):
        overrides = {
            "user_permission": {"push_images": {"policy": policy}},
            "delete": {"enabled": enabled, "contributors": contributors},
        }
        async with make_client(**overrides) as client:
            for role, action in itertools.product(ROLES, ACTIONS):
                answer = await granted(client, world, role, action)
                for namespace in NAMESPACES:
                    want = expected(role, namespace, action, policy, enabled, contributors)
                    checked += 1
                    if answer[namespace] != want:
                        mismatches.append(
                            (
                                policy,
                                enabled,
                                contributors,
                                role,
                                namespace,
                                action,
                                answer[namespace],
                                want,
                            )
                        )
    assert checked == len(POLICIES) * 2 * 2 * len(ROLES) * len(NAMESPACES) * len(ACTIONS)
    assert mismatches == []
