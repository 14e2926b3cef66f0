"""All background work of one process: `portus serve` (in-process) or `portus worker`.

- Registry events: a loop over stored events (several processes share them, see events.worker).
- Periodic passes (`periodic.PeriodicTask`): each runs once at a time across every process
  (repository counts; the mail outbox when `email.smtp.enabled`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from app.auth import throttle
from app.core.db import session_scope
from app.jobs.context import TaskContext
from app.jobs.periodic import PassFailed, PeriodicRunner, PeriodicTask
from app.ldap.sync import ldap_group_sync_pass
from app.mail.sender import send_due_mail
from app.oauth import service as oauth
from app.registry.events.processor import EventContext
from app.registry.events.worker import EventWorker
from app.registry.gc.service import gc_pass
from app.registry.sync.service import sync_pass
from app.repositories.service import fold_repository_counts
from app.webhooks import retention
from app.webhooks.sender import run_sender

logger = logging.getLogger(__name__)

MAIL_INTERVAL = 2.0  # seconds: a reset link should not keep its user waiting


async def sync_catalog(context: TaskContext) -> str | None:
    report = await sync_pass(context, context.settings.background.sync.strategy)
    if report.skipped:
        return report.skipped
    summary = (
        f"{report.repositories_seen} repositories seen; created {len(report.namespaces_created)} "
        f"namespaces, {len(report.repositories_created)} repositories, "
        f"{len(report.tags_created)} tags; updated {len(report.tags_updated)} tags; removed "
        f"{len(report.repositories_removed)} repositories, {len(report.tags_removed)} tags"
    )
    if report.errors:
        summary += f"; {len(report.errors)} errors, first: {report.errors[0]}"
    if report.unreachable:
        raise PassFailed(summary)
    # Errors of single repositories recur on every pass (an odd name in the catalog, say): they
    # are reported, but backing the whole sync off for them would starve every other repository.
    for error in report.errors:
        logger.warning("catalog sync: %s", error)
    return summary


async def collect_garbage(context: TaskContext) -> str | None:
    report = await gc_pass(context, dry_run=False)
    summary = (
        f"{len(report.candidates)} candidates; deleted {len(report.deleted)}, "
        f"skipped {len(report.skipped)}"
    )
    if report.errors:
        raise PassFailed(f"{summary}; {len(report.errors)} errors, first: {report.errors[0]}")
    return summary if report.candidates else None


async def housekeeping(context: TaskContext) -> str | None:
    """Rows that only age: failed-login windows that ended, sign-ins with providers that were
    abandoned."""
    async with session_scope(context.sessionmaker) as session:
        windows = await throttle.forget_expired(session, context.settings.login_rate_limit)
        sign_ins = await oauth.forget_expired(session)
    if not windows and not sign_ins:
        return None
    return f"forgot {windows} ended failed-login windows, {sign_ins} abandoned sign-ins"


def periodic_tasks(context: TaskContext) -> list[PeriodicTask]:
    settings = context.settings
    tasks = [
        PeriodicTask("repository_counts", 5.0, fold_repository_counts),
        PeriodicTask("housekeeping", 600.0, housekeeping),
        PeriodicTask("webhook_retention", retention.INTERVAL_SECONDS, retention.prune_deliveries),
    ]
    sync = settings.background.sync
    if sync.enabled:
        once = sync.strategy in ("initial", "on-start")
        tasks.append(PeriodicTask("sync", float(sync.interval), sync_catalog, once=once))
    collector = settings.delete.garbage_collector
    if collector.enabled:
        tasks.append(PeriodicTask("garbage_collector", float(collector.interval), collect_garbage))
    if settings.email.smtp.enabled:
        tasks.append(PeriodicTask("mail", MAIL_INTERVAL, send_due_mail))
    if settings.ldap.enabled and settings.ldap.group_sync.enabled:
        tasks.append(PeriodicTask("ldap_group_sync", 10.0, ldap_group_sync_pass))
    return tasks


@dataclass
class BackgroundRunner:
    context: TaskContext
    event_worker: EventWorker | None = None
    periodic: list[PeriodicRunner] = field(default_factory=list)
    # Set when a webhook delivery was committed in this process (events, re-sends).
    webhook_wake: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def build(cls, context: TaskContext) -> BackgroundRunner:
        settings = context.settings
        runner = cls(context)
        if settings.background.registry.enabled:
            runner.event_worker = EventWorker(
                context.sessionmaker,
                EventContext(
                    client_for=context.client_for,
                    settings=settings,
                    on_committed=runner.webhook_wake.set,
                ),
            )
        runner.periodic = [PeriodicRunner(context, task) for task in periodic_tasks(context)]
        return runner

    def wake_event_worker(self) -> None:
        if self.event_worker is not None:
            self.event_worker.notify()

    def wake_webhook_sender(self) -> None:
        self.webhook_wake.set()

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
        loops.append(run_sender(self.context, self.webhook_wake))
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
