from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UtcDateTime


class LoginFailure(Base):
    """Password attempts (and failed token logins) of one client address in the current window
    (`login_rate_limit`): shared by every replica, so the limit holds however requests are
    spread."""

    __tablename__ = "login_failures"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failures: Mapped[int] = mapped_column()


class AccountLoginFailure(Base):
    """Wrong passwords for one account name from one client address in the current window: past
    `login_rate_limit.account_attempts` that address may not try that account's password until
    the window ends; the owner elsewhere is not affected. Keyed by the name as typed, so that an
    unknown name behaves exactly like a known one. `succeeded_at`: the last right password from
    that address, which makes it a known address of the account (`login_rate_limit.known_days`):
    the account's delay does not hold its owner back there."""

    __tablename__ = "account_login_failures"

    username: Mapped[str] = mapped_column(String(255), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failures: Mapped[int] = mapped_column()
    succeeded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
