from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, IntEnumType, UtcDateTime, utcnow
from app.models.enums import LdapCheck


class User(Base):
    __tablename__ = "users"
    # One account per identity of a sign-in provider (OpenID Connect, OAuth).
    __table_args__ = (Index("uq_users_provider_uid", "provider", "uid", unique=True),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    username: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    # None: no local password (bots made for tokens only, directory users).
    encrypted_password: Mapped[str | None] = mapped_column(String(255))
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    bot: Mapped[bool] = mapped_column(Boolean, default=False)
    display_name: Mapped[str | None] = mapped_column(String(255), unique=True)
    namespace_id: Mapped[int | None] = mapped_column(
        ForeignKey("namespaces.id", ondelete="SET NULL"), index=True
    )
    # LDAP group sync: a new user joins the teams of their directory groups once.
    ldap_group_checked: Mapped[LdapCheck] = mapped_column(
        IntEnumType(LdapCheck), default=LdapCheck.unchecked, server_default="0"
    )
    # The directory entry's DN of an LDAP user, kept from Portus (its `ldap_name`).
    ldap_name: Mapped[str | None] = mapped_column(String(255))
    # The sign-in provider and its subject id of an account made by an OpenID/OAuth login.
    provider: Mapped[str | None] = mapped_column(String(255))
    uid: Mapped[str | None] = mapped_column(String(255))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Refresh tokens issued before this instant are dead (password changed).
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
