"""Sign-up (`signup.enabled`): a plain account with a personal namespace; refused when off,
with LDAP, or before the first administrator exists."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Namespace, User
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import token_headers

ALICE = {"user": {"username": "alice", "email": "alice@example.com", "password": "alicepass1"}}


async def test_sign_up_then_log_in(session: AsyncSession, make_client: ClientFactory) -> None:
    async with make_client() as client:
        early = await client.post("/api/v1/users/signup", json=ALICE)
        assert early.status_code == 405
        assert "bootstrap" in early.json()["message"]
        await factories.create_registry(session)
        await factories.create_user(session, username="root", admin=True)
        created = await client.post("/api/v1/users/signup", json=ALICE)
        assert created.status_code == 201, created.text
        assert created.json()["admin"] is False
        user = await session.get(User, created.json()["id"])
        assert user is not None and user.namespace_id is not None
        namespace = await session.get(Namespace, user.namespace_id)
        assert namespace is not None and namespace.name == "alice"
        login = await client.post(
            "/api/v1/session", json={"username": "alice", "password": "alicepass1"}
        )
        assert login.status_code == 200
        again = await client.post("/api/v1/users/signup", json=ALICE)
        assert again.status_code == 422
        assert "username" in again.json()["message"]
        short = await client.post(
            "/api/v1/users/signup",
            json={"user": {"username": "bob", "email": "b@example.com", "password": "short"}},
        )
        assert short.status_code == 422
        assert "password" in short.json()["message"]


async def test_sign_up_can_be_off(session: AsyncSession, make_client: ClientFactory) -> None:
    await factories.create_user(session, username="root", admin=True)
    async with make_client(signup={"enabled": False}) as client:
        assert (await client.post("/api/v1/users/signup", json=ALICE)).status_code == 405
    async with make_client(ldap={"enabled": True}) as client:
        refused = await client.post("/api/v1/users/signup", json=ALICE)
        assert refused.status_code == 405


async def test_gravatar_urls_follow_the_setting(
    session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
) -> None:
    user = await factories.create_user(session, username="alice", email="Alice@Example.com")
    headers = await token_headers(session, digester, user)
    async with make_client() as client:  # gravatar.enabled is Portus's default
        me = (await client.get("/api/v1/me", headers=headers)).json()
        # md5("alice@example.com"): lower-cased, as Gravatar asks
        assert me["avatar_url"] == (
            "https://www.gravatar.com/avatar/c160f8cc69a4f0bf2b0362752353d060?d=identicon"
        )
    async with make_client(gravatar={"enabled": False}) as client:
        assert (await client.get("/api/v1/me", headers=headers)).json()["avatar_url"] is None
