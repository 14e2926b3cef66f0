from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Activity, ApplicationToken, Namespace, TeamUser, User
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import admin_headers, portus_auth, token_headers

BOOTSTRAP = {"user": {"username": "admin", "email": "admin@example.com", "password": "password1"}}


class TestBootstrap:
    async def test_creates_the_first_admin_and_a_token(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/api/v1/users/bootstrap", json=BOOTSTRAP)
        assert response.status_code == 201
        body = response.json()
        assert body["application"] == "bootstrap"
        admin = await session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None and admin.admin
        # The token works on the API at once.
        me = await client.get("/api/v1/users", headers=portus_auth("admin", body["plain_token"]))
        assert me.status_code == 200
        assert [u["username"] for u in me.json()] == ["admin"]

    async def test_second_call_is_refused(self, client: httpx.AsyncClient) -> None:
        assert (await client.post("/api/v1/users/bootstrap", json=BOOTSTRAP)).status_code == 201
        other = {"user": {"username": "eve", "email": "eve@example.com", "password": "password1"}}
        response = await client.post("/api/v1/users/bootstrap", json=other)
        assert response.status_code == 400
        assert "only be bootstrapped once" in response.json()["message"]

    async def test_disabled_by_config(self, make_client: ClientFactory) -> None:
        async with make_client(first_user_admin={"enabled": False}) as client:
            response = await client.post("/api/v1/users/bootstrap", json=BOOTSTRAP)
        assert response.status_code == 405
        assert "first_user_admin" in response.json()["message"]

    @pytest.mark.parametrize(
        ("user", "field", "status"),
        [
            ({"username": "admin", "email": "nope", "password": "password1"}, "email", 422),
            ({"username": "admin", "email": "a@example.com", "password": "short"}, "password", 422),
            ({"username": "-bad", "email": "a@example.com", "password": "x" * 9}, "username", 422),
            (
                {"username": "portus", "email": "a@example.com", "password": "x" * 9},
                "username",
                422,
            ),
            ({"email": "a@example.com", "password": "password1"}, "user[username]", 400),  # missing
        ],
    )
    async def test_invalid_fields_are_named(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        user: dict[str, str],
        field: str,
        status: int,
    ) -> None:
        response = await client.post("/api/v1/users/bootstrap", json={"user": user})
        assert response.status_code == status
        assert field in response.json()["message"]
        assert await session.scalar(select(func.count(User.id))) == 0

    async def test_broken_json_is_a_400_not_a_500(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/users/bootstrap",
            content=b"{broken",
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert "malformed JSON" in response.json()["message"]


class TestUsers:
    async def test_anonymous_is_401_and_plain_user_403(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        assert (await client.get("/api/v1/users")).status_code == 401
        alice = await factories.create_user(session, username="alice")
        headers = await token_headers(session, digester, alice)
        response = await client.get("/api/v1/users", headers=headers)
        assert response.status_code == 403
        assert response.json()["message"].startswith("Authorization fails")

    async def test_bad_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/users", headers=portus_auth("root", "pat_x"))
        assert response.status_code == 401
        bearer = await client.get("/api/v1/users", headers={"Authorization": "Bearer nope"})
        assert bearer.status_code == 401

    async def test_bearer_application_token(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        admin = await factories.create_user(session, username="root", admin=True)
        secret = await factories.create_token(session, digester, admin)
        response = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 200

    async def test_create_user_gets_a_personal_namespace(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "root")
        body = {
            "user": {"username": "Bob.Smith", "email": "bob@example.com", "password": "password1"}
        }
        response = await client.post("/api/v1/users", json=body, headers=headers)
        assert response.status_code == 201
        created = response.json()
        namespace = await session.get(Namespace, created["namespace_id"])
        assert namespace is not None and namespace.name == "bob.smith"
        owner = await session.scalar(select(TeamUser).where(TeamUser.team_id == namespace.team_id))
        assert owner is not None and owner.user_id == created["id"]

    async def test_duplicate_username_is_422(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        body = {"user": {"username": "root", "email": "x@example.com", "password": "password1"}}
        response = await client.post("/api/v1/users", json=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["message"] == {"username": ["has already been taken"]}

    async def test_bot_gets_its_first_token_and_no_namespace(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "root")
        body = {"user": {"username": "ci-bot", "email": "ci@example.com", "bot": True}}
        response = await client.post("/api/v1/users", json=body, headers=headers)
        assert response.status_code == 201
        created = response.json()
        assert created["bot"] is True and created["namespace_id"] is None
        assert created["application_token"]["application"] == "default"
        assert created["application_token"]["plain_token"].startswith("pat_")

    async def test_show_by_id_or_email(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        alice = await factories.create_user(session, username="alice", email="al@example.com")
        by_id = await client.get(f"/api/v1/users/{alice.id}", headers=headers)
        by_email = await client.get("/api/v1/users/al@example.com", headers=headers)
        assert by_id.json()["username"] == by_email.json()["username"] == "alice"
        assert (await client.get("/api/v1/users/999999", headers=headers)).status_code == 404

    async def test_pagination_headers(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        for _ in range(4):
            await factories.create_user(session)
        response = await client.get("/api/v1/users?page=2&per_page=2", headers=headers)
        assert response.status_code == 200
        assert len(response.json()) == 2
        assert response.headers["X-Total"] == "5"
        assert response.headers["X-Total-Pages"] == "3"
        assert response.headers["X-Page"] == "2"
        assert response.headers["X-Per-Page"] == "2"
        assert response.headers["X-Next-Page"] == "3"
        assert response.headers["X-Prev-Page"] == "1"
        assert 'rel="next"' in response.headers["Link"]
        bad = await client.get("/api/v1/users?per_page=0", headers=headers)
        assert bad.status_code == 422 and "per_page" in bad.json()["message"]


class TestApplicationTokens:
    async def test_owner_creates_lists_and_deletes(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        headers = await token_headers(session, digester, alice, "first")
        created = await client.post(
            f"/api/v1/users/{alice.id}/application_tokens",
            json={"application": "laptop"},
            headers=headers,
        )
        assert created.status_code == 201
        token = created.json()
        stored = await session.get(ApplicationToken, token["id"])
        assert stored is not None and token["plain_token"] not in stored.token_digest
        listed = await client.get(f"/api/v1/users/{alice.id}/application_tokens", headers=headers)
        assert [t["application"] for t in listed.json()] == ["first", "laptop"]
        assert "plain_token" not in listed.json()[0]
        deleted = await client.delete(
            f"/api/v1/users/application_tokens/{token['id']}", headers=headers
        )
        assert deleted.status_code == 204

    async def test_others_cannot_list_create_or_delete(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        bob = await factories.create_user(session, username="bob")
        await factories.create_token(session, digester, alice, "a")
        bob_headers = await token_headers(session, digester, bob)
        alice_token = await session.scalar(
            select(ApplicationToken).where(ApplicationToken.user_id == alice.id)
        )
        assert alice_token is not None
        base = f"/api/v1/users/{alice.id}/application_tokens"
        assert (await client.get(base, headers=bob_headers)).status_code == 403
        create = await client.post(base, json={"application": "x"}, headers=bob_headers)
        assert create.status_code == 403
        delete = await client.delete(
            f"/api/v1/users/application_tokens/{alice_token.id}", headers=bob_headers
        )
        assert delete.status_code == 403

    async def test_admin_manages_anybodys_tokens(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        bot = await factories.create_user(session, username="bot1", bot=True)
        response = await client.post(
            f"/api/v1/users/{bot.id}/application_tokens",
            json={"application": "ci"},
            headers=headers,
        )
        assert response.status_code == 201

    async def test_at_most_five_tokens_and_unique_names(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        headers = await token_headers(session, digester, alice, "t0")
        base = f"/api/v1/users/{alice.id}/application_tokens"
        duplicate = await client.post(base, json={"application": "t0"}, headers=headers)
        assert duplicate.status_code == 422
        assert duplicate.json()["message"] == {"application": ["has already been taken"]}
        for n in range(1, 5):
            ok = await client.post(base, json={"application": f"t{n}"}, headers=headers)
            assert ok.status_code == 201
        sixth = await client.post(base, json={"application": "t5"}, headers=headers)
        assert sixth.status_code == 422
        assert "more than 5" in sixth.json()["message"]["application"][0]


class TestAdministration:
    async def test_update_user_and_password_revokes_identity_tokens(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        alice = await factories.create_user(session, username="alice")
        login = await client.get(
            "/v2/token",
            params={"service": "s", "offline_token": "true"},
            auth=("alice", factories.PASSWORD),
        )
        refresh = login.json()["refresh_token"]
        updated = await client.put(
            f"/api/v1/users/{alice.id}",
            json={"user": {"email": "new@example.com", "password": "a new password"}},
            headers=headers,
        )
        assert updated.status_code == 200
        assert updated.json()["email"] == "new@example.com"
        old = await client.get(
            "/v2/token", params={"service": "s"}, auth=("alice", factories.PASSWORD)
        )
        assert old.status_code == 401
        again = await client.post(
            "/v2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh, "service": "s"},
        )
        assert again.status_code == 401
        taken = await client.put(
            f"/api/v1/users/{alice.id}", json={"user": {"username": "ROOT"}}, headers=headers
        )
        assert taken.status_code == 422

    async def test_enable_disable(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        alice = await factories.create_user(session, username="alice")
        alice_headers = await token_headers(session, digester, alice)
        bob = await factories.create_user(session, username="bob")
        # users cannot disable others, but may disable themselves
        refused = await client.put(
            f"/api/v1/users/{bob.id}/enabled", json={"enabled": False}, headers=alice_headers
        )
        assert refused.status_code == 403
        off = await client.put(
            f"/api/v1/users/{alice.id}/enabled", json={"enabled": False}, headers=alice_headers
        )
        assert off.json()["enabled"] is False
        assert (await client.get("/api/v1/teams", headers=alice_headers)).status_code == 401
        on = await client.put(
            f"/api/v1/users/{alice.id}/enabled", json={"enabled": True}, headers=headers
        )
        assert on.json()["enabled"] is True
        root = await session.scalar(select(User).where(User.username == "root"))
        assert root is not None
        last_admin = await client.put(
            f"/api/v1/users/{root.id}/enabled", json={"enabled": False}, headers=headers
        )
        assert last_admin.status_code == 422

    async def test_disable_revokes_sessions_and_identity_tokens_for_good(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        make_client: ClientFactory,
        digester: TokenDigester,
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        alice = await factories.create_user(session, username="alice")
        app_token = await factories.create_token(session, digester, alice)
        docker = await client.get(
            "/v2/token",
            params={"service": "s", "offline_token": "true"},
            auth=("alice", factories.PASSWORD),
        )
        refresh = docker.json()["refresh_token"]
        from_app_token = await client.get(
            "/v2/token", params={"service": "s", "offline_token": "true"}, auth=("alice", app_token)
        )
        app_refresh = from_app_token.json()["refresh_token"]

        async def refresh_status(token: str) -> int:
            answer = await client.post(
                "/v2/token",
                data={"grant_type": "refresh_token", "refresh_token": token, "service": "s"},
            )
            return answer.status_code

        async with make_client() as browser:
            login = await browser.post(
                "/api/v1/session", json={"username": "alice", "password": factories.PASSWORD}
            )
            assert login.status_code == 200
            assert (await browser.get("/api/v1/me")).status_code == 200
            assert await refresh_status(refresh) == 200
            for enabled in (False, True):
                toggled = await client.put(
                    f"/api/v1/users/{alice.id}/enabled", json={"enabled": enabled}, headers=headers
                )
                assert toggled.status_code == 200
            # back on: the session and both identity tokens stay dead...
            assert (await browser.get("/api/v1/me")).status_code == 401
        assert await refresh_status(refresh) == 401
        assert await refresh_status(app_refresh) == 401
        # ...the application token works again (suspended only, as in Portus)...
        api = await client.get("/api/v1/teams", headers=portus_auth("alice", app_token))
        assert api.status_code == 200
        # ...and so does the password, for a new session and identity token.
        relogin = await client.get(
            "/v2/token",
            params={"service": "s", "offline_token": "true"},
            auth=("alice", factories.PASSWORD),
        )
        assert await refresh_status(relogin.json()["refresh_token"]) == 200

    async def test_a_token_stored_while_disabled_dies_when_enabled(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        """A login that read the account as enabled just before the disable can store its
        identity token after the disable's delete: enabling must not bring that one to life."""
        headers = await admin_headers(session, digester, "root")
        alice = await factories.create_user(session, username="alice")
        docker = await client.get(
            "/v2/token",
            params={"service": "s", "offline_token": "true"},
            auth=("alice", factories.PASSWORD),
        )
        # the racing login's token: present while the account is disabled
        await session.execute(update(User).where(User.id == alice.id).values(enabled=False))
        on = await client.put(
            f"/api/v1/users/{alice.id}/enabled", json={"enabled": True}, headers=headers
        )
        assert on.status_code == 200
        refreshed = await client.post(
            "/v2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": docker.json()["refresh_token"],
                "service": "s",
            },
        )
        assert refreshed.status_code == 401

    async def test_enabling_an_enabled_user_keeps_their_sessions(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        alice = await factories.create_user(session, username="alice")
        docker = await client.get(
            "/v2/token",
            params={"service": "s", "offline_token": "true"},
            auth=("alice", factories.PASSWORD),
        )
        again = await client.put(
            f"/api/v1/users/{alice.id}/enabled", json={"enabled": True}, headers=headers
        )
        assert again.status_code == 200
        refreshed = await client.post(
            "/v2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": docker.json()["refresh_token"],
                "service": "s",
            },
        )
        assert refreshed.status_code == 200

    async def test_toggle_admin_joins_the_global_team(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        registry = await factories.create_registry(session)
        headers = await admin_headers(session, digester, "root")
        alice = await factories.create_user(session, username="alice")
        made = await client.put(
            f"/api/v1/users/{alice.id}/admin", json={"admin": True}, headers=headers
        )
        assert made.json()["admin"] is True
        global_ns = await session.scalar(
            select(Namespace).where(Namespace.registry_id == registry.id, Namespace.global_)
        )
        assert global_ns is not None
        member = await session.scalar(
            select(TeamUser).where(
                TeamUser.team_id == global_ns.team_id, TeamUser.user_id == alice.id
            )
        )
        assert member is not None
        root = await session.scalar(select(User).where(User.username == "root"))
        assert root is not None
        own = await client.put(
            f"/api/v1/users/{root.id}/admin", json={"admin": False}, headers=headers
        )
        assert own.status_code == 403
        undone = await client.put(
            f"/api/v1/users/{alice.id}/admin", json={"admin": False}, headers=headers
        )
        assert undone.json()["admin"] is False

    async def test_delete_keeps_activities_and_tags(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        alice = await factories.create_user(session, username="alice")
        deleted = await client.delete(f"/api/v1/users/{alice.id}", headers=headers)
        assert deleted.status_code == 204
        assert (await client.get(f"/api/v1/users/{alice.id}", headers=headers)).status_code == 404
        trail = await session.scalar(
            select(Activity).where(Activity.key == "user.delete").order_by(Activity.id.desc())
        )
        assert trail is not None
        assert trail.parameters == {"username": "alice"}
        root = await session.scalar(select(User).where(User.username == "root"))
        assert root is not None
        self_delete = await client.delete(f"/api/v1/users/{root.id}", headers=headers)
        assert self_delete.status_code == 403

    async def test_a_deleted_users_id_is_never_given_to_another(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        """SQLite without AUTOINCREMENT numbered the next user like the deleted newest one, and
        the activities that kept the old id then read as the new user's."""
        headers = await admin_headers(session, digester, "root")
        alice = await factories.create_user(session, username="alice")
        deleted = await client.delete(f"/api/v1/users/{alice.id}", headers=headers)
        assert deleted.status_code == 204
        created = await client.post(
            "/api/v1/users",
            json={
                "user": {"username": "mallory", "email": "m@example.com", "password": "p4ssw0rd!"}
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        assert created.json()["id"] > alice.id


async def test_sorting(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await admin_headers(session, digester, "root")
    for name in ("bravo", "alpha", "charlie"):
        await factories.create_user(session, username=name)
    asc = await client.get("/api/v1/users?all=true&sort_attr=username", headers=headers)
    names = [u["username"] for u in asc.json()]
    assert names == sorted(names)
    desc = await client.get(
        "/api/v1/users?all=true&sort_attr=username&sort_order=desc", headers=headers
    )
    assert [u["username"] for u in desc.json()] == sorted(names, reverse=True)
    bad = await client.get("/api/v1/users?sort_attr=encrypted_password", headers=headers)
    assert bad.status_code == 422
    assert "sort_attr" in bad.json()["message"]
    teams = await client.get("/api/v1/teams?sort_attr=name&sort_order=desc", headers=headers)
    assert teams.status_code == 200
