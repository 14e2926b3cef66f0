"""Which tags the garbage collector picks (against the database, on both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import GarbageCollectorSettings
from app.models import Namespace, Registry, Repository, Tag
from app.namespaces import service as namespaces
from app.registry.gc.service import find_candidates
from tests.fixtures import factories

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


class Bench:
    def __init__(self, session: AsyncSession, registry: Registry, namespace: Namespace) -> None:
        self.session = session
        self.registry = registry
        self.namespace = namespace

    async def repository(self, name: str, namespace: Namespace | None = None) -> Repository:
        repository = Repository(name=name, namespace_id=(namespace or self.namespace).id)
        self.session.add(repository)
        await self.session.flush()
        return repository

    async def tag(
        self,
        repository: Repository,
        name: str,
        *,
        pushed: float | None,
        pulled: float | None = None,
        digest: str | None = None,
        created: float = 0,
    ) -> Tag:
        tag = Tag(
            name=name,
            repository_id=repository.id,
            digest=digest or f"sha256:{repository.id}-{name}",
            pushed_at=None if pushed is None else days_ago(pushed),
            pulled_at=None if pulled is None else days_ago(pulled),
            created_at=days_ago(created),
        )
        self.session.add(tag)
        await self.session.flush()
        return tag

    async def candidates(self, **settings: object) -> list[str]:
        gc = GarbageCollectorSettings.model_validate(
            {"older_than": 30, "keep_latest": 0} | settings
        )
        _, found = await find_candidates(self.session, gc, now=NOW)
        return [c.reference for c in found]


async def make_bench(session: AsyncSession) -> Bench:
    registry = await factories.create_registry(session)
    namespace = await factories.create_namespace(session, registry, name="team")
    return Bench(session, registry, namespace)


class TestKeepLatest:
    async def test_counts_per_repository(self, session: AsyncSession) -> None:
        bench = await make_bench(session)
        busy = await bench.repository("busy")
        for n in range(1, 5):
            await bench.tag(busy, f"v{n}", pushed=100 - n)
        quiet = await bench.repository("quiet")
        await bench.tag(quiet, "only", pushed=200)
        # Portus compared keep_latest with the number of tags in the whole database (5 > 2)
        # and collected "quiet:only" too.
        assert await bench.candidates(keep_latest=2) == ["team/busy:v1", "team/busy:v2"]

    async def test_keeps_the_newest_by_push(self, session: AsyncSession) -> None:
        bench = await make_bench(session)
        repository = await bench.repository("app")
        await bench.tag(repository, "newest-name-oldest-push", pushed=90)
        await bench.tag(repository, "b", pushed=40)
        await bench.tag(repository, "a", pushed=50)
        assert await bench.candidates(keep_latest=1) == [
            "team/app:newest-name-oldest-push",
            "team/app:a",
        ]

    async def test_zero_keeps_nothing(self, session: AsyncSession) -> None:
        bench = await make_bench(session)
        repository = await bench.repository("app")
        await bench.tag(repository, "a", pushed=40)
        assert await bench.candidates(keep_latest=0) == ["team/app:a"]
        assert await bench.candidates(keep_latest=1) == []


class TestAge:
    async def test_recent_push_is_kept(self, session: AsyncSession) -> None:
        bench = await make_bench(session)
        repository = await bench.repository("app")
        await bench.tag(repository, "old", pushed=31)
        await bench.tag(repository, "recent", pushed=29)
        assert await bench.candidates() == ["team/app:old"]
        assert await bench.candidates(older_than=32) == []
        assert await bench.candidates(older_than=0) == ["team/app:old", "team/app:recent"]

    async def test_recent_pull_is_kept(self, session: AsyncSession) -> None:
        bench = await make_bench(session)
        repository = await bench.repository("app")
        await bench.tag(repository, "pulled-lately", pushed=300, pulled=2)
        await bench.tag(repository, "pulled-long-ago", pushed=300, pulled=60)
        await bench.tag(repository, "never-pulled", pushed=300)
        assert await bench.candidates() == ["team/app:never-pulled", "team/app:pulled-long-ago"]

    async def test_without_a_push_time_the_row_creation_counts(self, session: AsyncSession) -> None:
        bench = await make_bench(session)
        repository = await bench.repository("app")
        await bench.tag(repository, "legacy-old", pushed=None, created=45)
        await bench.tag(repository, "legacy-new", pushed=None, created=5)
        assert await bench.candidates() == ["team/app:legacy-old"]


class TestTagPattern:
    async def test_only_matching_tags_are_collected_and_counted(
        self, session: AsyncSession
    ) -> None:
        bench = await make_bench(session)
        repository = await bench.repository("app")
        await bench.tag(repository, "latest", pushed=100)
        await bench.tag(repository, "stable", pushed=35)
        for n in range(1, 4):
            await bench.tag(repository, f"build-{n}", pushed=90 - n)
        # keep_latest counts the matching tags: build-3 stays although newer tags exist.
        assert await bench.candidates(tag="^build-", keep_latest=1) == [
            "team/app:build-1",
            "team/app:build-2",
        ]
        # Searched, like Portus's Ruby `=~`, not anchored.
        assert await bench.candidates(tag="ab", keep_latest=0) == [
            "team/app:stable",
        ]
        assert await bench.candidates(keep_latest=4) == ["team/app:latest"]


class TestSiblings:
    async def test_a_kept_tag_does_not_protect_or_condemn_its_digest_siblings(
        self, session: AsyncSession
    ) -> None:
        bench = await make_bench(session)
        repository = await bench.repository("app")
        await bench.tag(repository, "old-alias", pushed=80, digest="sha256:shared")
        await bench.tag(repository, "other", pushed=70)
        await bench.tag(repository, "current", pushed=1, digest="sha256:shared")
        found = await bench.candidates(keep_latest=1)
        assert found == ["team/app:old-alias", "team/app:other"]


class TestNames:
    async def test_global_namespace_repositories_have_no_prefix(
        self, session: AsyncSession
    ) -> None:
        bench = await make_bench(session)
        global_ns = await namespaces.global_namespace(session, bench.registry.id)
        assert global_ns is not None
        repository = await bench.repository("busybox", global_ns)
        await bench.tag(repository, "1", pushed=40)
        assert await bench.candidates() == ["busybox:1"]
