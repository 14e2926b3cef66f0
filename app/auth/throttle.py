"""Password guessing, throttled without locking anybody out (`login_rate_limit`).

Three counts, in the database so that every replica shares them:

- Per client address (`login_failures`): every password attempt is counted *before* it is
  checked, by one upsert that returns the new count, so N parallel guesses never get past the
  limit; a right password gives its attempt back. Failed token logins count too (after the fact:
  a token itself is never refused, guessing one is hopeless and refusing it would let anybody
  lock a CI pipeline out from its address).
- Per (account name, address) (`account_login_failures`): wrong passwords for one account from
  one address (counted after the check: parallel right-password logins of a script must not
  trip it; a parallel burst is bounded by the per-address limit above). Past
  `account_attempts`, that address is locked out of that account until the window ends; the
  owner, elsewhere, is not.
- Per account (`users.failed_attempts`, `users.locked_at`): wrong passwords from any address.
  From `delay_after` on, the account takes one password check per delay (`delay_base` seconds,
  doubling per further failure, at most `delay_max`); each check claims its turn with one
  conditional UPDATE, so parallel guesses cannot share a turn. `locked_at` is the time of the
  last wrong password or claimed turn, which the current delay runs from; a count whose last
  failure is older than the window starts over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from app.auth import repository
from app.core.config import LoginRateLimitSettings
from app.core.db import session_scope, utcnow
from app.core.queue import Backoff
from app.models import AccountLoginFailure, LoginFailure


class TooManyFailures(Exception):
    """A password attempt refused before it is checked (429 with Retry-After)."""

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        text = message or "too many failed logins from this address"
        super().__init__(f"{text}: retry in {retry_after} s")
        self.retry_after = retry_after


class AccountLockedHere(TooManyFailures):
    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after, "too many failed logins for this account from this address")


class AccountSlowedDown(TooManyFailures):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            retry_after, "this account's password logins are slowed down after failed logins"
        )


def client_address(connection: HTTPConnection) -> str:
    """The peer (uvicorn has already put a trusted proxy's X-Forwarded-For there)."""
    return (connection.client.host if connection.client else "unknown")[:64]


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


async def _count(
    session: AsyncSession,
    model: type[LoginFailure] | type[AccountLoginFailure],
    key: dict[str, str],
    window: int,
) -> tuple[int, datetime]:
    """One more in the key's window (a new window if the last one ended): the new count and
    the window's start."""
    return await repository.count_login_failure(session, model, key, now=utcnow(), window=window)


async def claim_attempt(
    sessionmaker: async_sessionmaker[AsyncSession],
    limit: LoginRateLimitSettings,
    client: str,
    username: str,
) -> bool:
    """Count a password attempt against its address before it is checked, and refuse it past
    the address's limit or when the address is locked out of the account (TooManyFailures).
    Committed either way: a refused attempt was made. True: the address is a known one of the
    account (a right password from there within `known_days`)."""
    if not limit.enabled:
        return False
    refusal: TooManyFailures | None = None
    known = False
    window = timedelta(seconds=limit.window)
    async with session_scope(sessionmaker) as session:
        failures, started = await _count(session, LoginFailure, {"client": client}, limit.window)
        if failures > limit.attempts:
            refusal = TooManyFailures(_seconds_until(started + window, utcnow()))
        else:
            here = await repository.account_failures_from(session, username, client)
            now = utcnow()
            if here is not None and here[0] >= limit.account_attempts and here[1] + window > now:
                refusal = AccountLockedHere(_seconds_until(here[1] + window, now))
            known = (
                here is not None
                and here[2] is not None
                and here[2] > now - timedelta(days=limit.known_days)
            )
    if refusal is not None:
        raise refusal
    return known


@dataclass(frozen=True)
class AccountState:
    user_id: int
    failed_attempts: int
    locked_at: datetime | None


def account_delay(limit: LoginRateLimitSettings, failed_attempts: int) -> timedelta:
    """How long the account waits between password checks after `failed_attempts` failures."""
    if not limit.enabled or failed_attempts < limit.delay_after:
        return timedelta(0)
    backoff = Backoff(first=limit.delay_base, cap=limit.delay_max)
    return backoff.delay(failed_attempts - limit.delay_after + 1)


async def claim_account_turn(
    sessionmaker: async_sessionmaker[AsyncSession],
    limit: LoginRateLimitSettings,
    account: AccountState,
) -> None:
    """AccountSlowedDown unless the account's delay has passed and this check claims the turn
    (one conditional UPDATE: of parallel claimants exactly one gets it)."""
    now = utcnow()
    delay = account_delay(limit, account.failed_attempts)
    if not delay or account.locked_at is None:
        return
    if account.locked_at <= now - timedelta(seconds=limit.window):
        return  # the failures are old: the count starts over with the next failure
    if account.locked_at + delay > now:
        raise AccountSlowedDown(_seconds_until(account.locked_at + delay, now))
    async with session_scope(sessionmaker) as session:
        claimed = await repository.claim_account_turn(
            session, account.user_id, account.failed_attempts, now=now, delay=delay
        )
    if not claimed:
        raise AccountSlowedDown(max(1, math.ceil(delay.total_seconds())))


async def record_wrong_password(
    session: AsyncSession,
    limit: LoginRateLimitSettings,
    client: str,
    username: str,
    user_id: int | None,
) -> None:
    """A wrong password (the attempt was counted against the address beforehand): one more for
    this address and account name (an unknown name alike), and one more on the account if it
    exists; atomic statements, so concurrent failures all count."""
    # The account's row first, then the (account, address) row: the order of
    # `record_right_password`, so that two outcomes at once cannot deadlock on PostgreSQL.
    if user_id is not None:
        # `locked_at` becomes this failure's time, whatever the count: the next delay runs from
        # it, and the window that makes a count stale does too (kept from an older failure, a
        # count started over would stay stale, and the account would never be slowed down
        # again).
        await repository.count_account_failure(session, user_id, now=utcnow(), window=limit.window)
    if limit.enabled:
        await _count(
            session, AccountLoginFailure, {"username": username, "client": client}, limit.window
        )


async def record_right_password(
    session: AsyncSession, limit: LoginRateLimitSettings, client: str, username: str, user_id: int
) -> None:
    """The right password: the account's failure count is cleared, and so is this address's
    count for the account, which the address is now known to (`known_days`); the attempt
    counted against the address is given back."""
    await repository.clear_account_failures(session, user_id)
    await repository.mark_known_address(session, username, client, now=utcnow())
    await give_back(session, limit, client)


async def give_back(session: AsyncSession, limit: LoginRateLimitSettings, client: str) -> None:
    """An attempt that was no wrong guess (right password, directory down) stops counting."""
    if not limit.enabled:
        return
    await repository.give_back_login_attempt(session, client)


async def record_failure(
    sessionmaker: async_sessionmaker[AsyncSession], limit: LoginRateLimitSettings, client: str
) -> None:
    """A failed login that was not counted beforehand (a wrong token): one more failure in the
    client's window, by one atomic upsert."""
    if not limit.enabled:
        return
    async with session_scope(sessionmaker) as session:
        await _count(session, LoginFailure, {"client": client}, limit.window)


async def forget_expired(session: AsyncSession, limit: LoginRateLimitSettings) -> int:
    cutoff = utcnow() - timedelta(seconds=limit.window)
    known_since = utcnow() - timedelta(days=limit.known_days)
    return await repository.forget_login_failures(
        session, ended_before=cutoff, known_since=known_since
    )
