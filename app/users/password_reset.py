"""Password reset by mail: a single-use link, valid 6 hours, that never tells whether an
address has an account.

The token (`prs_<lookup>_<secret>`) is stored like application tokens: the lookup in a unique
index, the whole token as an HMAC digest compared in constant time. Both requests do the same
work whether or not the account exists, up to the few rows written for a real one.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.authz import policy
from app.authz.principal import INTERNAL_USERNAME
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import FeatureDisabled, Invalid
from app.core.security import PASSWORD_RESET_MARKER, TokenDigester, parse_token
from app.mail import notices, outbox, templates
from app.models import PasswordResetToken, User
from app.users import repository
from app.users import service as users

LIFETIME = timedelta(hours=6)
_NO_DIGEST = "0" * 64


def _invalid_token() -> Invalid:
    return Invalid({"token": ["is invalid, has expired or has been used already"]})


def _facts(user: User) -> policy.AccountFacts:
    return policy.AccountFacts(
        bot=user.bot,
        enabled=user.enabled,
        has_password=user.encrypted_password is not None,
        internal=user.username.lower() == INTERNAL_USERNAME,
    )


def ensure_available(settings: Settings) -> None:
    if not policy.password_reset_available(settings):
        raise FeatureDisabled(
            "Password reset is disabled: it needs mail (email.smtp.enabled), and with LDAP "
            "passwords are changed in the directory"
        )


async def request_reset(
    session: AsyncSession, settings: Settings, digester: TokenDigester, email: str
) -> None:
    """Mails a reset link when a person's local account has this address; otherwise nothing,
    and the caller answers the same either way."""
    ensure_available(settings)
    await repository.delete_expired_reset_tokens(session)
    user = await repository.by_email_any_case(session, email)
    issued = digester.issue(PASSWORD_RESET_MARKER)
    content = templates.password_reset(
        username=user.username if user is not None else email,
        public_url=settings.public_url,
        token=issued.plain,
        valid_hours=int(LIFETIME.total_seconds() // 3600),
    )
    if user is None or not policy.can_reset_password(_facts(user)):
        return
    # One link at a time: a new request replaces the previous one.
    await repository.delete_reset_tokens(session, user.id)
    session.add(
        PasswordResetToken(
            user_id=user.id,
            lookup=issued.lookup,
            token_digest=issued.digest,
            expires_at=utcnow() + LIFETIME,
        )
    )
    outbox.enqueue(session, settings, user.email, content)
    await session.flush()


async def reset_password(
    session: AsyncSession,
    settings: Settings,
    digester: TokenDigester,
    token: str,
    password: str,
) -> User:
    """Sets the password once: the token is deleted by its first use (a concurrent second use
    deletes nothing and is refused), and every login of the user ends."""
    if settings.ldap.enabled:
        ensure_available(settings)
    users.check_password_length(password)
    lookup = parse_token(token, PASSWORD_RESET_MARKER)
    row = await repository.reset_token(session, lookup) if lookup is not None else None
    matches = digester.matches(token, row.token_digest if row is not None else _NO_DIGEST)
    if row is None or not matches or row.expires_at <= utcnow():
        raise _invalid_token()
    if not await repository.consume_reset_token(session, row.id):
        raise _invalid_token()
    await repository.lock(session, row.user_id)
    user = await repository.get(session, row.user_id)
    if user is None or not policy.can_reset_password(_facts(user)):
        raise _invalid_token()
    await users.set_password(session, user, password)
    activities.record(
        session,
        "user.reset_password",
        trackable_type="User",
        trackable_id=user.id,
        owner_id=user.id,
    )
    notices.password_changed(session, settings, user, "reset")
    await session.flush()
    return user
