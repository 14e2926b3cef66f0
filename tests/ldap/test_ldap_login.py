"""LDAP logins against a real slapd: session, HTTP Basic and /v2/token; the accounts they create."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Activity, LoginFailure, Namespace, TeamUser, User
from app.users import service as users
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD
from tests.ldap.conftest import ldap_config
from tests.support.auth import admin_headers, token_headers
from tests.support.slapd import USERS, Slapd
from tests.support.tools import free_port


def pw(username: str) -> str:
    return USERS[username][0]


async def user_named(session: AsyncSession, username: str) -> User | None:
    session.expire_all()
    return await session.scalar(select(User).where(User.username == username))


async def test_first_session_login_creates_a_passwordless_user_with_a_namespace(
    session: AsyncSession, ldap_client: httpx.AsyncClient
) -> None:
    assert await user_named(session, "alice") is None
    response = await ldap_client.post(
        "/api/v1/session", json={"username": "alice", "password": pw("alice")}
    )
    assert response.status_code == 200, response.text
    body = response.json()["user"]
    assert body["username"] == "alice"
    assert body["admin"] is False
    assert body["email"] is None  # guess_email is off
    me = await ldap_client.get("/api/v1/me")
    assert me.json()["username"] == "alice"

    alice = await user_named(session, "alice")
    assert alice is not None
    assert alice.encrypted_password is None
    namespace = await session.get(Namespace, alice.namespace_id)
    assert namespace is not None and namespace.name == "alice"
    created = await session.scalar(
        select(Activity).where(Activity.key == "user.create", Activity.trackable_id == alice.id)
    )
    assert created is not None and created.parameters["ldap"] is True

    # A second login finds the same account.
    ldap_client.cookies.clear()
    again = await ldap_client.post(
        "/api/v1/session", json={"username": "alice", "password": pw("alice")}
    )
    assert again.status_code == 200
    assert again.json()["user"]["id"] == alice.id


async def test_basic_auth_on_the_api_and_v2_token(
    session: AsyncSession, ldap_client: httpx.AsyncClient
) -> None:
    me = await ldap_client.get("/api/v1/me", auth=("bob", pw("bob")))
    assert me.status_code == 200, me.text
    assert me.json()["username"] == "bob"
    token = await ldap_client.get(
        "/v2/token",
        params={"service": factories.REGISTRY_HOST, "scope": "repository:bob/app:push,pull"},
        auth=("bob", pw("bob")),
    )
    assert token.status_code == 200, token.text
    assert token.json()["token"]
    # Form-encoded OAuth2 password grant, as docker sends it.
    grant = await ldap_client.post(
        "/v2/token",
        data={
            "grant_type": "password",
            "service": factories.REGISTRY_HOST,
            "username": "bob",
            "password": pw("bob"),
            "scope": "repository:bob/app:pull",
        },
    )
    assert grant.status_code == 200, grant.text
    assert grant.json()["scope"] == "repository:bob/app:pull"

    for auth in (("bob", "wrong-password"), ("bob", ""), ("nobody", pw("bob"))):
        assert (await ldap_client.get("/api/v1/me", auth=auth)).status_code == 401
        refused = await ldap_client.get(
            "/v2/token", params={"service": factories.REGISTRY_HOST}, auth=auth
        )
        assert refused.status_code == 401


async def test_wrong_directory_passwords_are_refused_and_counted(
    session: AsyncSession, ldap_client: httpx.AsyncClient
) -> None:
    ok = await ldap_client.get("/api/v1/me", auth=("alice", pw("alice")))
    assert ok.status_code == 200
    wrong = await ldap_client.post(
        "/api/v1/session", json={"username": "alice", "password": "not-alice"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "Authentication fails: invalid username or password"
    alice = await user_named(session, "alice")
    assert alice is not None and alice.failed_attempts == 1
    # The directory password resets the count.
    assert (await ldap_client.get("/api/v1/me", auth=("alice", pw("alice")))).status_code == 200
    alice = await user_named(session, "alice")
    assert alice is not None and alice.failed_attempts == 0
    # Ten wrong ones from this address lock this address (only) out of the account.
    for _ in range(10):
        await ldap_client.get("/api/v1/me", auth=("alice", "guess"))
    locked = await ldap_client.get("/api/v1/me", auth=("alice", pw("alice")))
    assert locked.status_code == 429
    assert "for this account from this address" in locked.json()["message"]


async def test_filter_characters_in_user_names_are_escaped(
    session: AsyncSession, ldap_client: httpx.AsyncClient
) -> None:
    """`*` must not match alice (nor anybody): the name is escaped in the LDAP filter."""
    for name in ("*", "a*", "alice)(uid=*", "*)(|(uid=*"):
        response = await ldap_client.post(
            "/api/v1/session", json={"username": name, "password": pw("alice")}
        )
        assert response.status_code == 401, name
    assert await user_named(session, "alice") is None


async def test_users_under_admin_base_become_administrators(
    session: AsyncSession, ldap_client: httpx.AsyncClient
) -> None:
    response = await ldap_client.get("/api/v1/me", auth=("dave", pw("dave")))
    assert response.status_code == 200, response.text
    assert response.json()["admin"] is True
    # Like every administrator, dave owns the registry's global namespace's team.
    dave = await user_named(session, "dave")
    assert dave is not None
    global_ns = await session.scalar(select(Namespace).where(Namespace.global_.is_(True)))
    assert global_ns is not None
    owner = await session.scalar(
        select(TeamUser).where(TeamUser.team_id == global_ns.team_id, TeamUser.user_id == dave.id)
    )
    assert owner is not None and owner.role.name == "owner"


async def test_a_later_login_promotes_a_user_now_under_admin_base(
    session: AsyncSession, ldap_client: httpx.AsyncClient
) -> None:
    """dave's account exists (e.g. from before he moved to ou=admins) and is no admin."""
    await users.create_user(
        session,
        users.NewUser(username="dave", email=None, password=None, directory=True),
        actor_id=None,
    )
    response = await ldap_client.get("/api/v1/me", auth=("dave", pw("dave")))
    assert response.json()["admin"] is True
    promoted = await session.scalar(select(Activity).where(Activity.key == "user.admin"))
    assert promoted is not None and promoted.parameters == {"ldap": "admin_base"}


