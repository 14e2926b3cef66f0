"""Sign-in with OpenID Connect / OAuth providers, for the SPA (Portus's `oauth.*`).

The browser navigates to `start` and comes back to `callback`; both answer with redirects, and a
failure goes to the SPA's sign-in page with the reason in `?oauth_error=`. A first sign-in whose
username cannot be ours goes to `/oauth/username?token=…`, where the SPA asks for one
(`GET`/`POST /oauth/signup`).
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from app.auth.dependencies import Public
from app.core.db import DbSession
from app.core.errors import NotFound
from app.core.names import DisplayName
from app.core.openapi import error_responses
from app.core.params import Text
from app.core.state import State
from app.oauth import service
from app.oauth.providers import OpenIdConnect
from app.oauth.types import ProviderFailed
from app.sessions.endpoints import SessionRead, set_session_cookie
from app.sessions.service import SESSION_LIFETIME
from app.users.schemas import UserRead, avatars

router = APIRouter(tags=["session"])

BROWSER_COOKIE = "portus_oauth"
# Discovery documents and key sets are cached here for the process.
OIDC = OpenIdConnect()


# The authorization errors (RFC 6749 §4.1.2.1, OpenID Connect Core §3.1.2.6) a person can act on.
PROVIDER_ERRORS = {
    "access_denied": "the sign-in was cancelled or refused at the provider",
    "login_required": "the provider needs you to sign in there first",
    "consent_required": "the provider needs your consent first",
    "interaction_required": "the provider needs you to finish something there first",
    "temporarily_unavailable": "the sign-in provider is unavailable for now: try again later",
    "server_error": "the sign-in provider had an error: try again later",
}


def _redirect(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _failed(message: str) -> RedirectResponse:
    return _redirect("/sign_in?" + urlencode({"oauth_error": message}))


@router.get(
    "/oauth/{provider}/start",
    dependencies=[Public],
    response_class=RedirectResponse,
    status_code=303,
    responses={303: {"description": "to the provider"}, **error_responses(404, 422)},
)
async def start(
    request: Request,
    provider: str,
    state: State,
    return_to: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response:
    """Goes to the provider's sign-in page; it sends the browser back to `callback`. (A GET
    that writes: the sign-in's row, in a transaction of its own.)"""
    browser = secrets.token_urlsafe(32)
    try:
        url = await service.begin(
            state.sessionmaker, state.settings, state.digester, OIDC, provider, return_to, browser
        )
    except ProviderFailed as exc:
        return _failed(str(exc))
    response = _redirect(url)
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        max_age=int(service.LOGIN_LIFETIME.total_seconds()),
        httponly=True,
        # Lax: the provider's redirect back is a cross-site top-level GET.
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/api/v1/oauth",
    )
    return response


@router.get(
    "/oauth/{provider}/callback",
    dependencies=[Public],
    response_class=RedirectResponse,
    status_code=303,
    responses={303: {"description": "to the SPA"}, **error_responses(404, 422)},
)
async def callback(
    request: Request,
    provider: str,
    state: State,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    oauth_state: Annotated[str | None, Query(alias="state", max_length=128)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response:
    """Where the provider sends the browser back (the redirect URI to register with it:
    `<public_url>/api/v1/oauth/<provider>/callback`)."""
    if error is not None:
        # Its description is not shown: anybody can make such a link to put text on our page.
        return _failed(PROVIDER_ERRORS.get(error, "the sign-in provider refused the sign-in"))
    if not code or not oauth_state:
        return _failed("the sign-in provider sent no code")
    try:
        outcome = await service.complete(
            state.sessionmaker,
            state.settings,
            state.digester,
            state.ldap,
            OIDC,
            provider,
            code,
            oauth_state,
            request.cookies.get(BROWSER_COOKIE),
        )
    except (ProviderFailed, NotFound) as exc:  # NotFound: the provider was disabled meanwhile
        return _failed(str(exc) if isinstance(exc, ProviderFailed) else exc.message)
    if isinstance(outcome, service.UsernameWanted):
        response = _redirect("/oauth/username?" + urlencode({"token": outcome.signup_token}))
    else:
        response = _redirect(outcome.return_to)
        set_session_cookie(
            request, response, outcome.session_token, int(SESSION_LIFETIME.total_seconds())
        )
    response.delete_cookie(BROWSER_COOKIE, path="/api/v1/oauth")
    return response


class SignupRead(BaseModel):
    provider: str
    email: str | None
    suggested_username: str
    return_to: str = Field(description="where the sign-in was going: a path of this site")


class SignupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Text = Field(min_length=1, max_length=256)
    username: DisplayName = Field(min_length=1, max_length=255)


@router.get("/oauth/signup", dependencies=[Public], responses=error_responses(404, 422))
async def get_signup(
    session: DbSession, state: State, token: Annotated[str, Query(max_length=256)]
) -> SignupRead:
    """A first sign-in waiting for its username: what the provider said."""
    signup = await service.pending_signup(session, state.digester, token)
    return SignupRead(
        provider=signup.provider,
        email=signup.email,
        suggested_username=signup.suggested_username,
        return_to=signup.return_to,
    )


@router.post(
    "/oauth/signup", dependencies=[Public], status_code=201, responses=error_responses(404, 422)
)
async def create_signup(
    request: Request, response: Response, body: SignupCreate, session: DbSession, state: State
) -> SessionRead:
    """The account of a waiting first sign-in, under the chosen username; signs in."""
    user, token, _ = await service.choose_username(
        session, state.settings, state.digester, state.ldap, body.token, body.username
    )
    set_session_cookie(request, response, token, int(SESSION_LIFETIME.total_seconds()))
    return SessionRead(
        user=UserRead.model_validate(user, context=avatars(state.settings)),
        csrf_token=state.digester.csrf_token(token),
    )
