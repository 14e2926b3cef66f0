"""Who signed in with Bitbucket Cloud (`oauth.bitbucket`), from its REST API 2.0 with the user's
token: `GET /user` (the `uuid` is the subject: usernames can be renamed, and Bitbucket no longer
shows them everywhere; the username is ours when it has one, else the nickname), `GET
/user/emails` (the primary, confirmed address), and Portus's restrictions: `options.team` (the
user has a permission in that workspace: `GET /user/permissions/workspaces?q=workspace.slug="…"`;
Bitbucket's teams became workspaces) and `domain` (the address's domain)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from app.oauth.provider_api import TokenClient, api_get
from app.oauth.types import Identity, Provider, ProviderFailed, refuse_outside_domain


def _primary_email(emails: Any) -> str | None:
    values = emails.get("values") if isinstance(emails, dict) else None
    for entry in values if isinstance(values, list) else []:
        if isinstance(entry, dict) and entry.get("is_primary") and entry.get("is_confirmed"):
            email = entry.get("email")
            return email if isinstance(email, str) else None
    return None


async def _in_workspace(client: TokenClient, api: str, workspace: str) -> bool:
    # BBQL: a string literal is JSON-quoted; the filter leaves at most one entry.
    query = urlencode({"q": f"workspace.slug={json.dumps(workspace)}"})
    found = await api_get(
        client, f"{api}/user/permissions/workspaces?{query}", "Bitbucket", "workspaces"
    )
    values = found.get("values") if isinstance(found, dict) else None
    return any(
        isinstance(entry, dict)
        and isinstance(entry.get("workspace"), dict)
        and entry["workspace"].get("slug") == workspace
        for entry in (values if isinstance(values, list) else [])
    )


async def identity(client: TokenClient, provider: Provider) -> Identity:
    assert provider.endpoints is not None
    api = provider.endpoints.api
    user = await api_get(client, f"{api}/user", "Bitbucket", "user")
    if not isinstance(user, dict) or not isinstance(user.get("uuid"), str) or not user["uuid"]:
        raise ProviderFailed("Bitbucket's user answer has no uuid")
    username = user.get("username") or user.get("nickname")
    email = _primary_email(
        await api_get(client, f"{api}/user/emails", "Bitbucket", "e-mail addresses")
    )
    if provider.workspace and not await _in_workspace(client, api, provider.workspace):
        raise ProviderFailed(
            f"only members of the Bitbucket workspace {provider.workspace} may sign in here"
        )
    refuse_outside_domain(provider, email)
    name = user.get("display_name")
    return Identity(
        provider=provider.name,
        uid=user["uuid"],
        username=username if isinstance(username, str) else None,
        email=email,
        name=name if isinstance(name, str) else None,
    )
