"""The mails users get when something happens to their account, enqueued in the transaction of
that change. Bots get none: they are machine accounts whose tokens administrators manage."""

from __future__ import annotations

from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz import policy
from app.core.config import Settings
from app.mail import outbox, templates
from app.models import MailMessage, User

PasswordChange = Literal["self", "admin", "reset"]


def _person(user: User) -> bool:
    return not user.bot and bool(user.email)


def welcome(session: AsyncSession, settings: Settings, user: User) -> MailMessage | None:
    """To a person an administrator has just created."""
    if not _person(user):
        return None
    content = templates.welcome(
        username=user.username,
        public_url=settings.public_url,
        can_reset=policy.password_reset_available(settings),
    )
    return outbox.enqueue(session, settings, user.email, content)


def password_changed(
    session: AsyncSession, settings: Settings, user: User, how: PasswordChange
) -> MailMessage | None:
    if not _person(user):
        return None
    content = templates.password_changed(
        username=user.username, public_url=settings.public_url, reason=how
    )
    return outbox.enqueue(session, settings, user.email, content)


def application_token(
    session: AsyncSession,
    settings: Settings,
    user: User,
    application: str,
    *,
    created: bool,
    by: str | None = None,
) -> MailMessage | None:
    """`by`: the administrator who created or revoked it, when it was not the user."""
    if not _person(user):
        return None
    content = templates.application_token(
        username=user.username,
        public_url=settings.public_url,
        application=application,
        created=created,
        by=by,
    )
    return outbox.enqueue(session, settings, user.email, content)
