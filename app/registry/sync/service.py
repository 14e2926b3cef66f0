"""The catalog sync: bring the database in line with what the registry holds.

Portus ran the whole sync in one transaction and rolled everything back when a registry event
was still pending, so one busy repository undid the work on all the others (and its
`update-delete` removed tags pushed while it ran). Here:

- each repository is one short transaction, opened only after the registry was asked about it
  (the registry is never talked to with a transaction open);
- a row written after the registry was asked (by event processing, say) is newer than what the
  sync saw, so the sync leaves it alone: it neither overwrites nor removes it;
- every write is an idempotent upsert guarded by the unique constraints, so a second pass, or a
  pass running next to event processing or another pass, changes nothing more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.core.db import session_scope, utcnow
from app.core.names import is_repository_name
from app.core.progress import Progress
from app.models import Namespace, Registry, Repository, Tag
from app.namespaces import service as namespaces
from app.registry.client import ManifestInfo, RegistryClient, RegistryError
from app.registry.context import RegistryJobContext
from app.registry.sync import repository as queries
from app.repositories import service as repositories

logger = logging.getLogger(__name__)

Strategy = Literal["initial", "on-start", "update", "update-delete"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
REASON = "catalog sync"


@dataclass
class SyncReport:
    strategy: str
    # Why the pass did nothing (the `initial` strategy with repositories already known).
    skipped: str | None = None
    repositories_seen: int = 0
    namespaces_created: list[str] = field(default_factory=list)
    repositories_created: list[str] = field(default_factory=list)
    repositories_removed: list[str] = field(default_factory=list)
    tags_created: list[str] = field(default_factory=list)
    tags_updated: list[str] = field(default_factory=list)
    tags_removed: list[str] = field(default_factory=list)
    # One line per registry or repository that could not be synchronised; the others were.
    errors: list[str] = field(default_factory=list)
    # Registries whose catalog could not be read: the pass failed for them (it backs off).
    # A repository's own error (a name the registry accepts and we do not) fails no pass.
    unreachable: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.namespaces_created
            or self.repositories_created
            or self.repositories_removed
            or self.tags_created
            or self.tags_updated
            or self.tags_removed
        )


@dataclass(frozen=True)
class _Observed:
    """What the registry said about one repository, and when we started asking."""

    full_name: str
    asked_at: datetime
    digests: dict[str, str]  # tag -> digest
    # digest -> manifest, for the tags new or changed since the database was read
    manifests: dict[str, ManifestInfo]


async def sync_pass(
    ctx: RegistryJobContext, strategy: str, progress: Progress | None = None
) -> SyncReport:
    """One pass over every registry. `update` adds and updates; the other strategies also remove
    what the registry no longer has (`initial` runs only while no repository is known)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown sync strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    report = SyncReport(strategy=strategy)
    async with session_scope(ctx.sessionmaker) as session:
        registries = list(await queries.registries(session))
        if strategy == "initial" and await queries.any_repository(session):
            report.skipped = "the database already has repositories (strategy initial)"
            return report
    remove = strategy != "update"
    for registry in registries:
        await _sync_registry(ctx, registry, remove=remove, report=report, progress=progress)
    return report


async def _sync_registry(
    ctx: RegistryJobContext,
    registry: Registry,
    *,
    remove: bool,
    report: SyncReport,
    progress: Progress | None,
) -> None:
    client = ctx.client_for(registry)
    catalog_asked_at = utcnow()
    try:
        names = sorted({name async for name in client.catalog()})
    except RegistryError as exc:
        # Never remove anything on the strength of a partial catalog.
        report.errors.append(f"{registry.hostname}: catalog: {exc}")
        report.unreachable.append(registry.hostname)
        return
    async with session_scope(ctx.sessionmaker) as session:
        known = await queries.full_names(session, registry.id)
    gone = sorted(known - set(names)) if remove else []
    total = len(names) + len(gone)
    report.repositories_seen += len(names)
    for done, full_name in enumerate([*names, *gone], start=1):
        observed: _Observed | str
        if done > len(names):
            # Absent from the catalog, as seen when the catalog was asked for.
            observed = _Observed(full_name, catalog_asked_at, {}, {})
        elif not is_repository_name(full_name):
            observed = "not a valid repository name"
        else:
            observed = await _observe(ctx, client, registry, full_name)
        if isinstance(observed, str):
            report.errors.append(f"{full_name}: {observed}")
        else:
            await _apply(ctx, registry, observed, remove=remove, report=report)
        if progress is not None:
            progress(done, total, full_name)