async def test_the_first_person_to_log_in_becomes_administrator(
    session: AsyncSession, make_client: ClientFactory, slapd: Slapd
) -> None:
    """first_user_admin: with nobody but bots yet, the first directory login is an admin."""
    await factories.create_user(session, username="ci-bot", bot=True)
    async with make_client(ldap=ldap_config(slapd)) as client:
        first = await client.get("/api/v1/me", auth=("erin", pw("erin")))
        assert first.json()["admin"] is True
        second = await client.get("/api/v1/me", auth=("bob", pw("bob")))
        assert second.json()["admin"] is False


async def test_without_first_user_admin_the_first_login_is_no_administrator(
    session: AsyncSession, make_client: ClientFactory, slapd: Slapd
) -> None:
    async with make_client(ldap=ldap_config(slapd), first_user_admin={"enabled": False}) as c:
        first = await c.get("/api/v1/me", auth=("erin", pw("erin")))
        assert first.status_code == 200
        assert first.json()["admin"] is False


async def test_guess_email_from_an_attribute_or_from_the_dn(
    session: AsyncSession, make_client: ClientFactory, slapd: Slapd
) -> None:
    await factories.create_user(session, username="boss", admin=True)
    from_attr = ldap_config(slapd, guess_email={"enabled": True, "attr": "mail"})
    async with make_client(ldap=from_attr) as client:
        carol = await client.get("/api/v1/me", auth=("carol", pw("carol")))
        assert carol.status_code == 200, carol.text
        assert carol.json()["email"] == "carol.mail@corp.example"
    from_dn = ldap_config(slapd, guess_email={"enabled": True, "attr": ""})
    async with make_client(ldap=from_dn) as client:
        erin = await client.get("/api/v1/me", auth=("erin", pw("erin")))
        assert erin.json()["email"] == "erin@example.org"
        # The guessed address of a new user is dropped when somebody already has it.
        await factories.create_user(session, username="someone", email="bob@example.org")
        bob = await client.get("/api/v1/me", auth=("bob", pw("bob")))
        assert bob.status_code == 200
        assert bob.json()["email"] is None


async def test_local_user_creation_with_a_directory_name_is_refused(
    session: AsyncSession, digester: object, ldap_client: httpx.AsyncClient
) -> None:
    from app.core.security import TokenDigester

    assert isinstance(digester, TokenDigester)
    admin = await user_named(session, "boss")
    assert admin is not None
    headers = await token_headers(session, digester, admin)

    def body(username: str, bot: bool = False) -> dict[str, object]:
        fields: dict[str, object] = {"username": username, "email": f"{username}@local.test"}
        fields |= {"bot": True} if bot else {"password": "local password 1"}
        return {"user": fields}

    refused = await ldap_client.post("/api/v1/users", json=body("bob"), headers=headers)
    assert refused.status_code == 422, refused.text
    assert "username" in refused.json()["message"]
    assert "LDAP" in refused.json()["message"]["username"][0]
    # Admins under admin_base count too, and so do bots.
    assert (
        await ldap_client.post("/api/v1/users", json=body("dave"), headers=headers)
    ).status_code == 422
    assert (
        await ldap_client.post("/api/v1/users", json=body("carol", bot=True), headers=headers)
    ).status_code == 422
    created = await ldap_client.post("/api/v1/users", json=body("localonly"), headers=headers)
    assert created.status_code == 201, created.text
    renamed = await ldap_client.put(
        f"/api/v1/users/{created.json()['id']}",
        json={"user": {"username": "erin"}},
        headers=headers,
    )
    assert renamed.status_code == 422
    assert "username" in renamed.json()["message"]


