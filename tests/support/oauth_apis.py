"""Local HTTP servers answering as GitHub and GitLab do (neither can be reached from these
machines), with the shapes of their documentation:

- `LocalGithub`: the OAuth app endpoints (`/login/oauth/authorize`, `/login/oauth/access_token`;
  errors as GitHub sends them, a 200 with `error`) and, under `/api/v3` (GitHub Enterprise's
  layout, which `oauth.github.server` selects), `GET /user`, `/user/emails`,
  `/user/memberships/orgs/{org}` and `/orgs/{org}/teams/{team}/memberships/{username}`.
- `LocalGitlab`: `/oauth/authorize`, `/oauth/token` (errors as 400/401 with `error`) and, under
  `/api/v4`, `GET /user` and `/groups/{group}/members/all/{id}`.

Both check PKCE S256 and use a code once. `signed_in` is who the "browser" is signed in as;
the authorize endpoint then answers with the redirect back to the app, as the real ones do once
the user has approved it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.tools import free_port


@dataclass
class GithubUser:
    login: str
    id: int
    name: str
    emails: list[dict[str, Any]]
    orgs: set[str] = field(default_factory=set)
    teams: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class GitlabUser:
    username: str
    id: int
    name: str
    email: str
    groups: set[str] = field(default_factory=set)


@dataclass
class _Grant:
    login: str
    redirect_uri: str
    challenge: str


class _LocalOAuthApp:
    """The OAuth 2 part both share; subclasses name their paths and answer their API."""

    AUTHORIZE = ""
    TOKEN = ""

    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.signed_in: str | None = None
        self.port = free_port()
        self._codes: dict[str, _Grant] = {}
        self._tokens: dict[str, str] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token_error(self, error: str, description: str) -> Response:
        return JSONResponse({"error": error, "error_description": description}, status_code=400)

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        if query.get("client_id") != self.client_id or self.signed_in is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        code = secrets.token_hex(10)
        self._codes[code] = _Grant(
            self.signed_in, query["redirect_uri"], query.get("code_challenge", "")
        )
        back = urlencode({"code": code, "state": query.get("state", "")})
        return RedirectResponse(f"{query['redirect_uri']}?{back}", status_code=302)

    async def access_token(self, request: Request) -> Response:
        form = await request.form()
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return self.token_error("invalid_client", "Client authentication failed.")
        grant = self._codes.pop(str(form.get("code")), None)
        if grant is None:
            return self.token_error(
                "bad_verification_code", "The code passed is incorrect or expired."
            )
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return self.token_error("invalid_grant", "The code verifier does not match.")
        token = secrets.token_hex(16)
        self._tokens[token] = grant.login
        return JSONResponse({"access_token": token, "token_type": "bearer", "scope": "read"})

    def _login(self, request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return self._tokens.get(auth.removeprefix("Bearer ").removeprefix("token "))

    def api_routes(self) -> list[Route]:
        raise NotImplementedError

    def start(self) -> None:
        app = Starlette(
            routes=[
                Route(self.AUTHORIZE, self.authorize),
                Route(self.TOKEN, self.access_token, methods=["POST"]),
                *self.api_routes(),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self._server = None


def _unauthenticated() -> Response:
    return JSONResponse({"message": "Requires authentication"}, status_code=401)


def _not_found() -> Response:
    return JSONResponse({"message": "Not Found"}, status_code=404)


class LocalGithub(_LocalOAuthApp):
    AUTHORIZE = "/login/oauth/authorize"
    TOKEN = "/login/oauth/access_token"

    def __init__(self, client_id: str, client_secret: str, users: list[GithubUser]) -> None:
        super().__init__(client_id, client_secret)
        self.users = {user.login: user for user in users}

    def token_error(self, error: str, description: str) -> Response:
        return JSONResponse({"error": error, "error_description": description})  # a 200

    def _user(self, request: Request) -> GithubUser | None:
        login = self._login(request)
        return self.users.get(login) if login else None

    async def user(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return _unauthenticated()
        return JSONResponse(
            {"login": user.login, "id": user.id, "name": user.name, "email": None, "type": "User"}
        )

    async def emails(self, request: Request) -> Response:
        user = self._user(request)
        return _unauthenticated() if user is None else JSONResponse(user.emails)

    async def org_membership(self, request: Request) -> Response:
        user = self._user(request)
        org = request.path_params["org"]
        if user is None or org not in user.orgs:
            return _not_found()
        return JSONResponse({"state": "active", "role": "member", "organization": {"login": org}})

    async def team_membership(self, request: Request) -> Response:
        key = (request.path_params["org"], request.path_params["team"])
        member = self.users.get(request.path_params["username"])
        if self._user(request) is None or member is None or key not in member.teams:
            return _not_found()
        return JSONResponse({"state": "active", "role": "member"})

    def api_routes(self) -> list[Route]:
        return [
            Route("/api/v3/user", self.user),
            Route("/api/v3/user/emails", self.emails),
            Route("/api/v3/user/memberships/orgs/{org}", self.org_membership),
            Route("/api/v3/orgs/{org}/teams/{team}/memberships/{username}", self.team_membership),
        ]


class LocalGitlab(_LocalOAuthApp):
    AUTHORIZE = "/oauth/authorize"
    TOKEN = "/oauth/token"

    def __init__(self, client_id: str, client_secret: str, users: list[GitlabUser]) -> None:
        super().__init__(client_id, client_secret)
        self.users = {user.username: user for user in users}

    def _user(self, request: Request) -> GitlabUser | None:
        login = self._login(request)
        return self.users.get(login) if login else None

    async def user(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return JSONResponse({"message": "401 Unauthorized"}, status_code=401)
        return JSONResponse(
            {
                "id": user.id,
                "username": user.username,
                "name": user.name,
                "email": user.email,
                "state": "active",
            }
        )

    async def group_member(self, request: Request) -> Response:
        member_id = int(request.path_params["user_id"])
        member = next((u for u in self.users.values() if u.id == member_id), None)
        group = request.path_params["group"]
        if self._user(request) is None or member is None or group not in member.groups:
            return JSONResponse({"message": "404 Not found"}, status_code=404)
        return JSONResponse(
            {"id": member.id, "username": member.username, "access_level": 30, "state": "active"}
        )

    def api_routes(self) -> list[Route]:
        return [
            Route("/api/v4/user", self.user),
            # GitLab takes a group path URL-encoded ("acme%2Fplatform"), which arrives decoded.
            Route("/api/v4/groups/{group:path}/members/all/{user_id}", self.group_member),
        ]
