from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, JsonType, UtcDateTime, utcnow


class PortusImport(Base):
    """An import of a Portus installation (`portus import-portus`): its presence makes a second
    import refuse, and its summary says what came across."""

    __tablename__ = "portus_imports"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    # The Portus database, without its password.
    source: Mapped[str] = mapped_column(String(1024))
    schema_version: Mapped[str] = mapped_column(String(32))
    summary: Mapped[dict[str, Any]] = mapped_column(JsonType)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
