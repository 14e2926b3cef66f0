from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, IntEnumType, UtcDateTime, utcnow
from app.models.enums import Visibility


class Namespace(Base):
    __tablename__ = "namespaces"
    __table_args__ = (
        UniqueConstraint("registry_id", "name"),
        CheckConstraint("visibility IN (0, 1, 2)", name="visibility"),
        CheckConstraint('NOT ("global" AND visibility = 0)', name="global_not_private"),
        # One global namespace per registry.
        Index(
            "uq_namespaces_global_per_registry",
            "registry_id",
            unique=True,
            postgresql_where=text('"global"'),
            sqlite_where=text('"global"'),
        ),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    registry_id: Mapped[int] = mapped_column(ForeignKey("registries.id", ondelete="CASCADE"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    global_: Mapped[bool] = mapped_column("global", Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    visibility: Mapped[Visibility] = mapped_column(
        IntEnumType(Visibility), default=Visibility.private
    )
    # Repositories as of the last fold of `repository_count_changes` (see that model): the exact
    # count is this plus the namespace's pending changes.
    repositories_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
