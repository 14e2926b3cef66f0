from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, UtcDateTime, utcnow


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("repository_id", "name"),
        Index("ix_tags_repository_id_digest", "repository_id", "digest"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    username: Mapped[str | None] = mapped_column(String(255))  # kept when the author is deleted
    digest: Mapped[str] = mapped_column(String(100))
    media_type: Mapped[str | None] = mapped_column(String(255))
    image_id: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    marked: Mapped[bool] = mapped_column(Boolean, default=False)
    scanned: Mapped[int] = mapped_column(Integer, default=0)
    # Registry time of the push that set the current digest: an older event never overwrites it.
    pushed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    pulled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
