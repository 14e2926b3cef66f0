from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, UtcDateTime, utcnow


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("namespace_id", "name"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # May contain "/" (ns/team/app): everything after the namespace.
    name: Mapped[str] = mapped_column(String(255))
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"))
    description: Mapped[str | None] = mapped_column(Text)
    marked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class RepositoryCountChange(Base):
    """+1/-1 per repository created or deleted, written by database triggers (every path that
    adds or removes repositories, cascades included, is counted) and folded into
    `namespaces.repositories_count` by a background pass. Appending rows takes no lock that
    concurrent pushes could contend or deadlock on, as updating a counter row would."""

    __tablename__ = "repository_count_changes"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # No foreign key: a namespace's deletion cascades to its repositories, whose -1s land here.
    namespace_id: Mapped[int] = mapped_column(BigInteger, index=True)
    delta: Mapped[int] = mapped_column(Integer)
