"""How a person is shown: the name (`display_name.enabled`) and the avatar (`gravatar.enabled`)."""

from __future__ import annotations

import hashlib

from app.core.config import Settings


def gravatar_url(email: str) -> str:
    """Gravatar's address for an email: the MD5 of the trimmed, lower-cased address (their
    scheme, not a security use)."""
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://www.gravatar.com/avatar/{digest}?d=identicon"


def avatar_url(settings: Settings, email: str | None, *, bot: bool = False) -> str | None:
    """None when `gravatar.enabled` is off, for bots, and without an email."""
    if not settings.gravatar.enabled or bot or not email:
        return None
    return gravatar_url(email)


def shown_name(settings: Settings, username: str, display_name: str | None) -> str:
    """Portus's `display_username`: the display name when they are enabled and set."""
    if settings.display_name.enabled and display_name:
        return display_name
    return username
