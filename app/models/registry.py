from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, UtcDateTime, utcnow


class Registry(Base):
    __tablename__ = "registries"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    # host:port as the registry knows itself: token `service`/`aud`, events' request.host.
    hostname: Mapped[str] = mapped_column(String(255), unique=True)
    external_hostname: Mapped[str | None] = mapped_column(String(255))
    use_ssl: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.use_ssl else 'http'}://{self.hostname}"
