"""The garbage collector (`delete.garbage_collector`): delete tags nobody pushed or pulled lately.

A tag is collected when all of these hold:
- its name matches `tag` (a regular expression, searched; empty matches every tag);
- it is not among the newest `keep_latest` matching tags *of its repository* (Portus counted
  the tags of the whole database, so one busy repository protected every other one);
- its last push is older than `older_than` days, and so is its last pull, if any. The push time
  is `pushed_at` (the registry's time, or when the sync saw it), else when the row was created;
  never `updated_at`, which a pull moves too.

Each tag is deleted alone, through the same code as the API's tag delete (`remove_tag`): tags
sharing its digest keep pulling. Each deletion is its own transaction and activity; a registry
error on one tag is reported and the pass goes on.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import INTERNAL
from app.core.config import GarbageCollectorSettings
from app.core.db import session_scope, utcnow
from app.core.errors import NotFound
from app.core.progress import Progress
from app.registry.context import RegistryJobContext
from app.registry.deletion import service as deletion
from app.registry.gc import repository as queries
from app.repositories import service as repositories

REASON = "garbage collector"


@dataclass(frozen=True)
class Candidate:
    tag_id: int
    repository_id: int
    repository: str  # full name, as the registry knows it
    tag: str
    digest: str
    pushed_at: datetime
    pulled_at: datetime | None

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


@dataclass
class GcReport:
    dry_run: bool
    settings: GarbageCollectorSettings
    cutoff: datetime
    candidates: list[Candidate] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    # Candidates that were pushed or pulled (or deleted) between selection and deletion.
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def is_old(tag: queries.TagFacts, cutoff: datetime) -> bool:
    return tag.pushed_at < cutoff and (tag.pulled_at is None or tag.pulled_at < cutoff)


def select_candidates(
    tags: Sequence[queries.TagFacts], settings: GarbageCollectorSettings, cutoff: datetime
) -> list[queries.TagFacts]:
    """The tags to collect among `tags` (any number of repositories)."""
    pattern = re.compile(settings.tag) if settings.tag else None
    chosen: list[queries.TagFacts] = []
    ordered = sorted(tags, key=lambda t: t.repository_id)
    for _, group in groupby(ordered, key=lambda t: t.repository_id):
        matching = [t for t in group if pattern is None or pattern.search(t.name)]
        matching.sort(key=lambda t: (t.pushed_at, t.id), reverse=True)
        chosen.extend(t for t in matching[settings.keep_latest :] if is_old(t, cutoff))
    chosen.sort(key=lambda t: (t.repository, t.pushed_at, t.name))
    return chosen


async def find_candidates(
    session: AsyncSession, settings: GarbageCollectorSettings, *, now: datetime
) -> tuple[datetime, list[Candidate]]:
    """The cutoff (`now` - `older_than` days) and what one pass would delete, in order."""
    cutoff = now - timedelta(days=settings.older_than)
    tags = await queries.tags_of_repositories_with_old_tags(session, cutoff)
    return cutoff, [
        Candidate(
            tag_id=t.id,
            repository_id=t.repository_id,
            repository=t.repository,
            tag=t.name,
            digest=t.digest,
            pushed_at=t.pushed_at,
            pulled_at=t.pulled_at,
        )
        for t in select_candidates(tags, settings, cutoff)
    ]


async def gc_pass(
    ctx: RegistryJobContext,
    *,
    dry_run: bool,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> GcReport:
    """One pass; `dry_run` lists exactly what it would delete and changes nothing."""
    settings = ctx.settings.delete.garbage_collector
    async with session_scope(ctx.sessionmaker) as session:
        cutoff, candidates = await find_candidates(session, settings, now=now or utcnow())
    report = GcReport(dry_run=dry_run, settings=settings, cutoff=cutoff, candidates=candidates)
    if dry_run:
        return report
    for done, candidate in enumerate(candidates, start=1):
        await _collect(ctx, candidate, report)
        if progress is not None:
            progress(done, len(candidates), candidate.reference)
    return report


async def _collect(ctx: RegistryJobContext, candidate: Candidate, report: GcReport) -> None:
    try:
        async with session_scope(ctx.sessionmaker) as session:
            context = await repositories.load_tag(session, INTERNAL, candidate.tag_id)
            tag = context.tag
            facts = queries.facts_of(tag, candidate.repository)
            if tag.digest != candidate.digest or not is_old(facts, report.cutoff):
                report.skipped.append(candidate.reference)
                return
            await deletion.remove_tag(
                session,
                ctx.client_for(context.registry),
                context,
                actor_id=None,
                reason=REASON,
            )
    except NotFound:
        report.skipped.append(candidate.reference)
    except deletion.RegistryFailed as exc:
        report.errors.append(f"{candidate.reference}: {exc.message}")
    else:
        report.deleted.append(candidate.reference)
