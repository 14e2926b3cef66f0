from __future__ import annotations

from app.core.errors import AppError, Invalid


class BootstrapDone(AppError):
    status_code = 400
    default_message = "Users already exist: the first administrator can only be bootstrapped once"


class TokenLimitReached(Invalid):
    def __init__(self) -> None:
        super().__init__({"application": ["Users cannot have more than 5 application tokens"]})
