"""All background work of one process: `portus serve` (in-process) or `portus worker`.

- Registry events: a loop over stored events (several processes share them, see events.worker).
- Periodic passes (`periodic.PeriodicTask`): each runs once at a time across every process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from app.core.db import session_scope
from app.events.processor import EventContext
from app.events.worker import EventWorker
from app.ldap.sync import ldap_group_sync_pass
from app.repositories import repository as repositories
from app.tasks.context import TaskContext
from app.tasks.periodic import PeriodicRunner, PeriodicTask

logger = logging.getLogger(__name__)

FOLD_BATCH = 10_000


async def fold_repository_counts(context: TaskContext) -> str | None:
    """Pending repository count changes into the namespaces' counters (keeps X-Total cheap)."""
    total = 0
    while True:
        async with session_scope(context.sessionmaker) as session:
            folded = await repositories.fold_repository_counts(session, batch=FOLD_BATCH)
        total += folded
        if folded < FOLD_BATCH:
            return f"folded {total} repository count changes" if total else None


def periodic_tasks(context: TaskContext) -> list[PeriodicTask]:
    tasks = [PeriodicTask("repository_counts", 5.0, fold_repository_counts)]
    ldap = context.settings.ldap
    if ldap.enabled and ldap.group_sync.enabled:
        tasks.append(PeriodicTask("ldap_group_sync", 10.0, ldap_group_sync_pass))
    return tasks


@dataclass
class BackgroundRunner:
    context: TaskContext
    event_worker: EventWorker | None = None
    periodic: list[PeriodicRunner] = field(default_factory=list)

    @classmethod
    def build(cls, context: TaskContext) -> BackgroundRunner:
        settings = context.settings
        event_worker = None
        if settings.background.registry.enabled:
            event_worker = EventWorker(
                context.sessionmaker, EventContext(client_for=context.client_for)
            )
        periodic = [PeriodicRunner(context, task) for task in periodic_tasks(context)]
        return cls(context, event_worker, periodic)

    def wake_event_worker(self) -> None:
        if self.event_worker is not None:
            self.event_worker.notify()

    def health(self) -> dict[str, Any]:
        """This process's view (the shared one, from the database, is in /api/v1/health)."""
        tasks: dict[str, Any] = {}
        if self.event_worker is not None:
            health = self.event_worker.health
            tasks["registry_events"] = {
                "last_run_at": health.last_run_at.isoformat() if health.last_run_at else None,
                "last_error": health.last_error,
                "processed": health.processed,
            }
        for runner in self.periodic:
            tasks[runner.task.name] = {
                "last_run_at": runner.state.last_run_at.isoformat()
                if runner.state.last_run_at
                else None,
                "last_error": runner.state.last_error,
                "failures_in_a_row": runner.state.failures,
            }
        return tasks

    async def run(self) -> None:
        """Until cancelled; one loop failing never stops the others."""
        loops = [runner.run_forever() for runner in self.periodic]
        if self.event_worker is not None:
            loops.append(self.event_worker.run())
        tasks = [asyncio.create_task(loop) for loop in loops]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
