"""Log in and out of the SPA, and `/me`.

Choice (see README): an httpOnly `SameSite=Strict` cookie (`Secure` over https) holding a
server-side session, plus a CSRF token the API hands to the page, required in `X-CSRF-Token`
on every change. Sessions live in the database, so every replica knows them and logout is real.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from app.auth import credentials
from app.auth.dependencies import CurrentUser, OptionalPrincipal, Public, password_login
from app.core import metrics
from app.core.db import DbSession
from app.core.errors import Forbidden, Invalid, Unauthenticated
from app.core.names import DisplayName
from app.core.openapi import error_responses
from app.core.params import Text
from app.core.security import SESSION_MARKER, parse_token
from app.core.state import SettingsDep, State
from app.mail import notices
from app.sessions import service
from app.users.schemas import UserRead, avatars

router = APIRouter(tags=["session"])

ERRORS = error_responses(
    401, (403, "Missing or wrong X-CSRF-Token; password sign-in turned off"), 422
)


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Text = Field(min_length=1, max_length=255)
    password: Text = Field(max_length=1024)


class SessionRead(BaseModel):
    user: UserRead
    csrf_token: str | None = Field(
        description="send it back in X-CSRF-Token with every change (cookie sessions only)"
    )


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Text | None = Field(None, min_length=3, max_length=255)
    display_name: DisplayName | None = Field(None, max_length=255)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old_password: Text = Field(max_length=1024)
    new_password: Text = Field(max_length=128)


def set_session_cookie(request: Request, response: Response, value: str, max_age: int) -> None:
    response.set_cookie(
        credentials.SESSION_COOKIE,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


@router.post(
    "/session",
    dependencies=[Public],
    responses={
        **ERRORS,
        **error_responses(429, (503, "Too many password checks at once: retry after Retry-After")),
    },
)
async def log_in(
    request: Request, response: Response, body: SessionCreate, session: DbSession, state: State
) -> SessionRead:
    """Username and password (the same lockout as everywhere) open a browser session; refused
    when `oauth.local_login.enabled` is false (people sign in with a provider; the docker CLI
    keeps working with application tokens)."""
    if not state.settings.oauth.local_login.enabled:
        raise Forbidden(
            "Password sign-in is turned off here (oauth.local_login): sign in with a provider"
        )
    try:
        principal = await password_login(state, request, body.username, body.password)
    except credentials.AuthenticationFailed as exc:
        metrics.LOGIN_FAILURES.labels("api").inc()
        raise Unauthenticated(f"Authentication fails: {exc.message}") from exc
    assert principal.user_id is not None
    token = await service.open_session(session, state.digester, principal.user_id)
    set_session_cookie(request, response, token, int(service.SESSION_LIFETIME.total_seconds()))
    user = await service.me(session, principal)
    return SessionRead(
        user=UserRead.model_validate(user, context=avatars(state.settings)),
        csrf_token=state.digester.csrf_token(token),
    )


@router.get("/session", responses=ERRORS)
async def current_session(
    request: Request, session: DbSession, state: State, principal: CurrentUser
) -> SessionRead:
    """Who is logged in, and (for a cookie session) its CSRF token, e.g. after a page reload."""
    cookie = request.cookies.get(credentials.SESSION_COOKIE)
    user = await service.me(session, principal)
    return SessionRead(
        user=UserRead.model_validate(user, context=avatars(state.settings)),
        csrf_token=state.digester.csrf_token(cookie) if cookie else None,
    )


@router.delete(
    "/session", status_code=status.HTTP_204_NO_CONTENT, dependencies=[Public], responses=ERRORS
)
async def log_out(
    request: Request, response: Response, session: DbSession, principal: OptionalPrincipal
) -> None:
    """Ends the cookie's session and clears the cookie. Anybody may call it: a browser holding
    an ended session's cookie (which a page cannot clear) gets rid of it here. A live session
    still needs its `X-CSRF-Token`, as every change does."""
    cookie = request.cookies.get(credentials.SESSION_COOKIE, "")
    lookup = parse_token(cookie, SESSION_MARKER)
    if lookup is not None:
        await service.close_session(session, principal, lookup)
    set_session_cookie(request, response, "", 0)


@router.get("/me", responses=ERRORS)
async def get_me(session: DbSession, settings: SettingsDep, principal: CurrentUser) -> UserRead:
    user = await service.me(session, principal)
    return UserRead.model_validate(user, context=avatars(settings))


@router.put("/me", responses=ERRORS)
async def update_me(
    body: MeUpdate, session: DbSession, settings: SettingsDep, principal: CurrentUser
) -> UserRead:
    user = await service.update_me(
        session, principal, email=body.email, display_name=body.display_name
    )
    return UserRead.model_validate(user, context=avatars(settings))


@router.put(
    "/me/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        401, 403, 422, 429, (503, "Too many password checks at once: retry after Retry-After")
    ),
)
async def change_password(
    request: Request, body: PasswordChange, session: DbSession, state: State, principal: CurrentUser
) -> None:
    """Requires the old password, checked like a password login (a wrong one counts against
    the address and the account, and is throttled the same way); ends every session and
    identity token (log in again), and tells the user by mail."""
    # Before the request's transaction begins: the check writes in short transactions of its own.
    try:
        checked = await password_login(
            state, request, principal.username, body.old_password, local_only=True
        )
    except credentials.AuthenticationFailed as exc:
        metrics.LOGIN_FAILURES.labels("api").inc()
        raise Invalid({"old_password": ["is not your current password"]}) from exc
    if checked.user_id != principal.user_id:  # renamed meanwhile: not the same account
        raise Invalid({"old_password": ["is not your current password"]})
    user = await service.change_password(session, principal, new_password=body.new_password)
    notices.password_changed(session, state.settings, user, "self")
