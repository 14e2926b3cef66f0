"""Background processing of stored registry events.

Each batch is one transaction that holds its rows locked (`FOR UPDATE SKIP LOCKED` on
PostgreSQL), so several workers never take the same event, and a worker that dies mid-batch
leaves its events fresh for the next one: nothing lost, nothing done twice.

The registry is asked about the batch's manifests before they are processed. On PostgreSQL that
happens once the batch's rows are locked (a slow registry then holds only those rows, which
other workers skip, and each worker looks up exactly the manifests of the events it holds); on
SQLite, whose transaction holds the one write lock, it happens before the transaction opens.
(Two batches at once in one process were measured with bench/events_bench.py: processing is
CPU-bound, so they took as much from the intake as they gave the worker.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core import queue
from app.core.db import session_scope, utcnow
from app.models import EventStatus
from app.registry.events import processor
from app.registry.events import repository as queries

logger = logging.getLogger(__name__)

BATCH_SIZE = 50
MAX_ATTEMPTS = 5
IDLE_POLL_SECONDS = 1.0

# The columns of a claimed event: (id, event_id, data, attempts).


@dataclass
class WorkerHealth:
    last_run_at: datetime | None = None
    last_error: str | None = None
    processed: int = 0


@dataclass
class EventWorker:
    sessionmaker: async_sessionmaker[AsyncSession]
    context: processor.EventContext
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    health: WorkerHealth = field(default_factory=WorkerHealth)

    def notify(self) -> None:
        self.wake.set()

    @property
    def _postgresql(self) -> bool:
        return queue.is_postgresql(self.sessionmaker)

    async def _prefetch(self, context: processor.EventContext) -> None:
        """SQLite: the manifests of the fresh pushes, fetched with no transaction open."""
        async with session_scope(self.sessionmaker) as session:
            fresh = await queries.fresh_event_data(session, BATCH_SIZE)
            registries = await queries.registries(session)
        await processor.prefetch_manifests(context, registries, fresh)

    async def process_batch(self, context: processor.EventContext | None = None) -> int:
        context = context or self.context
        postgresql = self._postgresql
        if not postgresql:
            await self._prefetch(context)
        async with session_scope(self.sessionmaker) as session:
            context.batch = processor.BatchCache()
            events = await queries.claim_fresh_events(session, BATCH_SIZE)
            if postgresql and events:
                registries = await processor.batch_registries(session, context)
                await processor.prefetch_manifests(
                    context, registries, [event.data for event in events]
                )
            outcomes = [await self._process_one(session, context, event) for event in events]
            if outcomes:
                # Every event's outcome in one statement, in the batch's transaction.
                await queries.record_outcomes(session, outcomes)
        context.batch = processor.BatchCache()  # nothing of it outlives its transaction
        self.health.processed += len(events)
        if events:
            context.on_committed()
        return len(events)

    async def _process_one(
        self, session: AsyncSession, context: processor.EventContext, event: Row[int, str, Any, int]
    ) -> dict[str, Any]:
        """Handles one event in a savepoint of its own; the row's new columns."""
        attempts = event.attempts + 1
        status, error = EventStatus.fresh, None
        try:
            async with session.begin_nested():
                await processor.handle(session, context, event.data)
        except processor.EventSkipped as exc:
            context.batch.forget_changes()
            status, error = EventStatus.done, str(exc)[:2000]
        except Exception as exc:
            # What the event created or removed was rolled back: the cache must not keep it.
            context.batch.forget_changes()
            logger.exception("registry event %s failed (attempt %d)", event.event_id, attempts)
            error = f"{exc.__class__.__name__}: {exc}"[:2000]
            if attempts >= MAX_ATTEMPTS:
                status = EventStatus.failed
        else:
            status = EventStatus.done
        return {
            "id": event.id,
            "attempts": attempts,
            "status": status,
            "error": error,
            "handled_at": utcnow(),
        }

    async def run(self) -> None:
        while True:
            try:
                processed = await self.process_batch()
                self.health.last_run_at = utcnow()
                self.health.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.exception("registry event batch failed")
                self.health.last_error = f"{exc.__class__.__name__}: {exc}"
                processed = 0
                await asyncio.sleep(IDLE_POLL_SECONDS)
            if processed == 0:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=IDLE_POLL_SECONDS)
