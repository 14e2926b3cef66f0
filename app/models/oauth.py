from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, UtcDateTime, utcnow


class OAuthLogin(Base):
    """A sign-in with a provider between the redirect to it and its callback: the `state`
    (looked up once: the callback deletes the row), the browser it belongs to (digest of a
    cookie set with the redirect), and the ID token's `nonce` and PKCE verifier."""

    __tablename__ = "oauth_logins"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    state: Mapped[str] = mapped_column(String(64), unique=True)
    browser_digest: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(64))
    code_verifier: Mapped[str] = mapped_column(String(128))
    return_to: Mapped[str] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class OAuthSignup(Base):
    """A first sign-in whose provider username cannot be ours (taken or invalid): the
    identity waits here, for the person to choose a username (`oas_<lookup>_<secret>`)."""

    __tablename__ = "oauth_signups"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(32))
    uid: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    suggested_username: Mapped[str] = mapped_column(String(255))
    return_to: Mapped[str] = mapped_column(String(1024))
    # The provider's groups (one per line), which join the new account to their teams.
    groups: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
