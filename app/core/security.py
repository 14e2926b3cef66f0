"""Secrets: argon2id passwords (off the event loop) and prefixed, HMAC-digested opaque tokens.

Opaque tokens (application tokens, refresh tokens) look like `pat_<lookup>_<secret>`. The lookup
is stored in a unique index, so a login finds the one candidate row with one indexed query; the row
holds HMAC-SHA256(server key, token), compared in constant time. No per-request loop of slow hashes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's current recommended cost
# Verified against when the user does not exist, so that both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a real password: timing equaliser")


def set_password_cost(*, time_cost: int, memory_cost: int) -> None:
    """Tests lower the cost; production keeps argon2-cffi's defaults."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
    _DUMMY_HASH = _hasher.hash("not a real password: timing equaliser")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """Constant-effort check; `stored=None` (no such user, or no local password) is always False."""
    return await asyncio.to_thread(_verify, stored, password)


_LOOKUP = re.compile(r"[a-z2-7]{16}")  # lowercase base32 of 10 random bytes
APP_TOKEN_MARKER = "pat"  # noqa: S105 (a prefix, not a secret)
REFRESH_TOKEN_MARKER = "prt"  # noqa: S105
SESSION_MARKER = "pss"
PASSWORD_RESET_MARKER = "prs"  # noqa: S105


@dataclass(frozen=True)
class IssuedToken:
    plain: str  # shown once, never stored
    lookup: str  # stored, indexed
    digest: str  # stored


@dataclass(frozen=True)
class TokenDigester:
    key: bytes

    def digest(self, plain: str) -> str:
        return hmac.new(self.key, plain.encode(), hashlib.sha256).hexdigest()

    def issue(self, marker: str) -> IssuedToken:
        lookup = base64.b32encode(secrets.token_bytes(10)).decode().lower()  # 16 chars
        secret = secrets.token_urlsafe(32)
        plain = f"{marker}_{lookup}_{secret}"
        return IssuedToken(plain=plain, lookup=lookup, digest=self.digest(plain))

    def csrf_token(self, session_token: str) -> str:
        """The CSRF token of a browser session, derived from its (httpOnly) cookie: only a page
        that was handed it by our API can send it back in `X-CSRF-Token`."""
        return hmac.new(self.key, b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()

    def matches(self, plain: str, stored_digest: str) -> bool:
        return hmac.compare_digest(self.digest(plain), stored_digest)


def parse_token(plain: str, marker: str) -> str | None:
    """The lookup part of a token of the given kind, or None when it is not shaped like one."""
    parts = plain.split("_", 2)
    if len(parts) != 3 or parts[0] != marker or len(parts[2]) < 20 or len(parts[2]) > 128:
        return None
    return parts[1] if _LOOKUP.fullmatch(parts[1]) else None


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
