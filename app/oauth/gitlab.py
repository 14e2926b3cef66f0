"""Who signed in with GitLab (`oauth.gitlab`; `server` for a self-managed one), from GitLab's
REST API with the user's token: `GET /api/v4/user` (the id is the subject, the username ours,
the primary `email` when `confirmed_at` says it is confirmed), and Portus's restrictions:
`group` (the user is a member of the group, inherited memberships included:
`GET /api/v4/groups/{group}/members/all/{id}`) and `domain` (the address's domain)."""

from __future__ import annotations

from urllib.parse import quote

from app.oauth.provider_api import TokenClient, api_get
from app.oauth.types import Identity, Provider, ProviderFailed, refuse_outside_domain


async def identity(client: TokenClient, provider: Provider) -> Identity:
    assert provider.endpoints is not None
    api = provider.endpoints.api
    user = await api_get(client, f"{api}/user", "GitLab", "user")
    if not isinstance(user, dict) or "id" not in user or not isinstance(user.get("username"), str):
        raise ProviderFailed("GitLab's user answer has no id and username")
    # Only a confirmed address (a self-managed GitLab may let people use unconfirmed ones).
    confirmed = user.get("confirmed_at") is not None
    email = user.get("email") if confirmed and isinstance(user.get("email"), str) else None
    if provider.group:
        member = f"{api}/groups/{quote(provider.group, safe='')}/members/all/{int(user['id'])}"
        found = await api_get(client, member, "GitLab", "group membership", missing_ok=True)
        if not isinstance(found, dict) or found.get("state", "active") != "active":
            raise ProviderFailed(
                f"only members of the GitLab group {provider.group} may sign in here"
            )
    refuse_outside_domain(provider, email)
    name = user.get("name")
    return Identity(
        provider=provider.name,
        uid=str(user["id"]),
        username=user["username"],
        email=email,
        name=name if isinstance(name, str) else None,
    )
