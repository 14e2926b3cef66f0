"""Asking a plain OAuth 2 provider's REST API (GitHub, GitLab, Bitbucket) with the user's token:
one place for its failures, each a message for the person signing in."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from app.core.bounded_http import AnswerTooLarge
from app.oauth.types import ProviderFailed


class TokenClient(Protocol):
    """An HTTP client that sends the user's token (Authlib's OAuth 2 client after the code
    exchange)."""

    async def get(self, url: str, **kwargs: Any) -> httpx.Response: ...


async def api_get(
    client: TokenClient,
    url: str,
    service: str,
    what: str,
    *,
    missing_ok: bool = False,
    headers: dict[str, str] | None = None,
) -> Any:
    """The JSON of a GET to a provider's API. `missing_ok`: a 404 (or 403: not allowed to
    know) is None, as membership checks answer for non-members."""
    try:
        response = await client.get(url, headers=headers or {"Accept": "application/json"})
    except AnswerTooLarge as exc:
        raise ProviderFailed(f"{service}'s answer is too large ({what})") from exc
    except httpx.HTTPError as exc:
        raise ProviderFailed(f"{service} cannot be reached ({what})") from exc
    if missing_ok and response.status_code in (403, 404):
        return None
    if response.status_code != 200:
        raise ProviderFailed(f"{service} answered {response.status_code} ({what})")
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderFailed(f"{service}'s answer is not JSON ({what})") from exc
