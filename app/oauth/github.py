"""Who signed in with GitHub (`oauth.github`), from GitHub's REST API with the user's token:
`GET /user` (the id is the subject, the login the username), `GET /user/emails` (the primary,
verified address), and Portus's restrictions: `organization` (`GET /user/memberships/orgs/{org}`
is an active membership) and `team` (`GET /orgs/{org}/teams/{team}/memberships/{login}` is an
active one), `domain` (the address's domain). GitHub Enterprise: `oauth.github.server`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from app.oauth.provider_api import TokenClient, api_get
from app.oauth.types import Identity, Provider, ProviderFailed, refuse_outside_domain

GITHUB_JSON = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


async def _active_membership(client: TokenClient, url: str, what: str) -> bool:
    body = await api_get(client, url, "GitHub", what, missing_ok=True, headers=GITHUB_JSON)
    return isinstance(body, dict) and body.get("state") == "active"


def _primary_email(emails: Any) -> str | None:
    if not isinstance(emails, list):
        return None
    for entry in emails:
        if isinstance(entry, dict) and entry.get("primary") and entry.get("verified"):
            email = entry.get("email")
            return email if isinstance(email, str) else None
    return None


async def identity(client: TokenClient, provider: Provider) -> Identity:
    assert provider.endpoints is not None
    api = provider.endpoints.api
    user = await api_get(client, f"{api}/user", "GitHub", "user", headers=GITHUB_JSON)
    if not isinstance(user, dict) or "id" not in user or not isinstance(user.get("login"), str):
        raise ProviderFailed("GitHub's user answer has no id and login")
    login: str = user["login"]
    email = _primary_email(
        await api_get(
            client, f"{api}/user/emails", "GitHub", "e-mail addresses", headers=GITHUB_JSON
        )
    )
    org = provider.organization
    if org and not await _active_membership(
        client, f"{api}/user/memberships/orgs/{quote(org, safe='')}", "organization"
    ):
        raise ProviderFailed(f"only members of the GitHub organization {org} may sign in here")
    if org and provider.team:
        team_url = (
            f"{api}/orgs/{quote(org, safe='')}/teams/{quote(provider.team, safe='')}"
            f"/memberships/{quote(login, safe='')}"
        )
        if not await _active_membership(client, team_url, "team"):
            raise ProviderFailed(
                f"only members of the GitHub team {org}/{provider.team} may sign in here"
            )
    refuse_outside_domain(provider, email)
    name = user.get("name")
    return Identity(
        provider=provider.name,
        uid=str(user["id"]),
        username=login,
        email=email,
        name=name if isinstance(name, str) else None,
    )
