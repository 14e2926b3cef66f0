from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, IntEnumType, JsonType, UtcDateTime, utcnow
from app.models.enums import EventStatus


class RegistryEvent(Base):
    """A notification from the registry, stored first and handled by the background worker."""

    __tablename__ = "registry_events"
    __table_args__ = (Index("ix_registry_events_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    action: Mapped[str] = mapped_column(String(32))
    repository: Mapped[str] = mapped_column(String(255))
    status: Mapped[EventStatus] = mapped_column(IntEnumType(EventStatus), default=EventStatus.fresh)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
