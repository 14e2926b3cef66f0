"""End to end: the catalog sync against a real registry the service was never told about."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select

from app.core.db import session_scope
from app.jobs.periodic import PassFailed
from app.jobs.runner import sync_catalog
from app.models import Activity, Namespace, Registry, Tag, Visibility
from app.registry.sync.service import sync_pass
from tests.conftest import make_settings
from tests.e2e.registry_bench import registry_bench
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e


async def test_sync_imports_updates_and_removes(tmp_path: Path) -> None:
    require_tool("skopeo")
    # catalog_page 2 with 4 repositories and 3 tags in one: both listings take several pages.
    async with registry_bench(tmp_path, registry={"catalog_page": {"value": 2}}) as bench:
        digests = {
            "alpha:1": bench.push("alpha", "1", b"alpha one"),
            "team/app:1": bench.push("team/app", "1", b"app one"),
            "team/app:2": bench.push("team/app", "2", b"app two"),
            "team/app:3": bench.push("team/app", "3", b"app one"),  # shares 1's digest
            "newns/one:v1": bench.push("newns/one", "v1", b"one"),
            "newns/two:v1": bench.push("newns/two", "v1", b"two"),
        }
        assert await bench.db_tags() == {}
        seen: list[tuple[int, int, str]] = []

        report = await sync_pass(
            bench.ctx, "initial", progress=lambda d, t, n: seen.append((d, t, n))
        )

        assert report.errors == []
        assert report.repositories_seen == 4
        assert sorted(report.namespaces_created) == ["newns", "team"]
        assert sorted(report.repositories_created) == [
            "alpha",
            "newns/one",
            "newns/two",
            "team/app",
        ]
        assert sorted(report.tags_created) == sorted(digests)
        assert seen[-1] == (4, 4, "team/app")
        tags = await bench.db_tags()
        assert {name: digest for name, (digest, _) in tags.items()} == digests
        assert all(size is not None and size > 0 for _, size in tags.values())
        async with session_scope(bench.sessionmaker) as session:
            created = (
                await session.scalars(
                    select(Namespace).where(Namespace.name.in_(["team", "newns"]))
                )
            ).all()
            assert {ns.visibility for ns in created} == {Visibility.private}
            pushes = (
                await session.scalars(select(Activity).where(Activity.key == "repository.push"))
            ).all()
            assert len(pushes) == 6
            assert {a.owner_id for a in pushes} == {None}

        # A second pass finds nothing to do; `initial` does not even look any more.
        activities = await bench.activity_count()
        again = await sync_pass(bench.ctx, "update-delete")
        assert not again.changed and again.errors == []
        assert await bench.activity_count() == activities
        skipped = await sync_pass(bench.ctx, "initial")
        assert skipped.skipped is not None

        # Behind the service's back: one image deleted, one tag pushed again with new content.
        bench.delete("newns/two", "v1")
        digests["team/app:2"] = bench.push("team/app", "2", b"app two, rebuilt")
        del digests["newns/two:v1"]

        update = await sync_pass(bench.ctx, "update")
        assert update.tags_updated == ["team/app:2"]
        assert update.tags_removed == [] and update.repositories_removed == []
        assert "newns/two:v1" in await bench.db_tags()

        full = await sync_pass(bench.ctx, "update-delete")
        assert full.tags_updated == []
        assert full.tags_removed == ["newns/two:v1"]
        assert full.repositories_removed == ["newns/two"]
        tags = await bench.db_tags()
        assert {name: digest for name, (digest, _) in tags.items()} == digests
        async with session_scope(bench.sessionmaker) as session:
            keys = ["repository.delete", "namespace.delete"]
            removed = (await session.scalars(select(Activity).where(Activity.key.in_(keys)))).all()
            assert sorted(a.key for a in removed) == ["namespace.delete", "repository.delete"]
            assert all(a.parameters["reason"] == "catalog sync" for a in removed)

        last = await sync_pass(bench.ctx, "update-delete")
        assert not last.changed and last.errors == []


async def test_sync_reports_an_unreachable_registry_and_removes_nothing(tmp_path: Path) -> None:
    require_tool("skopeo")
    async with registry_bench(tmp_path) as bench:
        bench.push("team/app", "1", b"one")
        assert (await sync_pass(bench.ctx, "update-delete")).tags_created == ["team/app:1"]
        bench.registry.stop()
        report = await sync_pass(bench.ctx, "update-delete")
        assert len(report.errors) == 1 and "catalog" in report.errors[0]
        assert not report.changed
        assert list(await bench.db_tags()) == ["team/app:1"]


async def test_rows_written_after_the_registry_was_asked_are_left_alone(tmp_path: Path) -> None:
    """Event processing may record a push between the sync's look at the registry and its
    transaction: what the sync saw is then older than the row, which it neither overwrites
    nor removes (Portus rolled back the whole pass instead)."""
    from datetime import timedelta

    from app.registry.client import ManifestInfo
    from app.registry.sync.service import SyncReport, _apply, _Observed

    require_tool("skopeo")
    async with registry_bench(tmp_path) as bench:
        digest = bench.push("team/app", "1", b"one")
        await sync_pass(bench.ctx, "update-delete")
        async with session_scope(bench.sessionmaker) as session:
            registry = (await session.scalars(select(Registry))).one()
            tag = (await session.scalars(select(Tag))).one()
            before = tag.updated_at - timedelta(seconds=1)
        stale = ManifestInfo(digest="sha256:" + "1" * 64, media_type="x", image_id=None, size=1)
        report = SyncReport(strategy="update-delete")
        for observed in (
            _Observed("team/app", before, {}, {}),  # "gone", as seen before the push
            _Observed("team/app", before, {"1": stale.digest}, {stale.digest: stale}),
        ):
            await _apply(bench.ctx, registry, observed, remove=True, report=report)
        assert not report.changed
        assert {name: d for name, (d, _) in (await bench.db_tags()).items()} == {
            "team/app:1": digest
        }


async def test_a_repository_the_sync_cannot_take_fails_no_pass(tmp_path: Path) -> None:
    """`a__b` is a name the registry accepts and Portus's namespaces do not. That error comes
    back on every pass: it is reported, but does not fail the pass (a failed pass backs the
    whole sync off, up to 5 minutes, for every other repository). An unreachable registry does
    fail it."""
    require_tool("skopeo")
    async with registry_bench(tmp_path) as bench:
        bench.push("a__b/app", "1", b"odd")
        bench.push("team/app", "1", b"one")
        ctx = replace(
            bench.ctx,
            settings=make_settings(bench.ctx.settings, background={"sync": {"strategy": "update"}}),
        )
        summary = await sync_catalog(ctx)
        assert summary is not None
        assert "1 errors" in summary and "a__b" in summary
        assert list(await bench.db_tags()) == ["team/app:1"]
        bench.registry.stop()
        with pytest.raises(PassFailed, match="catalog"):
            await sync_catalog(ctx)
