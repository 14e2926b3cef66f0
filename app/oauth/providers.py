"""The sign-in providers `oauth.*` enables, and the OpenID Connect protocol steps, done by
Authlib: the authorization URL (state, nonce, PKCE S256) and the code exchange; joserfc (Authlib's
JOSE library) checks the ID token's signature (the issuer's JWKS) and claims (iss, aud, sub, exp,
iat, nonce).

Discovery documents and key sets are cached per process for an hour; a token signed with a key
the cache does not have makes one fresh fetch (the provider rotated its keys).
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc6749.errors import OAuth2Error
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from app.core.bounded_http import AnswerTooLarge, BoundedTransport
from app.core.config import Settings
from app.oauth import bitbucket, github, gitlab
from app.oauth.types import Endpoints, Identity, Provider, ProviderFailed, refuse_outside_domain

with warnings.catch_warnings():
    # Authlib 1.9 nudges towards its httpx2 fork at import; this service's HTTP client is httpx.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

TIMEOUT = httpx.Timeout(10.0)
MAX_ANSWER_BYTES = 1024 * 1024
CACHE_SECONDS = 3600
# Asymmetric signatures only: an HS256 ID token would be signed with our client secret.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


# Plain OAuth 2 providers: who signed in, from their API.
API_IDENTITY = {
    "github": github.identity,
    "gitlab": gitlab.identity,
    "bitbucket": bitbucket.identity,
}


def enabled_providers(settings: Settings) -> dict[str, Provider]:
    """The providers offered, in the order of the sign-in page's buttons."""
    oauth = settings.oauth
    found: dict[str, Provider] = {}
    google = oauth.google_oauth2
    if google.enabled:
        found["google_oauth2"] = Provider(
            name="google_oauth2",
            label="Google",
            issuer=google.issuer.rstrip("/"),
            client_id=google.id,
            client_secret=google.secret.get_secret_value(),
            email_domain=google.domain,
            hosted_domain=google.options.hd,
        )
    github = oauth.github
    if github.enabled:
        web = (github.server or "https://github.com").rstrip("/")
        api = "https://api.github.com" if not github.server else f"{web}/api/v3"
        found["github"] = Provider(
            name="github",
            label="GitHub",
            issuer=web,
            client_id=github.client_id,
            client_secret=github.client_secret.get_secret_value(),
            scope="read:user user:email read:org",
            email_domain=github.domain,
            endpoints=Endpoints(
                f"{web}/login/oauth/authorize", f"{web}/login/oauth/access_token", api
            ),
            organization=github.organization,
            team=github.team,
        )
    gitlab_settings = oauth.gitlab
    if gitlab_settings.enabled:
        server = (gitlab_settings.server or "https://gitlab.com").rstrip("/")
        found["gitlab"] = Provider(
            name="gitlab",
            label="GitLab",
            issuer=server,
            client_id=gitlab_settings.application_id,
            client_secret=gitlab_settings.secret.get_secret_value(),
            scope="read_user read_api",
            email_domain=gitlab_settings.domain,
            endpoints=Endpoints(
                f"{server}/oauth/authorize", f"{server}/oauth/token", f"{server}/api/v4"
            ),
            group=gitlab_settings.group,
        )
    bitbucket_settings = oauth.bitbucket
    if bitbucket_settings.enabled:
        server = bitbucket_settings.server.rstrip("/")
        found["bitbucket"] = Provider(
            name="bitbucket",
            label="Bitbucket",
            issuer=server,
            client_id=bitbucket_settings.key,
            client_secret=bitbucket_settings.secret.get_secret_value(),
            scope="account email",
            email_domain=bitbucket_settings.domain,
            endpoints=Endpoints(
                f"{server}/site/oauth2/authorize",
                f"{server}/site/oauth2/access_token",
                bitbucket_settings.api.rstrip("/"),
            ),
            workspace=bitbucket_settings.options.team,
        )
    oidc = oauth.openid_connect
    if oidc.enabled:
        found["openid_connect"] = Provider(
            name="openid_connect",
            label=oidc.label or "OpenID Connect",
            issuer=oidc.issuer.rstrip("/"),
            client_id=oidc.identifier,
            client_secret=oidc.secret.get_secret_value(),
            groups_claim=oidc.groups_claim,
            groups_role=oidc.groups_role,
            groups_filter=oidc.groups_filter,
        )
    return found


