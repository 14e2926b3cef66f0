"""End to end: the garbage collector against a real registry (the issue's acceptance)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.core.db import session_scope, utcnow
from app.models import Activity, Tag
from app.registry.gc.service import gc_pass
from app.registry.sync.service import sync_pass
from tests.e2e.registry_bench import RegistryBench, ok, registry_bench
from tests.support.tools import require_tool

pytestmark = pytest.mark.e2e

GC = {"delete": {"garbage_collector": {"older_than": 5, "keep_latest": 2}}}


async def age(
    bench: RegistryBench, pushed_days: dict[str, float], pulled_days: dict[str, float]
) -> None:
    """Set push (and pull) times back, as if the tags were pushed days ago."""
    now = utcnow()
    async with session_scope(bench.sessionmaker) as session:
        for name, days in pushed_days.items():
            values: dict[str, object] = {"pushed_at": now - timedelta(days=days)}
            if name in pulled_days:
                values["pulled_at"] = now - timedelta(days=pulled_days[name])
            await session.execute(update(Tag).where(Tag.name == name).values(**values))


async def populate(bench: RegistryBench) -> dict[str, str]:
    digests = {
        f"t{n}": bench.push("team/app", f"t{n}", f"content {n}".encode()) for n in range(1, 8)
    }
    # "stable" shares t1's digest and is the newest push: it must survive t1's deletion.
    digests["stable"] = bench.push("team/app", "stable", b"content 1")
    assert digests["stable"] == digests["t1"]
    bench.push("team/other", "lonely", b"lonely")
    report = await sync_pass(bench.ctx, "update")
    assert len(report.tags_created) == 9
    # t1..t7 pushed 19..13 days ago, "stable" yesterday; t6 pulled yesterday; "lonely" 30
    # days ago, alone in its repository.
    await age(
        bench,
        {**{f"t{n}": 20 - n for n in range(1, 8)}, "stable": 1, "lonely": 30},
        {"t6": 1},
    )
    return digests


async def test_gc_keeps_the_newest_per_repository_and_digest_siblings(tmp_path: Path) -> None:
    require_tool("skopeo")
    async with registry_bench(tmp_path, **GC) as bench:
        digests = await populate(bench)
        all_tags = sorted(digests)
        before = await bench.db_tags()
        activities = await bench.activity_count()

        # --dry-run: exactly what would go, and nothing changes anywhere.
        dry = await gc_pass(bench.ctx, dry_run=True)
        doomed = ["t1", "t2", "t3", "t4", "t5"]
        assert [c.reference for c in dry.candidates] == [f"team/app:{t}" for t in doomed]
        assert dry.deleted == []
        assert bench.registry_tags("team/app") == all_tags
        assert await bench.db_tags() == before
        assert await bench.activity_count() == activities

        progress: list[tuple[int, int, str]] = []
        report = await gc_pass(
            bench.ctx, dry_run=False, progress=lambda d, t, n: progress.append((d, t, n))
        )
        assert report.errors == [] and report.skipped == []
        assert report.deleted == [f"team/app:{t}" for t in doomed]
        assert progress[-1] == (5, 5, "team/app:t5")

        # The registry: exactly the survivors; "stable" (t1's digest) still pulls, same digest.
        assert bench.registry_tags("team/app") == ["stable", "t6", "t7"]
        assert bench.registry_tags("team/other") == ["lonely"]
        inspected = json.loads(ok(bench.inspect("team/app", "stable")).stdout)
        assert inspected["Digest"] == digests["t1"]
        ok(bench.pull("team/app", "stable", tmp_path / "pulled"))
        assert bench.inspect("team/app", "t1").returncode != 0

        # The database agrees, and each deletion is an activity.
        assert sorted(await bench.db_tags()) == [
            "team/app:stable",
            "team/app:t6",
            "team/app:t7",
            "team/other:lonely",
        ]
        async with session_scope(bench.sessionmaker) as session:
            deletions = (
                await session.scalars(select(Activity).where(Activity.key == "repository.delete"))
            ).all()
        assert sorted(a.parameters["tag_name"] for a in deletions) == doomed
        assert {a.parameters["reason"] for a in deletions} == {"garbage collector"}
        assert {a.owner_id for a in deletions} == {None}

        # The registry and the database agree: a sync finds nothing to fix; a second GC pass
        # finds nothing to delete.
        assert not (await sync_pass(bench.ctx, "update-delete")).changed
        assert (await gc_pass(bench.ctx, dry_run=True)).candidates == []


async def test_a_registry_error_on_one_tag_does_not_stop_the_pass(tmp_path: Path) -> None:
    require_tool("skopeo")
    async with registry_bench(tmp_path, **GC) as bench:
        await populate(bench)
        # Behind our back: t2 was deleted in the registry (already gone counts as done), and t1
        # was pushed again with other content (the registry no longer has t1 at the digest we
        # know: refusing to untag it is right, and the pass goes on).
        bench.delete("team/app", "t2")
        bench.push("team/app", "t1", b"content 1, rebuilt")
        report = await gc_pass(bench.ctx, dry_run=False)
        assert report.deleted == [f"team/app:t{n}" for n in (2, 3, 4, 5)]
        assert len(report.errors) == 1
        assert report.errors[0].startswith("team/app:t1: the registry did not delete the tag")
        assert bench.registry_tags("team/app") == ["stable", "t1", "t6", "t7"]
        assert "team/app:t1" in await bench.db_tags()
