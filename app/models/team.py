from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, IntEnumType, UtcDateTime, utcnow
from app.models.enums import LdapCheck, Role


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # Personal teams and the registry's global team: never listed, never edited by hand.
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    # LDAP group sync: members of the directory group of the same name are added while the
    # team is not `disabled`; `checked_at` is the last time they were.
    ldap_group_checked: Mapped[LdapCheck] = mapped_column(
        IntEnumType(LdapCheck), default=LdapCheck.unchecked, server_default="0"
    )
    checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class TeamUser(Base):
    __tablename__ = "team_users"
    __table_args__ = (UniqueConstraint("team_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(IntEnumType(Role), default=Role.viewer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
