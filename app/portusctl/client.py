"""A typed client of Portus's public REST API (`/api/v1`), one method per API call.

It speaks only HTTP: the answers are parsed into `app.portusctl.models`, the API's response
schemas as seen on the wire, and nothing of the server is imported. Every answer comes
back as an `Answer`: the typed value, and the JSON as the API sent it (for `-f json`).
Lists are read whole: the client follows `Link rel="next"` until the last page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.portusctl.models import (
    ActivityRead,
    ApplicationTokenCreated,
    ApplicationTokenRead,
    CommentRead,
    DeliveryRead,
    HealthComponent,
    MemberRead,
    NamespaceRead,
    RefreshTokenRead,
    RegistryRead,
    RepositoryRead,
    SearchHit,
    ServerVersion,
    TagRead,
    TeamRead,
    UserCreated,
    UserRead,
    Validation,
    WebhookHeaderRead,
    WebhookRead,
    WebhookWithSecret,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

PER_PAGE = 100
"""Items asked for per page when walking a list."""

Progress = Callable[[int, int | None], None]
"""Called after each page with the items read so far and the total (`X-Total`), if known."""


@dataclass(frozen=True)
class Answer(Generic[T]):
    """A typed answer and the JSON the API sent for it."""

    value: T
    json: Any


@dataclass(frozen=True)
class Health:
    components: dict[str, HealthComponent]
    json: Any
    status_code: int

    @property
    def healthy(self) -> bool:
        return self.status_code == 200 and all(c.success for c in self.components.values())


class ClientError(Exception):
    """Anything that went wrong talking to the API."""


class ApiError(ClientError):
    """The API answered with an error status. `message` is the envelope's `message`: a string,
    or the problems of each field."""

    def __init__(self, status_code: int, message: str | dict[str, list[str]]) -> None:
        self.status_code = status_code
        self.message = message
        super().__init__(f"{status_code}: {message}")


class Unreachable(ClientError):
    """No HTTP answer at all (refused, DNS, TLS, timeout)."""


class UnexpectedAnswer(ClientError):
    """An answer that is not what the API documents (not JSON, another shape)."""


def error_message(body: Any) -> str | dict[str, list[str]] | None:
    """The message of an error body: Portus's `{"message": str}`, the 422 envelope
    `{"message": {field: [problems]}}`, `{"errors": {field: [...]}}`, or a bare field dict."""
    if not isinstance(body, dict):
        return body if isinstance(body, str) and body else None
    for key in ("message", "errors", "detail", "error"):
        if key in body:
            return error_message(body[key]) if isinstance(body[key], dict) else _text(body[key])
    fields: dict[str, list[str]] = {}
    for field, problems in body.items():
        if isinstance(problems, list):
            fields[str(field)] = [str(problem) for problem in problems]
        elif isinstance(problems, str):
            fields[str(field)] = [problems]
    return fields or None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return "; ".join(_text(item) or "" for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def _parse(adapter: TypeAdapter[T], data: Any) -> T:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UnexpectedAnswer(
            f"the server's answer does not match the API schema ({where}: {first['msg']})"
        ) from None


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(kind: Any) -> TypeAdapter[Any]:
    if kind not in _ADAPTERS:
        _ADAPTERS[kind] = TypeAdapter(kind)
    return _ADAPTERS[kind]


class PortusClient:
    """The API of one Portus server, as `user` with the application token `token` (both may be
    None for the public calls: health, bootstrap)."""

    def __init__(
        self,
        server: str,
        user: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        per_page: int = PER_PAGE,
        progress: Callable[[], Progress | None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "portusctl"}
        if user is not None and token is not None:
            headers["Portus-Auth"] = f"{user}:{token}"
        self.server = server.rstrip("/")
        self.per_page = per_page
        self._progress = progress
        self._http = httpx.Client(
            base_url=self.server, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PortusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        auth: tuple[str, str] | None = None,
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        url = f"/api{path}"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                url,
                params=clean or None,
                json=body,
                auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise Unreachable(f"cannot reach {self.server}: {reason}") from None
        if response.is_success or response.status_code in ok:
            return response
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None  # an HTML page of a proxy, say: its status line says enough
        message = error_message(payload) or response.reason_phrase or str(response.status_code)
        raise ApiError(response.status_code, message)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise UnexpectedAnswer(
                f"the server did not answer JSON (HTTP {response.status_code})"
            ) from None

    def _one(self, kind: type[M], method: str, path: str, **kwargs: Any) -> Answer[M]:
        data = self._json(self._send(method, path, **kwargs))
        return Answer(_parse(_adapter(kind), data), data)

    def _list(
        self, kind: type[M], path: str, params: Mapping[str, Any] | None = None
    ) -> Answer[list[M]]:
        """Every page of a listing: follows `Link rel="next"` (it carries the keyset cursor
        when the listing has one) until there is none."""
        items: list[Any] = []
        report = self._progress() if self._progress is not None else None
        response = self._send("GET", path, params={"per_page": self.per_page, **(params or {})})
        while True:
            data = self._json(response)
            if not isinstance(data, list):
                raise UnexpectedAnswer(f"expected a list from {path}")
            items.extend(data)
            total = response.headers.get("X-Total")
            if report is not None:
                report(len(items), int(total) if total and total.isdigit() else None)
            following = response.links.get("next", {}).get("url")
            if not following or not data:
                break
            # Only the query of the link is used: the credentials go to our server alone,
            # whatever host a proxy put into the link.
            response = self._send("GET", path, params=dict(httpx.URL(following).params))
        return Answer(_parse(_adapter(list[kind]), items), items)  # type: ignore[valid-type]

    def _delete(self, path: str, params: Mapping[str, Any] | None = None) -> None:
        self._send("DELETE", path, params=params)

    # -- health and version --------------------------------------------------------------------

    def health(self) -> Health:
        response = self._send("GET", "/v1/health", ok=(503,))
        data = self._json(response)
        parsed = _parse(_adapter(dict[str, HealthComponent]), data)
        return Health(parsed, data, response.status_code)

    def version(self) -> Answer[ServerVersion]:
        return self._one(ServerVersion, "GET", "/version")

    # -- users, bots, tokens -------------------------------------------------------------------

    def bootstrap(
        self, username: str, email: str, password: str, display_name: str | None = None
    ) -> Answer[ApplicationTokenCreated]:
        user = {"username": username, "email": email, "password": password}
        if display_name is not None:
            user["display_name"] = display_name
        return self._one(
            ApplicationTokenCreated, "POST", "/v1/users/bootstrap", body={"user": user}
        )

    def me(self, auth: tuple[str, str] | None = None) -> Answer[UserRead]:
        return self._one(UserRead, "GET", "/v1/me", auth=auth)

    def list_users(self) -> Answer[list[UserRead]]:
        return self._list(UserRead, "/v1/users")

    def get_user(self, id_or_email: str) -> Answer[UserRead]:
        return self._one(UserRead, "GET", f"/v1/users/{id_or_email}")

    def create_user(self, fields: Mapping[str, Any]) -> Answer[UserCreated]:
        return self._one(UserCreated, "POST", "/v1/users", body={"user": dict(fields)})

    def update_user(self, user_id: str, fields: Mapping[str, Any]) -> Answer[UserRead]:
        return self._one(UserRead, "PUT", f"/v1/users/{user_id}", body={"user": dict(fields)})

    def set_user_admin(self, user_id: str, admin: bool) -> Answer[UserRead]:
        return self._one(UserRead, "PUT", f"/v1/users/{user_id}/admin", body={"admin": admin})

    def set_user_enabled(self, user_id: str, enabled: bool) -> Answer[UserRead]:
        body = {"enabled": enabled}
        return self._one(UserRead, "PUT", f"/v1/users/{user_id}/enabled", body=body)

    def delete_user(self, user_id: str) -> None:
        self._delete(f"/v1/users/{user_id}")

    def list_application_tokens(self, user_id: str) -> Answer[list[ApplicationTokenRead]]:
        return self._list(ApplicationTokenRead, f"/v1/users/{user_id}/application_tokens")

    def create_application_token(
        self, user_id: str, application: str, auth: tuple[str, str] | None = None
    ) -> Answer[ApplicationTokenCreated]:
        return self._one(
            ApplicationTokenCreated,
            "POST",
            f"/v1/users/{user_id}/application_tokens",
            body={"application": application},
            auth=auth,
        )

    def delete_application_token(self, token_id: str) -> None:
        self._delete(f"/v1/users/application_tokens/{token_id}")

    def list_refresh_tokens(self, user_id: str) -> Answer[list[RefreshTokenRead]]:
        return self._list(RefreshTokenRead, f"/v1/users/{user_id}/refresh_tokens")

    def delete_refresh_token(self, user_id: str, token_id: str) -> None:
        self._delete(f"/v1/users/{user_id}/refresh_tokens/{token_id}")

    def delete_refresh_tokens(self, user_id: str) -> None:
        self._delete(f"/v1/users/{user_id}/refresh_tokens")

    # -- teams ---------------------------------------------------------------------------------

    def list_teams(self) -> Answer[list[TeamRead]]:
        return self._list(TeamRead, "/v1/teams")

    def get_team(self, team_id: str) -> Answer[TeamRead]:
        return self._one(TeamRead, "GET", f"/v1/teams/{team_id}")

    def create_team(self, fields: Mapping[str, Any]) -> Answer[TeamRead]:
        return self._one(TeamRead, "POST", "/v1/teams", body=dict(fields))

    def update_team(self, team_id: str, fields: Mapping[str, Any]) -> Answer[TeamRead]:
        body = {"team": dict(fields)}
        return self._one(TeamRead, "PUT", f"/v1/teams/{team_id}", body=body)

    def delete_team(self, team_id: str, new_team: str | None = None) -> None:
        self._delete(f"/v1/teams/{team_id}", params={"new_team": new_team})

    def list_members(self, team_id: str) -> Answer[list[MemberRead]]:
        return self._list(MemberRead, f"/v1/teams/{team_id}/members")

    def add_member(self, team_id: str, user: str, role: str) -> Answer[MemberRead]:
        body = {"user": user, "role": role}
        return self._one(MemberRead, "POST", f"/v1/teams/{team_id}/members", body=body)

    def change_member(self, team_id: str, member_id: str, role: str) -> Answer[MemberRead]:
        path = f"/v1/teams/{team_id}/members/{member_id}"
        return self._one(MemberRead, "PUT", path, body={"role": role})

    def remove_member(self, team_id: str, member_id: str) -> None:
        self._delete(f"/v1/teams/{team_id}/members/{member_id}")

    def list_team_namespaces(self, team_id: str) -> Answer[list[NamespaceRead]]:
        return self._list(NamespaceRead, f"/v1/teams/{team_id}/namespaces")

    # -- namespaces ----------------------------------------------------------------------------

    def list_namespaces(self) -> Answer[list[NamespaceRead]]:
        return self._list(NamespaceRead, "/v1/namespaces")

    def get_namespace(self, namespace_id: str) -> Answer[NamespaceRead]:
        return self._one(NamespaceRead, "GET", f"/v1/namespaces/{namespace_id}")

    def create_namespace(self, fields: Mapping[str, Any]) -> Answer[NamespaceRead]:
        return self._one(NamespaceRead, "POST", "/v1/namespaces", body=dict(fields))

    def update_namespace(
        self, namespace_id: str, fields: Mapping[str, Any]
    ) -> Answer[NamespaceRead]:
        body = {"namespace": dict(fields)}
        return self._one(NamespaceRead, "PUT", f"/v1/namespaces/{namespace_id}", body=body)

    def delete_namespace(self, namespace_id: str) -> None:
        self._delete(f"/v1/namespaces/{namespace_id}")

    def validate_namespace(self, name: str) -> Answer[Validation]:
        return self._one(Validation, "GET", "/v1/namespaces/validate", params={"name": name})

    # -- repositories and tags -----------------------------------------------------------------

    def list_repositories(self) -> Answer[list[RepositoryRead]]:
        return self._list(RepositoryRead, "/v1/repositories")

    def list_namespace_repositories(self, namespace_id: str) -> Answer[list[RepositoryRead]]:
        return self._list(RepositoryRead, f"/v1/namespaces/{namespace_id}/repositories")

    def get_repository(self, repository_id: str) -> Answer[RepositoryRead]:
        return self._one(RepositoryRead, "GET", f"/v1/repositories/{repository_id}")

    def update_repository(
        self, repository_id: str, fields: Mapping[str, Any]
    ) -> Answer[RepositoryRead]:
        body = {"repository": dict(fields)}
        return self._one(RepositoryRead, "PUT", f"/v1/repositories/{repository_id}", body=body)

    def delete_repository(self, repository_id: str) -> None:
        self._delete(f"/v1/repositories/{repository_id}")

    def star_repository(self, repository_id: str) -> None:
        self._send("POST", f"/v1/repositories/{repository_id}/star")

    def unstar_repository(self, repository_id: str) -> None:
        self._delete(f"/v1/repositories/{repository_id}/star")

    def list_starred_repositories(self) -> Answer[list[RepositoryRead]]:
        return self._list(RepositoryRead, "/v1/repositories/starred")

    def list_comments(self, repository_id: str) -> Answer[list[CommentRead]]:
        return self._list(CommentRead, f"/v1/repositories/{repository_id}/comments")

    def create_comment(self, repository_id: str, body: str) -> Answer[CommentRead]:
        path = f"/v1/repositories/{repository_id}/comments"
        return self._one(CommentRead, "POST", path, body={"body": body})

    def delete_comment(self, repository_id: str, comment_id: str) -> None:
        self._delete(f"/v1/repositories/{repository_id}/comments/{comment_id}")

    def list_repository_tags(self, repository_id: str) -> Answer[list[TagRead]]:
        return self._list(TagRead, f"/v1/repositories/{repository_id}/tags")

    def list_tags(self) -> Answer[list[TagRead]]:
        return self._list(TagRead, "/v1/tags")

    def get_tag(self, tag_id: str) -> Answer[TagRead]:
        return self._one(TagRead, "GET", f"/v1/tags/{tag_id}")

    def delete_tag(self, tag_id: str) -> None:
        self._delete(f"/v1/tags/{tag_id}")

    # -- registries ----------------------------------------------------------------------------

    def list_registries(self) -> Answer[list[RegistryRead]]:
        return self._list(RegistryRead, "/v1/registries")

    def get_registry(self, registry_id: str) -> Answer[RegistryRead]:
        return self._one(RegistryRead, "GET", f"/v1/registries/{registry_id}")

    def create_registry(
        self, fields: Mapping[str, Any], *, force: bool = False
    ) -> Answer[RegistryRead]:
        body = {"registry": dict(fields), "force": force}
        return self._one(RegistryRead, "POST", "/v1/registries", body=body)

    def update_registry(
        self, registry_id: str, fields: Mapping[str, Any], *, force: bool = False
    ) -> Answer[RegistryRead]:
        body = {"registry": dict(fields), "force": force}
        return self._one(RegistryRead, "PUT", f"/v1/registries/{registry_id}", body=body)

    def validate_registry(self, hostname: str, use_ssl: bool) -> Answer[Validation]:
        params = {"hostname": hostname, "use_ssl": "true" if use_ssl else "false"}
        return self._one(Validation, "GET", "/v1/registries/validate", params=params)

    # -- webhooks ------------------------------------------------------------------------------

    def _webhooks(self, namespace_id: str) -> str:
        return f"/v1/namespaces/{namespace_id}/webhooks"

    def list_webhooks(self, namespace_id: str) -> Answer[list[WebhookRead]]:
        return self._list(WebhookRead, self._webhooks(namespace_id))

    def get_webhook(self, namespace_id: str, webhook_id: str) -> Answer[WebhookRead]:
        return self._one(WebhookRead, "GET", f"{self._webhooks(namespace_id)}/{webhook_id}")

    def create_webhook(
        self, namespace_id: str, fields: Mapping[str, Any]
    ) -> Answer[WebhookWithSecret]:
        path = self._webhooks(namespace_id)
        return self._one(WebhookWithSecret, "POST", path, body=dict(fields))

    def update_webhook(
        self, namespace_id: str, webhook_id: str, fields: Mapping[str, Any]
    ) -> Answer[WebhookRead]:
        path = f"{self._webhooks(namespace_id)}/{webhook_id}"
        return self._one(WebhookRead, "PUT", path, body=dict(fields))

    def delete_webhook(self, namespace_id: str, webhook_id: str) -> None:
        self._delete(f"{self._webhooks(namespace_id)}/{webhook_id}")

    def list_webhook_headers(
        self, namespace_id: str, webhook_id: str
    ) -> Answer[list[WebhookHeaderRead]]:
        path = f"{self._webhooks(namespace_id)}/{webhook_id}/headers"
        return self._list(WebhookHeaderRead, path)

    def create_webhook_header(
        self, namespace_id: str, webhook_id: str, name: str, value: str
    ) -> Answer[WebhookHeaderRead]:
        path = f"{self._webhooks(namespace_id)}/{webhook_id}/headers"
        body = {"name": name, "value": value}
        return self._one(WebhookHeaderRead, "POST", path, body=body)

    def delete_webhook_header(self, namespace_id: str, webhook_id: str, header_id: str) -> None:
        self._delete(f"{self._webhooks(namespace_id)}/{webhook_id}/headers/{header_id}")

    def list_deliveries(self, namespace_id: str, webhook_id: str) -> Answer[list[DeliveryRead]]:
        path = f"{self._webhooks(namespace_id)}/{webhook_id}/deliveries"
        return self._list(DeliveryRead, path)

    def get_delivery(
        self, namespace_id: str, webhook_id: str, delivery_id: str
    ) -> Answer[DeliveryRead]:
        path = f"{self._webhooks(namespace_id)}/{webhook_id}/deliveries/{delivery_id}"
        return self._one(DeliveryRead, "GET", path)

    def retrigger_delivery(
        self, namespace_id: str, webhook_id: str, delivery_id: str
    ) -> Answer[DeliveryRead]:
        path = f"{self._webhooks(namespace_id)}/{webhook_id}/deliveries/{delivery_id}"
        return self._one(DeliveryRead, "PUT", path)

    # -- activities and search -----------------------------------------------------------------

    def list_activities(self, filters: Mapping[str, Any]) -> Answer[list[ActivityRead]]:
        return self._list(ActivityRead, "/v1/activities", params=filters)

    def activities_csv(self, filters: Mapping[str, Any]) -> str:
        return self._send("GET", "/v1/activities/export.csv", params=filters).text

    def search(self, query: str) -> Answer[list[SearchHit]]:
        data = self._json(self._send("GET", "/v1/search", params={"q": query}))
        return Answer(_parse(_adapter(list[SearchHit]), data), data)
