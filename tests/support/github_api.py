"""A local HTTP server answering as GitHub does (github.com can't be reached from these
machines): the OAuth app endpoints (`/login/oauth/authorize`, `/login/oauth/access_token`, with
PKCE S256 and single-use codes; errors as GitHub sends them, a 200 with `error`) and the REST
API's `GET /user`, `/user/emails`, `/user/memberships/orgs/{org}` and
`/orgs/{org}/teams/{team}/memberships/{username}` under `/api/v3` (GitHub Enterprise's layout,
which `oauth.github.server` selects). Shapes from GitHub's REST API documentation.

`signed_in` is who the "browser" is signed in to GitHub as; `authorize` then answers with the
redirect back to the app, as GitHub does once the user has approved it.
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
class _Grant:
    login: str
    redirect_uri: str
    challenge: str


class LocalGithub:
    def __init__(self, client_id: str, client_secret: str, users: list[GithubUser]) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.users = {user.login: user for user in users}
        self.signed_in: str | None = None
        self.port = free_port()
        self._codes: dict[str, _Grant] = {}
        self._tokens: dict[str, str] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- OAuth app --------------------------------------------------------------------------
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
            return JSONResponse({"error": "incorrect_client_credentials"})
        grant = self._codes.pop(str(form.get("code")), None)
        if grant is None:
            return JSONResponse(
                {
                    "error": "bad_verification_code",
                    "error_description": "The code passed is incorrect or expired.",
                }
            )
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return JSONResponse({"error": "invalid_grant", "error_description": "bad verifier"})
        token = "gho_" + secrets.token_hex(16)
        self._tokens[token] = grant.login
        return JSONResponse({"access_token": token, "token_type": "bearer", "scope": "read:user"})

    # --- REST API ---------------------------------------------------------------------------
    def _user(self, request: Request) -> GithubUser | None:
        auth = request.headers.get("authorization", "")
        login = self._tokens.get(auth.removeprefix("Bearer ").removeprefix("token "))
        return self.users.get(login) if login else None

    async def user(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        return JSONResponse(
            {"login": user.login, "id": user.id, "name": user.name, "email": None, "type": "User"}
        )

    async def emails(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        return JSONResponse(user.emails)

    async def org_membership(self, request: Request) -> Response:
        user = self._user(request)
        org = request.path_params["org"]
        if user is None or org not in user.orgs:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse({"state": "active", "role": "member", "organization": {"login": org}})

    async def team_membership(self, request: Request) -> Response:
        user = self._user(request)
        key = (request.path_params["org"], request.path_params["team"])
        member = self.users.get(request.path_params["username"])
        if user is None or member is None or key not in member.teams:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse({"state": "active", "role": "member"})

    # --- the server -------------------------------------------------------------------------
    def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/login/oauth/authorize", self.authorize),
                Route("/login/oauth/access_token", self.access_token, methods=["POST"]),
                Route("/api/v3/user", self.user),
                Route("/api/v3/user/emails", self.emails),
                Route("/api/v3/user/memberships/orgs/{org}", self.org_membership),
                Route(
                    "/api/v3/orgs/{org}/teams/{team}/memberships/{username}",
                    self.team_membership,
                ),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the local GitHub did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self._server = None
