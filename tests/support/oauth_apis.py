"""Local HTTP servers answering as GitHub, GitLab, Bitbucket and Google do (none can be reached
from these machines), with the shapes of their documentation:

- `LocalGithub`: the OAuth app endpoints (`/login/oauth/authorize`, `/login/oauth/access_token`;
  errors as GitHub sends them, a 200 with `error`) and, under `/api/v3` (GitHub Enterprise's
  layout, which `oauth.github.server` selects), `GET /user`, `/user/emails`,
  `/user/memberships/orgs/{org}` and `/orgs/{org}/teams/{team}/memberships/{username}`.
- `LocalGitlab`: `/oauth/authorize`, `/oauth/token` (errors as 400/401 with `error`) and, under
  `/api/v4`, `GET /user` and `/groups/{group}/members/all/{id}`.
- `LocalBitbucket` and `LocalGoogle`: see their classes.

All check PKCE S256 and use a code once. `signed_in` is who the "browser" is signed in as;
the authorize endpoint then answers with the redirect back to the app, as the real ones do once
the user has approved it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
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
    confirmed: bool = True  # the address (GitLab's confirmed_at)


@dataclass
class BitbucketUser:
    uuid: str
    nickname: str
    display_name: str
    emails: list[dict[str, Any]]
    username: str | None = None  # Bitbucket leaves it out of many answers now
    workspaces: set[str] = field(default_factory=set)


@dataclass
class GoogleUser:
    sub: str
    email: str
    name: str
    email_verified: bool = True
    hd: str | None = None  # a Google Workspace account's domain


@dataclass
class _Grant:
    login: str
    redirect_uri: str
    challenge: str
    nonce: str = ""


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
        self.last_authorize_query: dict[str, str] = {}
        # An answer of the token endpoint in place of the token (a provider gone wrong).
        self.broken_token_answer: Response | None = None
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
            self.signed_in,
            query["redirect_uri"],
            query.get("code_challenge", ""),
            query.get("nonce", ""),
        )
        self.last_authorize_query = dict(query)
        back = urlencode({"code": code, "state": query.get("state", "")})
        return RedirectResponse(f"{query['redirect_uri']}?{back}", status_code=302)

    async def access_token(self, request: Request) -> Response:
        if self.broken_token_answer is not None:
            return self.broken_token_answer
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
        answer = {"access_token": token, "token_type": "bearer", "scope": "read"}
        return JSONResponse({**answer, **self.token_extras(grant)})

    async def sign_in(self, portus: httpx.AsyncClient, provider: str, who: str) -> httpx.Response:
        """A browser's round trip as `who`: Portus's start, this server's authorization (what
        it was asked is kept in `last_authorize_query`), and Portus's callback, whose answer is
        returned."""
        self.signed_in = who
        started = await portus.get(f"/api/v1/oauth/{provider}/start")
        assert started.status_code == 303, started.text
        authorize = started.headers["location"]
        assert authorize.startswith(f"{self.url}{self.AUTHORIZE}?"), authorize
        with httpx.Client(trust_env=False) as browser:
            approved = browser.get(authorize)
        assert approved.status_code == 302, approved.text
        back = urlsplit(approved.headers["location"])
        assert back.path == f"/api/v1/oauth/{provider}/callback"
        return await portus.get(f"{back.path}?{back.query}")

    def token_extras(self, grant: _Grant) -> dict[str, Any]:
        """More of the token endpoint's answer (an OpenID Connect provider's ID token)."""
        return {}

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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def oauth_error(response: httpx.Response) -> str:
    """Why Portus sent the browser back to its sign-in page."""
    assert response.status_code == 303, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)["oauth_error"][0]


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
                "confirmed_at": "2024-03-01T10:00:00.000Z" if user.confirmed else None,
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


class LocalBitbucket(_LocalOAuthApp):
    """bitbucket.org's `/site/oauth2/authorize` and `/site/oauth2/access_token` (client
    credentials by HTTP Basic, as Bitbucket takes them), and, under `/2.0` (api.bitbucket.org's
    root), `GET /user`, `/user/emails` (paginated, `values`) and `/user/permissions/workspaces`
    with its BBQL filter `q=workspace.slug="…"`."""

    AUTHORIZE = "/site/oauth2/authorize"
    TOKEN = "/site/oauth2/access_token"

    def __init__(self, client_id: str, client_secret: str, users: list[BitbucketUser]) -> None:
        super().__init__(client_id, client_secret)
        self.users = {user.nickname: user for user in users}

    @property
    def api(self) -> str:
        return f"{self.url}/2.0"

    def _user(self, request: Request) -> BitbucketUser | None:
        login = self._login(request)
        return self.users.get(login) if login else None

    @staticmethod
    def _page(values: list[dict[str, Any]]) -> JSONResponse:
        return JSONResponse({"pagelen": 10, "size": len(values), "page": 1, "values": values})

    async def user(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return JSONResponse({"type": "error", "error": {"message": "Unauthorized"}}, 401)
        body: dict[str, Any] = {
            "type": "user",
            "uuid": user.uuid,
            "nickname": user.nickname,
            "display_name": user.display_name,
            "account_id": f"5b{user.uuid[1:9]}",
        }
        if user.username is not None:
            body["username"] = user.username
        return JSONResponse(body)

    async def emails(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return JSONResponse({"type": "error", "error": {"message": "Unauthorized"}}, 401)
        return self._page([{"type": "email", **entry} for entry in user.emails])

    async def workspace_permissions(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return JSONResponse({"type": "error", "error": {"message": "Unauthorized"}}, 401)
        wanted = None
        query = request.query_params.get("q", "")
        if query:
            field_name, _, literal = query.partition("=")
            if field_name.strip() != "workspace.slug" or not literal.strip().startswith('"'):
                return JSONResponse({"type": "error", "error": {"message": "Invalid query"}}, 400)
            wanted = json.loads(literal.strip())
        return self._page(
            [
                {
                    "type": "workspace_membership",
                    "permission": "member",
                    "workspace": {"type": "workspace", "slug": slug, "name": slug.title()},
                }
                for slug in sorted(user.workspaces)
                if wanted is None or slug == wanted
            ]
        )

    def api_routes(self) -> list[Route]:
        return [
            Route("/2.0/user", self.user),
            Route("/2.0/user/emails", self.emails),
            Route("/2.0/user/permissions/workspaces", self.workspace_permissions),
        ]


class LocalGoogle(_LocalOAuthApp):
    """Google's OpenID Connect, as documented: a discovery document naming this server the
    issuer, a JWKS, `/o/oauth2/v2/auth` and `/token` (whose answer carries an RS256 ID token
    with `email_verified`, and `hd` for a Workspace account). `accounts.google.com` cannot be
    reached from here."""

    AUTHORIZE = "/o/oauth2/v2/auth"
    TOKEN = "/token"

    def __init__(self, client_id: str, client_secret: str, users: list[GoogleUser]) -> None:
        super().__init__(client_id, client_secret)
        self.users = {user.sub: user for user in users}
        self.issuer_suffix = ""  # "/": an issuer written with a trailing slash, as Auth0's
        self.key_set_answer: Response | None = None  # in place of the JWKS (one gone wrong)
        self.extra_claims: dict[str, Any] = {}  # set in (or over) the ID token's claims
        self.key = RSAKey.generate_key(2048, parameters={"kid": "google-1", "use": "sig"})

    def rotate_key(self) -> None:
        """A new signing key, under a new kid, which the JWKS lists from now on (Google
        rotates its keys every few weeks)."""
        kid = f"google-{int(str(self.key.kid).rsplit('-', 1)[1]) + 1}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"})

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.url + self.issuer_suffix,
                "authorization_endpoint": f"{self.url}{self.AUTHORIZE}",
                "token_endpoint": f"{self.url}{self.TOKEN}",
                "userinfo_endpoint": f"{self.url}/v1/userinfo",
                "jwks_uri": f"{self.url}/oauth2/v3/certs",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["plain", "S256"],
            }
        )

    async def certs(self, request: Request) -> Response:
        if self.key_set_answer is not None:
            return self.key_set_answer
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def token_extras(self, grant: _Grant) -> dict[str, Any]:
        user = self.users[grant.login]
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url + self.issuer_suffix,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": user.sub,
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
            "iat": now,
            "exp": now + 3600,
            "nonce": grant.nonce,
        }
        if user.hd is not None:
            claims["hd"] = user.hd
        claims.update(self.extra_claims)
        header = {"alg": "RS256", "kid": str(self.key.kid), "typ": "JWT"}
        return {"id_token": jwt.encode(header, claims, self.key), "expires_in": 3599}

    def api_routes(self) -> list[Route]:
        return [
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/oauth2/v3/certs", self.certs),
        ]
