"""The outbox's claim: a claimed mail is leased (a sender that dies mid-send leaves it to be
retried once the lease is over), and concurrent claims never take the same mail."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker, session_scope, utcnow
from app.mail import outbox, templates
from app.models import MailMessage
from tests.conftest import make_settings
from tests.fixtures.database import backend, throwaway_database


def _content(n: int) -> templates.MailContent:
    return templates.welcome(username=f"user{n}", public_url="https://portus.example.org")


async def test_a_claim_is_a_lease(session: AsyncSession, settings: Settings) -> None:
    mail_on = make_settings(settings, email={"smtp": {"enabled": True}})
    outbox.enqueue(session, mail_on, "a@example.com", _content(1))
    await session.flush()
    (first,) = await outbox.claim_due(session)
    assert first.attempts == 1
    # The sender died before recording anything: nobody takes the mail during the lease...
    assert await outbox.claim_due(session) == []
    # ...and once the lease is over, the next pass retries it.
    await session.execute(
        update(MailMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    (again,) = await outbox.claim_due(session)
    assert again.id == first.id and again.attempts == 2


async def test_nothing_is_enqueued_when_mail_is_off_or_there_is_no_address(
    session: AsyncSession, settings: Settings
) -> None:
    assert outbox.enqueue(session, settings, "a@example.com", _content(1)) is None
    mail_on = make_settings(settings, email={"smtp": {"enabled": True}})
    assert outbox.enqueue(session, mail_on, "", _content(1)) is None
    assert outbox.enqueue(session, mail_on, None, _content(1)) is None


@pytest.fixture
async def own_database(tmp_path: Path) -> AsyncIterator[str]:
    async with throwaway_database(tmp_path) as url:
        yield url


@pytest.mark.skipif(backend() != "postgresql", reason="SQLite serialises writers anyway")
async def test_concurrent_claims_take_each_mail_once(own_database: str, settings: Settings) -> None:
    mail_on = make_settings(settings, email={"smtp": {"enabled": True}})
    engines = [create_engine(own_database) for _ in range(3)]
    try:
        makers = [create_sessionmaker(engine) for engine in engines]
        async with session_scope(makers[0]) as session:
            for n in range(60):
                outbox.enqueue(session, mail_on, f"u{n}@example.com", _content(n))

        async def claim(index: int) -> list[int]:
            async with session_scope(makers[index]) as session:
                claimed = await outbox.claim_due(session)
                await asyncio.sleep(0.2)  # hold the row locks while the others claim
                return [mail.id for mail in claimed]

        batches = await asyncio.gather(*(claim(i) for i in range(3)))
        taken = [mail_id for batch in batches for mail_id in batch]
        assert len(taken) == len(set(taken)) == 3 * outbox.BATCH_SIZE
    finally:
        for engine in engines:
            await engine.dispose()
