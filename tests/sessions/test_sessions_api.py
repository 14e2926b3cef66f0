from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Repository, Visibility
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD


async def log_in(client: httpx.AsyncClient, username: str = "alice") -> str:
    response = await client.post(
        "/api/v1/session", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    token: str = response.json()["csrf_token"]
    return token


async def test_login_me_and_logout(session: AsyncSession, client: httpx.AsyncClient) -> None:
    await factories.create_user(session, username="alice")
    wrong = await client.post("/api/v1/session", json={"username": "alice", "password": "x"})
    assert wrong.status_code == 401
    csrf = await log_in(client)
    me = await client.get("/api/v1/me")
    assert me.json()["username"] == "alice"
    again = await client.get("/api/v1/session")
    assert again.json()["csrf_token"] == csrf
    out = await client.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    client.cookies.clear()
    assert (await client.get("/api/v1/me")).status_code == 401


async def test_a_cross_site_request_cannot_act(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    """The browser sends the cookie with a forged request, but the page that forged it cannot
    know the CSRF token: every change is refused."""
    await factories.create_user(session, username="alice")
    csrf = await log_in(client)
    body = {"email": "attacker@example.com"}
    forged = await client.put("/api/v1/me", json=body)
    assert forged.status_code == 403
    assert "X-CSRF-Token" in forged.json()["message"]
    guessed = await client.put("/api/v1/me", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert guessed.status_code == 403
    team = await client.post("/api/v1/teams", json={"name": "evil"})
    assert team.status_code == 403
    assert (await client.get("/api/v1/me")).json()["email"] != "attacker@example.com"
    legit = await client.put(
        "/api/v1/me", json={"email": "alice2@example.com"}, headers={"X-CSRF-Token": csrf}
    )
    assert legit.status_code == 200
    assert legit.json()["email"] == "alice2@example.com"


async def test_password_change_ends_sessions_and_identity_tokens(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, username="alice")
    docker = await client.get(
        "/v2/token",
        params={"service": "s", "offline_token": "true"},
        auth=("alice", PASSWORD),
    )
    refresh = docker.json()["refresh_token"]
    csrf = await log_in(client)
    wrong_old = await client.put(
        "/api/v1/me/password",
        json={"old_password": "nope", "new_password": "another password"},
        headers={"X-CSRF-Token": csrf},
    )
    assert wrong_old.status_code == 422
    changed = await client.put(
        "/api/v1/me/password",
        json={"old_password": PASSWORD, "new_password": "another password"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204
    assert (await client.get("/api/v1/me")).status_code == 401
    refreshed = await client.post(
        "/v2/token", data={"grant_type": "refresh_token", "refresh_token": refresh, "service": "s"}
    )
    assert refreshed.status_code == 401


async def test_an_ended_session_is_an_anonymous_visitor_until_logout_clears_it(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    """A browser keeps the httpOnly cookie of an ended session (the page cannot clear it): it
    is not refused everywhere, it browses as anyone may, and `DELETE /session` clears it."""
    await factories.create_user(session, username="alice")
    csrf = await log_in(client)
    changed = await client.put(
        "/api/v1/me/password",
        json={"old_password": PASSWORD, "new_password": "another password"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204  # every session of alice has ended
    # Anonymous browsing (on by default) of a public namespace's repository: the ended
    # session's cookie is no reason to refuse it.
    registry = await factories.create_registry(session)
    namespace = await factories.create_namespace(session, registry, visibility=Visibility.public)
    repository = Repository(name="open", namespace_id=namespace.id)
    session.add(repository)
    await session.flush()
    browsed = await client.get(f"/api/v1/repositories/{repository.id}")
    assert browsed.status_code == 200, browsed.text
    assert (await client.get("/api/v1/me")).status_code == 401
    signed_in_again = await client.post(
        "/api/v1/session", json={"username": "alice", "password": "another password"}
    )
    assert signed_in_again.status_code == 200
    client.cookies.set("portus_session", "pss_aaaaaaaaaaaaaaaa_" + "x" * 40)
    out = await client.delete("/api/v1/session")  # an unknown session's cookie: no CSRF token
    assert out.status_code == 204
    assert "max-age=0" in out.headers["set-cookie"].lower()


async def test_logging_out_ends_only_the_callers_own_session(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    """Authenticated by a token, a user who sends another user's session lookup in a cookie
    does not end that session."""
    await factories.create_user(session, username="alice")
    await factories.create_user(session, username="mallory")
    await log_in(client, "alice")
    alice_cookie = client.cookies.get("portus_session")
    assert alice_cookie is not None
    client.cookies.clear()
    lookup = alice_cookie.split("_")[1]
    client.cookies.set("portus_session", f"pss_{lookup}_{'y' * 40}")
    out = await client.delete("/api/v1/session", auth=("mallory", PASSWORD))
    assert out.status_code == 204
    client.cookies.clear()
    client.cookies.set("portus_session", alice_cookie)
    assert (await client.get("/api/v1/me")).json()["username"] == "alice"
