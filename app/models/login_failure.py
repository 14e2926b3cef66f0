from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UtcDateTime


class LoginFailure(Base):
    """Failed logins of one client address in the current window (`login_rate_limit`): shared
    by every replica, so the limit holds however requests are spread."""

    __tablename__ = "login_failures"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failures: Mapped[int] = mapped_column()