async def _observe(
    ctx: RegistryJobContext, client: RegistryClient, registry: Registry, full_name: str
) -> _Observed | str:
    """The repository's tags and their digests, and the manifests of the tags that are new or
    changed here; asked with no transaction open. A problem comes back as text."""
    async with session_scope(ctx.sessionmaker) as session:
        known = await queries.tag_digests(session, registry.id, full_name)
    asked_at = utcnow()
    digests: dict[str, str] = {}
    manifests: dict[str, ManifestInfo] = {}
    try:
        for tag in await client.tags(full_name):
            digest = await client.manifest_digest(full_name, tag)
            if digest is not None:  # None: deleted since listed
                digests[tag] = digest
        for tag, digest in sorted(digests.items()):
            if known.get(tag, ("", None)) != (digest, True) and digest not in manifests:
                manifests[digest] = await client.manifest(full_name, digest)
    except RegistryError as exc:
        return str(exc)
    return _Observed(full_name, asked_at, digests, manifests)


async def _apply(
    ctx: RegistryJobContext,
    registry: Registry,
    observed: _Observed,
    *,
    remove: bool,
    report: SyncReport,
) -> None:
    """One repository, one transaction."""
    head, sep, rest = observed.full_name.partition("/")
    namespace_name, repository_name = (head, rest) if sep else (None, observed.full_name)
    try:
        async with session_scope(ctx.sessionmaker) as session:
            namespace = await _namespace(session, registry, namespace_name, observed, report)
            if namespace is None:
                return
            repository = await queries.repository_by_name(session, namespace, repository_name)
            if repository is None:
                if not observed.digests:
                    return  # a repository without tags is not imported (Portus neither)
                repository = await repositories.find_or_create_repository(
                    session, namespace, repository_name
                )
                report.repositories_created.append(observed.full_name)
            await _apply_tags(session, namespace, repository, observed, remove, report)
    except LookupError as exc:
        report.errors.append(f"{observed.full_name}: {exc}")


async def _namespace(
    session: AsyncSession,
    registry: Registry,
    name: str | None,
    observed: _Observed,
    report: SyncReport,
) -> Namespace | None:
    namespace = await namespaces.namespace_by_name(session, registry.id, name)
    if namespace is not None or not observed.digests:
        return namespace
    if name is None:
        raise LookupError("the registry has no global namespace")
    if not namespaces.is_valid_name(name):
        report.errors.append(f"{observed.full_name}: {name!r} is not a valid namespace name")
        return None
    namespace = await namespaces.find_or_create_pushed_namespace(
        session, registry, name, None, reason=REASON
    )
    report.namespaces_created.append(name)
    return namespace


async def _apply_tags(
    session: AsyncSession,
    namespace: Namespace,
    repository: Repository,
    observed: _Observed,
    remove: bool,
    report: SyncReport,
) -> None:
    rows = await queries.tags_of(session, repository.id)
    for name, digest in sorted(observed.digests.items()):
        info = observed.manifests.get(digest)
        row = rows.get(name)
        if row is not None and row.updated_at > observed.asked_at:
            continue  # written after we asked the registry: newer than what we saw
        if info is None:
            continue  # unchanged when we asked (or changed since: the next pass sees it)
        if row is None:
            if await _create_tag(session, repository, name, info, observed.asked_at):
                report.tags_created.append(f"{observed.full_name}:{name}")
        elif row.digest != digest:
            _set_manifest(row, info, observed.asked_at)
            _record_push(session, repository, row)
            report.tags_updated.append(f"{observed.full_name}:{name}")
        elif row.size != info.size:
            row.size, row.image_id, row.media_type = info.size, info.image_id, info.media_type
            report.tags_updated.append(f"{observed.full_name}:{name}")
    await session.flush()
    if not remove:
        return
    stale = [
        tag
        for name, tag in sorted(rows.items())
        if name not in observed.digests and tag.updated_at <= observed.asked_at
    ]
    if not stale:
        return
    gone = await repositories.forget_tags(
        session, namespace, repository, stale, actor_id=None, reason=REASON
    )
    report.tags_removed.extend(f"{observed.full_name}:{tag.name}" for tag in stale)
    if gone:
        report.repositories_removed.append(observed.full_name)


def _set_manifest(tag: Tag, info: ManifestInfo, seen_at: datetime) -> None:
    tag.digest = info.digest
    tag.media_type = info.media_type
    tag.image_id = info.image_id
    tag.size = info.size
    # When the registry was seen serving it: an event of an older push must not overwrite it.
    tag.pushed_at = seen_at
    tag.marked = False


async def _create_tag(
    session: AsyncSession, repository: Repository, name: str, info: ManifestInfo, seen_at: datetime
) -> bool:
    """Insert the tag; False if someone else (event processing) inserted it meanwhile."""
    tag = Tag(name=name, repository_id=repository.id, user_id=None, username=None)
    _set_manifest(tag, info, seen_at)
    try:
        async with session.begin_nested():
            session.add(tag)
            await session.flush()
    except IntegrityError:
        return False
    _record_push(session, repository, tag)
    return True


def _record_push(session: AsyncSession, repository: Repository, tag: Tag) -> None:
    activities.record(
        session,
        "repository.push",
        trackable_type="Repository",
        trackable_id=repository.id,
        owner_id=None,
        recipient_type="Tag",
        recipient_id=tag.id,
        parameters={"tag_name": tag.name, "digest": tag.digest, "reason": REASON},
    )
