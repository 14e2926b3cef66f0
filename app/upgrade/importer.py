"""`portus import-portus`: a Portus installation's data into our (empty) database, in one pass.

The Portus database is read in one snapshot, table by table in dependency order; each batch is
mapped (app.upgrade.mapping) and inserted with Core executemany statements. All of it is one
transaction of ours: an import that fails leaves nothing behind. Portus's ids are kept, and the
id sequences are moved past them afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.config import Settings
from app.core.crypto import secret_box
from app.core.progress import Progress
from app.models import (
    ApplicationToken,
    Base,
    Namespace,
    PortusImport,
    Registry,
    Repository,
    SetupStep,
    Team,
    User,
)
from app.upgrade import mapping
from app.upgrade.source import PortusSource, open_source, shown, source_url
from app.webhooks.service import new_secret

# (Portus table, our table, mapper) in the order relations need.
# A mapper returns the row to insert (a delivery: with its attempt).
Mapper = Callable[
    [mapping.Row, mapping.Context], dict[str, Any] | tuple[dict[str, Any], dict[str, Any]]
]
STEPS: tuple[tuple[str, str, Mapper], ...] = (
    ("registries", "registries", mapping.registry),
    ("teams", "teams", mapping.team),
    ("namespaces", "namespaces", mapping.namespace),
    ("users", "users", mapping.user),
    ("team_users", "team_users", mapping.team_user),
    ("repositories", "repositories", mapping.repository),
    ("tags", "tags", mapping.tag),
    ("stars", "stars", mapping.star),
    ("comments", "comments", mapping.comment),
    ("webhooks", "webhooks", mapping.webhook),
    ("webhook_headers", "webhook_headers", mapping.webhook_header),
    ("webhook_deliveries", "webhook_deliveries", mapping.webhook_delivery),
    ("activities", "activities", mapping.activity),
    ("application_tokens", "application_tokens", mapping.application_token),
)
NOT_IMPORTED = {
    "registry_events": "the registry's notifications already processed (new ones come to us)",
    "vulnerabilities, scan_results": "security scanning results (no scanner is configured here)",
}


class ImportRefused(Exception):
    """The target database cannot take this import: the message says why, in one line."""


@dataclass
class Summary:
    source: str
    schema_version: str
    dry_run: bool
    read: dict[str, int] = field(default_factory=dict)
    imported: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    adjusted: dict[str, dict[str, int]] = field(default_factory=dict)
    not_imported: dict[str, str] = field(default_factory=lambda: dict(NOT_IMPORTED))

    def as_json(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "imported": self.imported,
            "skipped": self.skipped,
            "adjusted": self.adjusted,
            "not_imported": self.not_imported,
        }


async def _refuse_unless_empty(conn: AsyncConnection, force: bool) -> None:
    previous = (
        await conn.execute(
            select(PortusImport.source, PortusImport.created_at).order_by(PortusImport.id.desc())
        )
    ).first()
    if previous is not None and not force:
        raise ImportRefused(
            f"already imported from {previous.source} on {previous.created_at:%Y-%m-%d %H:%M} "
            "UTC (--force imports again, into an empty database only)"
        )
    counts = {}
    for model in (User, Team, Namespace, Registry, Repository):
        counts[model.__tablename__] = int(
            await conn.scalar(select(func.count()).select_from(model)) or 0
        )
    present = {name: n for name, n in counts.items() if n}
    if present:
        listed = ", ".join(f"{n} {name}" for name, n in present.items())
        raise ImportRefused(f"the database is not empty ({listed}): import into a new one")


async def _move_sequences_past_ids(conn: AsyncConnection, tables: list[str]) -> None:
    """PostgreSQL: ids were given, so each sequence starts after the highest. (SQLite's
    AUTOINCREMENT records the highest id inserted by itself.)"""
    if conn.dialect.name != "postgresql":
        return
    for name in tables:
        await conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608 (our names)
                f"coalesce((SELECT max(id) FROM {name}), 0) + 1, false)"
            )
        )


async def _import_table(
    source: PortusSource,
    target: AsyncConnection | None,
    ctx: mapping.Context,
    summary: Summary,
    step: tuple[str, str, Mapper],
    progress: Callable[[str, int], Progress | None],
) -> None:
    portus_table, our_table, mapper = step
    table: Table = Base.metadata.tables[our_table]
    attempts: Table = Base.metadata.tables["webhook_attempts"]
    total = await source.count(portus_table)
    report = progress(portus_table, total)
    done = imported = 0
    async for batch in source.rows(portus_table):
        rows: list[dict[str, Any]] = []
        extra: list[dict[str, Any]] = []
        for row in batch:
            try:
                mapped = mapper(row, ctx)
            except mapping.Skip as exc:
                ctx.skip(portus_table, row, str(exc))
                continue
            if isinstance(mapped, tuple):  # a delivery and its attempt
                mapped, attempt = mapped
                extra.append(attempt)
            ctx.ids[portus_table].add(int(row["id"]))
            rows.append(mapped)
        if target is not None and rows:
            await target.execute(insert(table), rows)
            if extra:
                await target.execute(insert(attempts), extra)
        done += len(batch)
        imported += len(rows)
        if report is not None:
            report(done, total, portus_table)
    summary.read[portus_table] = total
    summary.imported[our_table] = imported


async def import_portus(
    settings: Settings,
    engine: AsyncEngine | None,
    url: str,
    *,
    force: bool = False,
    progress: Callable[[str, int], Progress | None] = lambda table, total: None,
) -> Summary:
    """Import the Portus database at `url` into `engine`'s (migrated) database; with no
    engine, a dry run: everything is read and mapped, nothing is written. Raises
    SourceError or ImportRefused with a one-line reason."""
    source_address = source_url(url)
    ctx = mapping.Context(box=secret_box(settings), new_webhook_secret=new_secret)
    async with open_source(source_address) as source:
        version = await source.schema_version()
        summary = Summary(
            source=shown(source_address), schema_version=version, dry_run=engine is None
        )
        if engine is None:
            for step in STEPS:
                await _import_table(source, None, ctx, summary, step, progress)
        else:
            async with engine.begin() as target:
                await _refuse_unless_empty(target, force)
                for step in STEPS:
                    await _import_table(source, target, ctx, summary, step, progress)
                await _move_sequences_past_ids(
                    target, [our for _, our, _ in STEPS] + ["webhook_attempts"]
                )
                if summary.imported.get("users"):
                    # The users came with their admins: there is nothing to bootstrap.
                    await target.execute(insert(SetupStep), {"name": "bootstrap"})
                _tally(summary, ctx)
                await target.execute(
                    insert(PortusImport),
                    {
                        "source": summary.source,
                        "schema_version": version,
                        "summary": summary.as_json(),
                    },
                )
    _tally(summary, ctx)
    return summary


def _tally(summary: Summary, ctx: mapping.Context) -> None:
    summary.skipped = {t: dict(c) for t, c in ctx.skipped.items()}
    summary.adjusted = {t: dict(c) for t, c in ctx.adjusted.items()}
    summary.examples = {f"{t}: {reason}": ids for (t, reason), ids in ctx.examples.items()}


async def retire_legacy_tokens(engine: AsyncEngine) -> tuple[int, int]:
    """Delete every application token imported from Portus (their users make new ones); the
    number deleted, and the number of users whose password is still Portus's bcrypt hash (it
    is replaced at their next login, and works until then)."""
    async with engine.begin() as conn:
        deleted = await conn.execute(
            delete(ApplicationToken).where(ApplicationToken.legacy_hash.is_not(None))
        )
        legacy_passwords = await conn.scalar(
            select(func.count()).select_from(User).where(User.encrypted_password.like("$2%"))
        )
    return int(deleted.rowcount or 0), int(legacy_passwords or 0)