async def test_the_bootstrap_admin_cannot_take_a_directory_name(
    session: AsyncSession, make_client: ClientFactory, slapd: Slapd
) -> None:
    """A directory user of that name could otherwise log into the local administrator."""
    await factories.create_registry(session)

    def body(username: str) -> dict[str, object]:
        return {
            "user": {
                "username": username,
                "email": f"{username}@local.test",
                "password": "local password 1",
            }
        }

    async with make_client(ldap=ldap_config(slapd)) as client:
        refused = await client.post("/api/v1/users/bootstrap", json=body("bob"))
        assert refused.status_code == 422, refused.text
        assert "LDAP" in refused.json()["message"]["username"][0]
        created = await client.post("/api/v1/users/bootstrap", json=body("localadmin"))
        assert created.status_code == 201, created.text


async def test_local_accounts_and_bots_keep_working_even_with_the_directory_down(
    session: AsyncSession, digester: object, make_client: ClientFactory, slapd: Slapd
) -> None:
    from app.core.security import TokenDigester

    assert isinstance(digester, TokenDigester)
    await factories.create_user(session, username="boss", admin=True)
    bot = await factories.create_user(session, username="ci-bot", bot=True)
    token = await factories.create_token(session, digester, bot)
    for config in (ldap_config(slapd), ldap_config(slapd, port=free_port(), timeout=1)):
        async with make_client(ldap=config) as client:
            local = await client.post(
                "/api/v1/session", json={"username": "boss", "password": PASSWORD}
            )
            assert local.status_code == 200, local.text
            assert local.json()["user"]["admin"] is True
            client.cookies.clear()
            by_token = await client.get("/api/v1/me", auth=("ci-bot", token))
            assert by_token.status_code == 200
            docker = await client.get("/v2/token", params={"service": "s"}, auth=("ci-bot", token))
            assert docker.status_code == 200
            # A bot never logs in with a password, whatever the directory says.
            bot_password = await client.get("/api/v1/me", auth=("ci-bot", PASSWORD))
            assert bot_password.status_code == 401


async def test_an_unreachable_directory_gives_a_clear_message(
    session: AsyncSession, make_client: ClientFactory, slapd: Slapd
) -> None:
    async with make_client(ldap=ldap_config(slapd, port=free_port(), timeout=1)) as client:
        response = await client.post(
            "/api/v1/session", json={"username": "alice", "password": pw("alice")}
        )
        assert response.status_code == 401
        message = response.json()["message"]
        assert "LDAP directory cannot be used" in message
        assert "127.0.0.1" in message
        token = await client.get("/v2/token", params={"service": "s"}, auth=("alice", pw("alice")))
        assert token.status_code == 401
        assert "LDAP directory cannot be used" in token.text


async def test_a_directory_outage_is_no_guess_for_the_rate_limit(
    session: AsyncSession, make_client: ClientFactory, slapd: Slapd
) -> None:
    """A whole office behind one address keeps logging in (CI retries, docker login) while the
    directory is down: those refusals are not counted, or the office would get 429s that
    outlast the outage."""
    await factories.create_user(session, username="boss", admin=True)
    config = ldap_config(slapd, port=free_port(), timeout=1)
    async with make_client(ldap=config, login_rate_limit={"attempts": 2, "window": 600}) as client:
        for _ in range(4):
            refused = await client.get("/api/v1/me", auth=("alice", pw("alice")))
            assert refused.status_code == 401
            assert "LDAP directory cannot be used" in refused.text
            token = await client.get("/v2/token", params={"service": "s"}, auth=("alice", "x"))
            assert token.status_code == 401
        local = await client.get("/api/v1/me", auth=("boss", PASSWORD))
        assert local.status_code == 200, local.text
    # Each attempt was counted before it was tried, and given back: no guess.
    assert [row.failures for row in (await session.scalars(select(LoginFailure))).all()] == [0]


async def test_anonymous_search_without_a_service_bind(
    session: AsyncSession, make_client: ClientFactory, slapd: Slapd
) -> None:
    config = ldap_config(slapd, authentication={"enabled": False, "bind_dn": "", "password": ""})
    async with make_client(ldap=config) as client:
        response = await client.get("/api/v1/me", auth=("erin", pw("erin")))
        assert response.status_code == 200, response.text
        assert (await client.get("/api/v1/me", auth=("erin", "nope"))).status_code == 401


async def test_health_checks_the_service_bind(
    session: AsyncSession, make_client: ClientFactory, slapd: Slapd, digester: TokenDigester
) -> None:
    admin = await admin_headers(session, digester)
    async with make_client(ldap=ldap_config(slapd)) as client:
        healthy = await client.get("/api/v1/health", headers=admin)
        assert healthy.json()["ldap"]["success"] is True
        assert str(slapd.port) in healthy.json()["ldap"]["msg"]
    wrong = ldap_config(slapd, authentication={"password": "not-the-service-password"})
    async with make_client(ldap=wrong) as client:
        failing = await client.get("/api/v1/health", headers=admin)
        assert failing.status_code == 503
        assert failing.json()["ldap"]["success"] is False
        assert "refused to bind" in failing.json()["ldap"]["msg"]
        # The service password is never shown.
        assert "not-the-service-password" not in failing.text
    async with make_client() as client:
        assert "ldap" not in (await client.get("/api/v1/health")).json()
