"""Secrets: argon2id passwords (off the event loop) and prefixed, HMAC-digested opaque tokens.

Passwords and application tokens imported from Portus are bcrypt hashes (Devise's `$2a$10$…`):
they are checked with bcrypt on the same threads, and a password is rehashed with argon2id at its
first successful login (`is_legacy_hash`).

Opaque tokens (application tokens, refresh tokens) look like `pat_<lookup>_<secret>`. The lookup
is stored in a unique index, so a login finds the one candidate row with one indexed query; the row
holds HMAC-SHA256(server key, token), compared in constant time. No per-request loop of slow hashes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import math
import os
import re
import secrets
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import bcrypt
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


_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
# bcrypt reads at most 72 bytes; Ruby's bcrypt (Devise, Portus) cut longer secrets there, and
# the `bcrypt` package refuses them instead: cut them the same way so they still match.
_BCRYPT_MAX_BYTES = 72


def is_legacy_hash(stored: str | None) -> bool:
    """A bcrypt hash imported from Portus (not ours: to be replaced by argon2id once used)."""
    return stored is not None and stored.startswith(_BCRYPT_PREFIXES)


def _verify(stored: str | None, password: str) -> bool:
    if stored is not None and is_legacy_hash(stored):
        try:
            return bcrypt.checkpw(password.encode()[:_BCRYPT_MAX_BYTES], stored.encode())
        except ValueError:  # a malformed hash
            return False
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class PasswordChecksBusy(Exception):
    """Every password check slot and queue place is taken: come back in `retry_after` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many password checks at once: retry in {retry_after} s")
        self.retry_after = retry_after


# Nice value of the hashing threads: the request loop (nice 0) wins the CPU over them, so a
# storm of password logins slows password logins, not everything else. The lowest priority:
# with 10, the storm bench on PostgreSQL gave storm/quiet p50 2.0-2.2x, with 19 1.6x.
HASHING_NICENESS = 19


def _lower_thread_priority() -> None:
    # Linux schedules threads individually (and argon2's lane threads inherit this value);
    # elsewhere setpriority would apply to the whole process, so it is left alone.
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASHING_NICENESS)


class PasswordVerifier:
    """argon2 checks at most `concurrency` at a time on threads of their own, with at most
    `queue` waiting; beyond that `verify` refuses at once (PasswordChecksBusy) rather than let
    waiting requests pile up."""

    def __init__(self, concurrency: int, queue: int) -> None:
        self.concurrency = concurrency or max(1, (os.cpu_count() or 2) // 2)
        self.capacity = self.concurrency + queue
        self.admitted = 0
        self._seconds = 1.0  # running mean of admission to answer, for Retry-After
        self._executor = ThreadPoolExecutor(
            self.concurrency, thread_name_prefix="argon2", initializer=_lower_thread_priority
        )

    def refuse_if_full(self) -> None:
        """PasswordChecksBusy when a check now would be refused: callers ask before doing any
        other work for it (counting the attempt, reading the account)."""
        if self.admitted >= self.capacity:
            # About when the checks admitted now are answered, and places free up.
            raise PasswordChecksBusy(max(1, math.ceil(self._seconds)))

    async def verify(self, stored: str | None, password: str) -> bool:
        self.refuse_if_full()
        self.admitted += 1
        started = time.monotonic()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, _verify, stored, password)
        finally:
            self.admitted -= 1
            self._seconds = 0.8 * self._seconds + 0.2 * (time.monotonic() - started)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


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