@dataclass(frozen=True)
class Started:
    url: str
    state: str
    nonce: str
    code_verifier: str


class OpenIdConnect:
    """The protocol steps, with the issuers' documents cached (one per process)."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self._transport = transport
        self._clock = clock  # the time ID tokens are checked at (tests move it)
        self._discovery: dict[str, tuple[float, dict[str, Any]]] = {}
        self._keys: dict[str, tuple[float, Any]] = {}

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=TIMEOUT, transport=self._bounded(), trust_env=False)

    def _bounded(self) -> BoundedTransport:
        """A transport per client (a client closes its own): discovery documents, key sets,
        tokens and API answers are a few KB."""
        return BoundedTransport(MAX_ANSWER_BYTES, self._transport)

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            async with self._http() as http:
                response = await http.get(url)
        except AnswerTooLarge as exc:
            raise ProviderFailed(f"the sign-in provider's {what} is too large") from exc
        except httpx.HTTPError as exc:
            raise ProviderFailed(f"the sign-in provider cannot be reached ({what})") from exc
        if response.status_code != 200:
            raise ProviderFailed(f"the sign-in provider answered {response.status_code} ({what})")
        try:
            document = response.json()
        except ValueError as exc:
            raise ProviderFailed(f"the sign-in provider's {what} is not JSON") from exc
        if not isinstance(document, dict):
            raise ProviderFailed(f"the sign-in provider's {what} is not a JSON object")
        return document

    async def discovery(self, provider: Provider) -> dict[str, Any]:
        cached = self._discovery.get(provider.issuer)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        url = f"{provider.issuer}/.well-known/openid-configuration"
        document = await self._get_json(url, "discovery document")
        # The issuer as the provider writes it (Auth0's ends with "/"): ID tokens' iss must be
        # exactly that; the configured one may differ by that slash only.
        issuer = document.get("issuer")
        if not isinstance(issuer, str) or issuer.rstrip("/") != provider.issuer:
            raise ProviderFailed(
                f"the provider's discovery document names issuer {issuer!r}, "
                f"not {provider.issuer!r}"
            )
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(field), str):
                raise ProviderFailed(f"the provider's discovery document has no {field}")
        self._discovery[provider.issuer] = (time.monotonic() + CACHE_SECONDS, document)
        return document

    async def _key_set(self, provider: Provider, *, fresh: bool) -> Any:
        cached = self._keys.get(provider.issuer)
        if not fresh and cached is not None and cached[0] > time.monotonic():
            return cached[1]
        document = await self.discovery(provider)
        try:
            keys = KeySet.import_key_set(await self._get_json(document["jwks_uri"], "key set"))  # type: ignore[arg-type]
        except (ValueError, KeyError, TypeError, JoseError) as exc:
            raise ProviderFailed("the sign-in provider's key set cannot be read") from exc
        self._keys[provider.issuer] = (time.monotonic() + CACHE_SECONDS, keys)
        return keys

    def _client(self, provider: Provider, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            scope=provider.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT,
            transport=self._bounded(),
            trust_env=False,
        )

    async def _endpoint(self, provider: Provider, which: Literal["authorize", "token"]) -> str:
        """A plain OAuth 2 provider's own endpoint, else the discovery document's."""
        if provider.endpoints is not None:
            return (
                provider.endpoints.authorize if which == "authorize" else provider.endpoints.token
            )
        key = "authorization_endpoint" if which == "authorize" else "token_endpoint"
        return str((await self.discovery(provider))[key])

    async def start(self, provider: Provider, redirect_uri: str) -> Started:
        authorize = await self._endpoint(provider, "authorize")
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        extra = {"nonce": nonce} if provider.endpoints is None else {}
        if provider.hosted_domain:  # Google's account chooser shows only that domain's
            extra["hd"] = provider.hosted_domain
        async with self._client(provider, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                authorize, state=state, code_verifier=verifier, **extra
            )
        return Started(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def finish(
        self, provider: Provider, redirect_uri: str, code: str, nonce: str, code_verifier: str
    ) -> Identity:
        """The code exchanged (with the PKCE verifier), the ID token checked (or, for a plain
        OAuth 2 provider, its API asked), the identity."""
        token_url = await self._endpoint(provider, "token")
        try:
            async with self._client(provider, redirect_uri) as client:
                token = await client.fetch_token(token_url, code=code, code_verifier=code_verifier)
                if provider.endpoints is not None:
                    return await API_IDENTITY[provider.name](client, provider)
        except (OAuth2Error, OAuthError) as exc:
            reason = exc.description or exc.error
            raise ProviderFailed(f"the sign-in provider refused the code: {reason}") from exc
        except AnswerTooLarge as exc:
            raise ProviderFailed("the sign-in provider's token answer is too large") from exc
        except httpx.HTTPError as exc:
            raise ProviderFailed("the sign-in provider cannot be reached (token)") from exc
        except (ValueError, KeyError, TypeError) as exc:  # Authlib reading a body that is no token
            raise ProviderFailed("the sign-in provider's token answer cannot be read") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderFailed("the sign-in provider sent no ID token")
        claims = await self._verified_claims(provider, id_token, nonce)
        return self._identity(provider, claims)

    async def _verified_claims(
        self, provider: Provider, id_token: str, nonce: str
    ) -> dict[str, Any]:
        """Signature by a key of the issuer's set, then iss, aud, sub, exp, iat and nonce."""
        issuer = (await self.discovery(provider))["issuer"]
        registry = jwt.JWTClaimsRegistry(
            now=self._clock,
            leeway=60,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        for fresh in (False, True):
            keys = await self._key_set(provider, fresh=fresh)
            try:
                token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
            except (InvalidKeyIdError, ValueError) as exc:
                # No key of the token's kid: the provider rotated its keys; refetch the set once.
                if fresh:
                    message = "the ID token is signed with a key the provider does not list"
                    raise ProviderFailed(message) from exc
                continue
            except JoseError as exc:
                raise ProviderFailed(f"the ID token does not verify: {exc.error}") from exc
            try:
                registry.validate(token.claims)
            except JoseError as exc:
                reason = exc.description or exc.error
                raise ProviderFailed(f"the ID token is not valid: {reason}") from exc
            _refuse_other_party(token.claims, provider.client_id)
            return dict(token.claims)
        raise AssertionError("unreachable")

    @staticmethod
    def _identity(provider: Provider, claims: dict[str, Any]) -> Identity:
        # `hd` in the authorization URL is only a hint to Google: the claim is what counts.
        if provider.hosted_domain and claims.get("hd") != provider.hosted_domain:
            raise ProviderFailed(
                f"only accounts of the Google Workspace domain {provider.hosted_domain} "
                "may sign in here"
            )
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        if claims.get("email_verified") in (False, "false"):  # anybody could have typed it
            email = None
        refuse_outside_domain(provider, email)
        username = claims.get("preferred_username") or claims.get("nickname")
        if not isinstance(username, str) or not username:
            username = email.split("@", 1)[0] if email else None
        name = claims.get("name") if isinstance(claims.get("name"), str) else None
        return Identity(
            provider=provider.name,
            uid=str(claims["sub"]),
            username=username,
            email=email,
            name=name,
            groups=_groups_of(provider, claims),
        )


def _refuse_other_party(claims: dict[str, Any], client_id: str) -> None:
    """OpenID Connect Core 3.1.3.7: a token for several audiences names the party it was
    issued to (`azp`), which must be us; an `azp` present must be us anyway."""
    audiences = claims.get("aud")
    several = isinstance(audiences, list) and len(audiences) > 1
    if (several or "azp" in claims) and claims.get("azp") != client_id:
        raise ProviderFailed("the ID token is not valid: it was issued to another party (azp)")


def _groups_of(provider: Provider, claims: dict[str, Any]) -> tuple[str, ...]:
    if not provider.groups_claim:
        return ()
    groups = read_groups(claims.get(provider.groups_claim))
    if provider.groups_filter:
        wanted = re.compile(provider.groups_filter)
        groups = tuple(name for name in groups if wanted.fullmatch(name))
    return groups


MAX_GROUPS = 500


def read_groups(claim: Any) -> tuple[str, ...]:
    """A groups claim: a list of names (or one name); anything else is no groups. Bounded: the
    names are team names (at most 255 characters), and a person in thousands of groups joins
    the first 500 only."""
    names = [claim] if isinstance(claim, str) else claim if isinstance(claim, list) else []
    kept = dict.fromkeys(
        name.strip() for name in names if isinstance(name, str) and 0 < len(name.strip()) <= 255
    )
    return tuple(kept)[:MAX_GROUPS]
