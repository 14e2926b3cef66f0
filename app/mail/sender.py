"""The background sender: a periodic pass (see `app.jobs.runner.periodic_tasks`)."""

from __future__ import annotations

import logging

from app.core.db import session_scope
from app.core.jobs import JobContext
from app.mail import outbox
from app.mail.smtp import SmtpConnection, describe_error

logger = logging.getLogger(__name__)


async def send_due_mail(ctx: JobContext) -> str | None:
    """Claims the due mails, sends them over one SMTP connection with no transaction open,
    and records each result. SMTP failures are recorded on the rows (and logged), not raised:
    the pass itself succeeded, and each mail keeps its own back-off."""
    async with session_scope(ctx.sessionmaker) as session:
        claimed = await outbox.claim_due(session)
    if not claimed:
        return None
    smtp = ctx.settings.email.smtp
    results: dict[int, str | None] = {}
    try:
        async with SmtpConnection(ctx.settings.email) as connection:
            for mail in claimed:
                try:
                    await connection.send(mail)
                except Exception as exc:
                    results[mail.id] = describe_error(exc, smtp)
                else:
                    results[mail.id] = None
    except Exception as exc:
        # Connecting, TLS, login (or closing): every mail not sent yet failed with it.
        connection_error = describe_error(exc, smtp)
        for mail in claimed:
            results.setdefault(mail.id, connection_error)
    sent = failed = given_up = 0
    async with session_scope(ctx.sessionmaker) as session:
        for mail in claimed:
            error = results[mail.id]
            if error is None:
                await outbox.record_sent(session, mail.id)
                sent += 1
                continue
            failed += 1
            if await outbox.record_failure(session, mail.id, error):
                given_up += 1
            logger.warning(
                "mail %d (%s) to %s failed, attempt %d of %d%s: %s",
                mail.id,
                mail.subject,
                mail.recipient,
                mail.attempts,
                outbox.MAX_ATTEMPTS,
                ", giving up" if mail.attempts >= outbox.MAX_ATTEMPTS else "",
                error,
            )
    summary = f"sent {sent} mail(s)"
    if failed:
        summary += f", {failed} failed ({given_up} given up)"
    return summary
