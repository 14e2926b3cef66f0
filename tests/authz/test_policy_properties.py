"""Property test: for generated worlds (caller, team role, namespace visibility, config flags),
the token service's grants and the REST API's answers agree with the reference permission table
of `test_token_matrix` (written from Portus's documented matrix, not from the policy code)."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine
from app.core.security import TokenDigester
from app.main import create_app
from app.models import Repository, Role, Visibility
from tests.authz.test_token_matrix import may_delete, may_pull, may_push
from tests.fixtures import factories
from tests.fixtures.factories import REGISTRY_HOST
from tests.support.auth import portus_auth

ROLES = ["admin", "owner", "contributor", "viewer", "other"]


def may_change_visibility(role: str, flag: bool) -> bool:
    return role == "admin" or (flag and role == "owner")


async def check_world(
    database_url: str,
    data_dir: Path,
    role: str,
    visibility: str,
    policy: str,
    delete_enabled: bool,
    delete_contributors: bool,
    change_visibility: bool,
) -> None:
    config = Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key_base="property-test",
        user_permission={
            "push_images": {"policy": policy},
            "change_visibility": {"enabled": change_visibility},
        },
        delete={"enabled": delete_enabled, "contributors": delete_contributors},
    )
    digester = TokenDigester(b"property-test")
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            outer = await conn.begin()
            maker = async_sessionmaker(
                bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
            )
            async with maker() as session:
                registry = await factories.create_registry(session)
                caller = await factories.create_user(session, admin=role == "admin")
                members = {} if role in ("admin", "other") else {caller.id: Role[role]}
                namespace = await factories.create_namespace(
                    session, registry, visibility=Visibility[visibility], members=members
                )
                repository = Repository(name="app", namespace_id=namespace.id)
                session.add(repository)
                await session.flush()
                token = await factories.create_token(session, digester, caller)
                ns_id, repo_id, ns_name = namespace.id, repository.id, namespace.name
                username = caller.username
                await session.commit()
            app = create_app(config, sessionmaker=maker, run_background=False)
            async with LifespanManager(app) as manager:
                transport = httpx.ASGITransport(app=manager.app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                    expected = {
                        "pull": may_pull(role, visibility),
                        "push": may_push(role, visibility, policy),
                        "delete": may_delete(role, visibility, delete_enabled, delete_contributors),
                    }
                    # the token service
                    response = await client.get(
                        "/v2/token",
                        params={"service": REGISTRY_HOST, "scope": f"repository:{ns_name}/app:*"},
                        auth=(username, token),
                    )
                    claims = json.loads(
                        base64.urlsafe_b64decode(response.json()["token"].split(".")[1] + "==")
                    )
                    granted = set(claims["access"][0]["actions"])
                    held = {a for a, ok in expected.items() if ok}
                    assert granted == ({"*"} if held == set(expected) else held)
                    # the REST API
                    headers = portus_auth(username, token)
                    shown = await client.get(f"/api/v1/namespaces/{ns_id}", headers=headers)
                    assert shown.status_code == (200 if expected["pull"] else 404)
                    if expected["pull"]:
                        repo = await client.get(f"/api/v1/repositories/{repo_id}", headers=headers)
                        assert repo.json()["destroyable"] is expected["delete"]
                        target = "protected" if visibility != "protected" else "public"
                        changed = await client.put(
                            f"/api/v1/namespaces/{ns_id}",
                            json={"namespace": {"visibility": target}},
                            headers=headers,
                        )
                        allowed = may_change_visibility(role, change_visibility)
                        assert changed.status_code == (200 if allowed else 403), changed.text
            await outer.rollback()
    finally:
        await engine.dispose()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    role=st.sampled_from(ROLES),
    visibility=st.sampled_from(["private", "protected", "public"]),
    policy=st.sampled_from(["allow-teams", "allow-personal", "admin-only"]),
    delete_enabled=st.booleans(),
    delete_contributors=st.booleans(),
    change_visibility=st.booleans(),
)
def test_api_and_token_service_agree_with_the_reference(
    database_url: str,
    session_tmp: Path,
    role: str,
    visibility: str,
    policy: str,
    delete_enabled: bool,
    delete_contributors: bool,
    change_visibility: bool,
) -> None:
    # Each example runs on a loop and a connection of its own, inside a rolled-back transaction.
    asyncio.run(
        check_world(
            database_url,
            session_tmp / "data",
            role,
            visibility,
            policy,
            delete_enabled,
            delete_contributors,
            change_visibility,
        )
    )
