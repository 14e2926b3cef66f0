from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, UtcDateTime, utcnow


class ApplicationToken(Base):
    """A named secret a user (or bot) logs in with instead of a password."""

    __tablename__ = "application_tokens"
    __table_args__ = (
        UniqueConstraint("user_id", "application"),
        # A login with an imported Portus token looks its digest up (see `legacy_hash`).
        Index(
            "ix_application_tokens_legacy_digest",
            "token_digest",
            postgresql_where=text("legacy_hash IS NOT NULL"),
            sqlite_where=text("legacy_hash IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    application: Mapped[str] = mapped_column(String(255))
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64))
    # A token imported from Portus: bcrypt(plain) as Portus stored it. Its plain form is not
    # ours (`pat_<lookup>_…`), so its `lookup` is a random one no presented token can match, and
    # `token_digest` is empty until the first login with it records the digest of the plain
    # token; from then on it is found by that digest, without bcrypt.
    legacy_hash: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class RefreshToken(Base):
    """An OAuth2 refresh token ("identity token" in docker's config.json)."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(255))
    # Issued to a login with an application token: revoked with it.
    application_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("application_tokens.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebSession(Base):
    """A browser session of the SPA: cookie `portus_session` + `X-CSRF-Token` header."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PasswordResetToken(Base):
    """A single-use password-reset link (`prs_<lookup>_<secret>`): the lookup is indexed, the
    token stored as an HMAC digest. A user has at most one (a new request replaces it); using it
    deletes it, and so does any password change."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    lookup: Mapped[str] = mapped_column(String(32), unique=True)
    token_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
