"""Secrets the service must read back in plaintext (a webhook's password and signing secret),
encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the instance's
`secret_key_base`. A database dump alone then reveals none of them."""

from __future__ import annotations

import base64
import functools
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from app.core.config import Settings
from app.core.files import private_directory
from app.core.instance import instance_secret

__all__ = ["InvalidToken", "SecretBox", "secret_box"]


class SecretBox:
    def __init__(self, secret_key_base: str, purpose: str) -> None:
        # HKDF with a purpose label: the same base yields unrelated keys for unrelated uses.
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            secret_key_base.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, stored: str) -> str:
        """Raises `InvalidToken` when `secret_key_base` changed since the value was stored."""
        return self._fernet.decrypt(stored.encode("ascii")).decode()


@functools.lru_cache(maxsize=8)
def _box(data_dir: Path, configured: str, purpose: str) -> SecretBox:
    base = instance_secret(data_dir, "secret_key_base", SecretStr(configured))
    return SecretBox(base, purpose)


def secret_box(settings: Settings, purpose: str = "portus webhook secrets") -> SecretBox:
    """The box of this instance (the same `secret_key_base` the token digests use)."""
    private_directory(settings.data_dir)
    return _box(settings.data_dir, settings.secret_key_base.get_secret_value(), purpose)
