from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UtcDateTime, utcnow


class SetupStep(Base):
    """One-time steps (the admin bootstrap): the primary key makes a second attempt fail."""

    __tablename__ = "setup_steps"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
