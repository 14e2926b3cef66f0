"""`portus import-portus` at scale: a Portus 2.4 database in MariaDB with 10,000 users,
100,000 tags and 200,000 activities (by default), imported into a new database of ours.

    .venv/bin/python bench/import_bench.py [--users 10000 --tags 100000 --activities 200000]
        [--mysql mysql://root@127.0.0.1:3306/test] [--target sqlite|postgresql://…]

Prints the time to build the source (not measured), then the import's wall time and rows per
second per table. The Portus schema is the one the tests build (tests/fixtures/portus_db.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.core.config import Settings  # noqa: E402
from app.core.db import create_engine  # noqa: E402
from app.upgrade import importer  # noqa: E402
from tests.fixtures import portus_db  # noqa: E402
from tests.fixtures.database import throwaway_database  # noqa: E402

BATCH = 5000
PASSWORD_HASH = portus_db.devise_password("bench-password", cost=4)
TOKEN = portus_db.portus_token_row("bench-token-aaaaaaaa", cost=4)


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == BATCH:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def build_source(url: str, users: int, tags: int, activities: int) -> None:
    """Users with personal teams and namespaces, one team namespace per 10 users with
    repositories, tags spread over them, activities with YAML parameters, a token per 10
    users. Ids are given, so that relations are known without reading back."""
    t = portus_db.portus.tables
    now = portus_db.T0
    stamps = {"created_at": now, "updated_at": now}
    engine = await portus_db.open_portus(url)
    teams_n = users // 10
    repos_n = max(1, tags // 10)

    async def put(table: str, rows: Iterator[dict[str, Any]]) -> None:
        for chunk in _chunks(rows):
            async with engine.begin() as conn:
                await conn.execute(t[table].insert(), chunk)

    try:
        await put(
            "registries",
            iter([{"id": 1, "name": "r", "hostname": "registry:5000", "use_ssl": False, **stamps}]),
        )
        # team ids: 1..users personal, users+1.. shared; namespace ids the same
        await put(
            "teams",
            ({"id": i, "name": f"user{i}", "hidden": True, **stamps} for i in range(1, users + 1)),
        )
        await put(
            "teams",
            (
                {"id": users + i, "name": f"team{i}", "hidden": False, **stamps}
                for i in range(1, teams_n + 1)
            ),
        )
        await put(
            "namespaces",
            (
                {
                    "id": i,
                    "name": f"user{i}" if i <= users else f"team{i - users}",
                    "team_id": i,
                    "registry_id": 1,
                    "visibility": 0,
                    **stamps,
                }
                for i in range(1, users + teams_n + 1)
            ),
        )
        await put(
            "users",
            (
                {
                    "id": i,
                    "username": f"user{i}",
                    "email": f"user{i}@example.com",
                    "encrypted_password": PASSWORD_HASH,
                    "namespace_id": i,
                    "admin": i == 1,
                    **stamps,
                }
                for i in range(1, users + 1)
            ),
        )
        await put(
            "team_users",
            ({"team_id": i, "user_id": i, "role": 2, **stamps} for i in range(1, users + 1)),
        )
        await put(
            "team_users",
            (
                {"team_id": users + 1 + (i - 1) // 10, "user_id": i, "role": i % 3, **stamps}
                for i in range(1, users + 1)
            ),
        )
        await put(
            "repositories",
            (
                {"id": i, "name": f"repo{i}", "namespace_id": users + 1 + i % teams_n, **stamps}
                for i in range(1, repos_n + 1)
            ),
        )
        await put(
            "tags",
            (
                {
                    "name": f"v{i}",
                    "repository_id": 1 + i % repos_n,
                    "user_id": 1 + i % users,
                    "username": f"user{1 + i % users}",
                    "digest": f"sha256:{i:064x}",
                    "image_id": f"{i:064x}",
                    **stamps,
                }
                for i in range(tags)
            ),
        )
        params = portus_db.ruby_yaml(
            {"tag_name": "latest", "namespace_name": "team1", "repository_name": "repo1"}
        )
        await put(
            "activities",
            (
                {
                    "trackable_type": "Repository",
                    "trackable_id": 1 + i % repos_n,
                    "owner_id": 1 + i % users,
                    "owner_type": "User",
                    "key": "repository.push",
                    "parameters": params,
                    **stamps,
                }
                for i in range(activities)
            ),
        )
        await put(
            "application_tokens",
            ({"application": "ci", "user_id": i, **TOKEN} for i in range(1, users + 1, 10)),
        )
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    import os

    os.environ["PORTUS_TEST_MYSQL_URL"] = args.mysql
    async with portus_db.portus_database("mysql") as url:
        started = time.perf_counter()
        await build_source(url, args.users, args.tags, args.activities)
        built = time.perf_counter() - started
        print(f"source built in {built:.1f} s (not measured)", file=sys.stderr)
        if args.target != "sqlite":
            os.environ["PORTUS_TEST_DATABASE_URL"] = args.target
        else:
            os.environ.pop("PORTUS_TEST_DATABASE_URL", None)
        with tempfile.TemporaryDirectory() as tmp:
            async with throwaway_database(Path(tmp)) as target:
                settings = Settings(
                    data_dir=Path(tmp) / "data", database_url=target, secret_key_base="bench"
                )
                engine = create_engine(target, pool_size=1)
                timings: dict[str, float] = {}

                def progress(table: str, total: int) -> None:
                    """Called as each table starts: its start time."""
                    timings[table] = time.perf_counter()

                try:
                    started = time.perf_counter()
                    summary = await importer.import_portus(settings, engine, url, progress=progress)
                    elapsed = time.perf_counter() - started
                finally:
                    await engine.dispose()
    ordered = sorted(timings.items(), key=lambda item: item[1])
    per_table = {}
    for (table, begun), following in zip(
        ordered, [*ordered[1:], ("end", started + elapsed)], strict=True
    ):
        per_table[table] = round(following[1] - begun, 2)
    result = {
        "target": args.target.split(":")[0],
        "users": args.users,
        "tags": args.tags,
        "activities": args.activities,
        "import_seconds": round(elapsed, 1),
        "rows_imported": sum(summary.imported.values()),
        "rows_per_second": round(sum(summary.imported.values()) / elapsed),
        "seconds_per_table": per_table,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=200_000)
    parser.add_argument("--mysql", default="mysql://root@127.0.0.1:3306/test")
    parser.add_argument(
        "--target",
        default="sqlite",
        help="sqlite, or the URL of a PostgreSQL server (a new database is made there)",
    )
    result = asyncio.run(run(parser.parse_args()))
    for table, seconds in result["seconds_per_table"].items():
        print(f"  {table:<20} {seconds:>7.2f} s")
    rate = f"{result['rows_per_second']} rows/s"
    print(f"imported {result['rows_imported']} rows in {result['import_seconds']} s ({rate})")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
