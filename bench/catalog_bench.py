"""Catalogue read latency at two data sizes: does a page or a search stay fast as the data grows?

Starts a real `portus serve` on a fresh PostgreSQL database per size, sets it up through the REST
API, bulk-seeds teams, namespaces, repositories, tags and activities with COPY, then measures
sequential requests (one httpx client a size) as a non-admin user, alice:

  repositories  GET /api/v1/repositories?page=<random>&per_page=25 (OFFSET grows with the page)
  next (cursor) GET the `Link rel="next"` URL of a random page: page=<n+1>&after=<cursor>
                (the random page itself is fetched beforehand, untimed)
  first page    GET /api/v1/repositories?per_page=25 (what the UI opens)
  tags          GET /api/v1/repositories/<random visible id>/tags
  search        GET /api/v1/search?q=app<random 1..999>
  feed          GET /api/v1/activities/feed?per_page=25

    .venv/bin/python bench/catalog_bench.py [--scale 1.0] [--requests 200] [--sequential]
        [--no-vacuum] [--pg postgresql://postgres@127.0.0.1:5432/test]

Without --scale it runs at 0.01 and at 1.0 (1,000 teams and namespaces, 100,000 repositories,
1,000,000 tags, 200,000 activities) and prints p50/p95 of both and the full/1% ratio of p95. Both
services run side by side and each workload's requests alternate between them, so that load from
elsewhere on the machine falls on both sizes alike; --sequential measures each size alone, right
after seeding it (as the first versions of this bench did).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import math
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
from token_bench import (
    ADMIN,
    ALICE,
    LOG_TAIL,
    BenchError,
    Server,
    _create_database,
    _drop_database,
    _expect,
    _portus_executable,
    _service_env,
    _tail,
    _terminate_as_exit,
    _with_database,
)

HOSTNAME = "registry.bench:5000"
FULL = {"teams": 1_000, "repositories": 100_000, "activities": 200_000}
TAGS_PER_REPOSITORY = 10
WARMUP = 20
WORKLOADS = ("repositories", "next (cursor)", "first page", "tags", "search", "feed")
TARGET_P95_MS = 50.0
TARGET_RATIO = 2.0
LINK = re.compile(r'<([^>]+)>; rel="(\w+)"')


@dataclass(frozen=True)
class Setup:
    registry_id: int
    alice_id: int
    alice_headers: dict[str, str]


@dataclass(frozen=True)
class Seeded:
    seconds: float
    counts: dict[str, int]
    visible_repository_ids: list[int]


@dataclass(frozen=True)
class Figures:
    p50_ms: float
    p95_ms: float


# --- set-up through the API ----------------------------------------------------------------------
def set_up(base_url: str) -> Setup:
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        created = _expect(
            client.post("/api/v1/users/bootstrap", json={"user": ADMIN}),
            201,
            "bootstrap the administrator",
        )
        admin = {"Portus-Auth": f"admin:{created['plain_token']}"}
        registry = _expect(
            client.post(
                "/api/v1/registries",
                headers=admin,
                json={"registry": {"name": "r", "hostname": HOSTNAME}, "force": True},
            ),
            201,
            "create the registry",
        )
        alice = _expect(
            client.post("/api/v1/users", headers=admin, json={"user": ALICE}),
            201,
            "create alice",
        )
        app_token = _expect(
            client.post(
                f"/api/v1/users/{alice['id']}/application_tokens",
                auth=(ALICE["username"], ALICE["password"]),
                json={"application": "bench"},
            ),
            201,
            "create alice's application token",
        )["plain_token"]
    return Setup(
        registry_id=int(registry["id"]),
        alice_id=int(alice["id"]),
        alice_headers={"Portus-Auth": f"alice:{app_token}"},
    )


# --- seeding -------------------------------------------------------------------------------------
async def _next_id(connection: asyncpg.Connection, table: str) -> int:
    # `table` is one of this file's constants, never input.
    value = await connection.fetchval(f"SELECT coalesce(max(id), 0) FROM {table}")  # noqa: S608
    return int(value) + 1


async def _copy(
    connection: asyncpg.Connection,
    table: str,
    columns: list[str],
    records: Iterator[tuple[Any, ...]],
) -> None:
    await connection.copy_records_to_table(table, columns=columns, records=records)
    await connection.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
    )


async def seed(dsn: str, scale: float, setup: Setup, *, vacuum: bool = True) -> Seeded:
    n_teams = max(1, round(FULL["teams"] * scale))
    n_repos = max(1, round(FULL["repositories"] * scale))
    n_activities = max(1, round(FULL["activities"] * scale))
    rng = random.Random(42)
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    alice = setup.alice_id
    began = time.perf_counter()
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        team0 = await _next_id(connection, "teams")
        ns0 = await _next_id(connection, "namespaces")
        repo0 = await _next_id(connection, "repositories")
        tag0 = await _next_id(connection, "tags")
        tu0 = await _next_id(connection, "team_users")
        act0 = await _next_id(connection, "activities")

        await _copy(
            connection,
            "teams",
            ["id", "name", "hidden", "created_at", "updated_at"],
            ((team0 + i, f"team{i}", False, now, now) for i in range(n_teams)),
        )
        # Namespace i belongs to team i; visibility 0/1/2 by i % 3.
        await _copy(
            connection,
            "namespaces",
            [
                "id",
                "name",
                "registry_id",
                "team_id",
                "global",
                "visibility",
                "created_at",
                "updated_at",
            ],
            (
                (ns0 + i, f"ns{i}", setup.registry_id, team0 + i, False, i % 3, now, now)
                for i in range(n_teams)
            ),
        )
        member = [i for i in range(n_teams) if i % 10 == 0]  # 10% of the teams
        await _copy(
            connection,
            "team_users",
            ["id", "team_id", "user_id", "role", "created_at", "updated_at"],
            ((tu0 + k, team0 + i, alice, k % 3, now, now) for k, i in enumerate(member)),
        )
        visible_ns = {i for i in range(n_teams) if i % 3 != 0} | set(member)

        def repo_time(r: int) -> datetime:
            return start + timedelta(seconds=r * 365 * 86400 / n_repos)

        await _copy(
            connection,
            "repositories",
            ["id", "name", "namespace_id", "marked", "created_at", "updated_at"],
            (
                (repo0 + r, f"app{r}", ns0 + r % n_teams, False, repo_time(r), repo_time(r))
                for r in range(n_repos)
            ),
        )

        def tags() -> Iterator[tuple[Any, ...]]:
            tag_id = tag0
            for r in range(n_repos):
                base = repo_time(r)
                for k in range(TAGS_PER_REPOSITORY):
                    # Pairs of tags share an image (digest).
                    digest = hashlib.sha256(f"{r}:{k // 2}".encode()).hexdigest()
                    at = base + timedelta(hours=k * 6 + rng.random())
                    yield (
                        tag_id,
                        f"v{k}",
                        repo0 + r,
                        alice,
                        "alice",
                        "sha256:" + digest,
                        rng.randint(1_000_000, 500_000_000),
                        False,
                        0,
                        at,
                        at,
                        at,
                    )
                    tag_id += 1

        await _copy(
            connection,
            "tags",
            [
                "id",
                "name",
                "repository_id",
                "user_id",
                "username",
                "digest",
                "size",
                "marked",
                "scanned",
                "pushed_at",
                "created_at",
                "updated_at",
            ],
            tags(),
        )
        span = 365 * 86400
        await _copy(
            connection,
            "activities",
            ["id", "key", "trackable_type", "trackable_id", "owner_id", "parameters", "created_at"],
            (
                (
                    act0 + a,
                    "repository.push",
                    "Repository",
                    repo0 + rng.randrange(n_repos),
                    alice,
                    "{}",
                    start + timedelta(seconds=a * span / n_activities),
                )
                for a in range(n_activities)
            ),
        )
        # VACUUM sets the visibility map, which index-only scans rely on: autovacuum does it
        # within a minute of a bulk load in production (it is off on some test servers).
        await connection.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
    finally:
        await connection.close()
    visible_repos = [repo0 + r for r in range(n_repos) if r % n_teams in visible_ns]
    return Seeded(
        seconds=time.perf_counter() - began,
        counts={
            "teams": n_teams,
            "namespaces": n_teams,
            "team_users": len(member),
            "repositories": n_repos,
            "tags": n_repos * TAGS_PER_REPOSITORY,
            "activities": n_activities,
        },
        visible_repository_ids=visible_repos,
    )


async def _wait_for_counts_folded(dsn: str, timeout: float = 120.0) -> float:
    """The seeding's COPY fired the count triggers: measure once the service's background
    pass has folded them (its steady state), and show how long that took."""
    began = time.perf_counter()
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        while await connection.fetchval("SELECT count(*) FROM repository_count_changes"):
            if time.perf_counter() - began > timeout:
                raise BenchError("the service did not fold the repository counts in time")
            await asyncio.sleep(0.5)
    finally:
        await connection.close()
    return time.perf_counter() - began


# --- measuring -----------------------------------------------------------------------------------
def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    rank = max(1, math.ceil(q * len(ordered)))  # nearest rank
    return ordered[rank - 1]


async def _next_links(
    get: Callable[[str, dict[str, Any] | None], Awaitable[httpx.Response]], pages: int, count: int
) -> Iterator[str]:
    """The `Link rel="next"` URLs of `count` random pages (fetched now, untimed), which carry an
    `after` cursor besides the page number. Its own random sequence: the other workloads' are
    unchanged."""
    rng = random.Random(11)
    links: list[str] = []
    for _ in range(count):
        page = rng.randint(1, max(1, pages - 1))
        response = await get("/api/v1/repositories", {"page": page, "per_page": 25})
        found = {rel: url for url, rel in LINK.findall(response.headers.get("Link", ""))}
        if "next" not in found:
            raise BenchError(f"page {page} of {pages} has no Link rel=next")
        links.append(found["next"])
    with_cursor = sum("after=" in link for link in links)
    print(f"  {with_cursor} of {count} next links carry an after cursor", flush=True)
    return iter(links)


def _label(scale: float) -> str:
    return "1%" if scale == 0.01 else ("full" if scale == 1.0 else f"x{scale:g}")


Send = Callable[[], Awaitable[httpx.Response]]


async def _requesters(client: httpx.AsyncClient, target: Target, requests: int) -> dict[str, Send]:
    """One sender a workload, against one service; each size has its own random sequences
    (the same as when the sizes are measured one after the other)."""
    rng = random.Random(7)

    async def get(path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        # `path` may be a whole URL (a Link header's).
        response = await client.get(path, params=params)
        if response.status_code != 200:
            raise BenchError(
                f"GET {response.request.url} answered {response.status_code}:\n"
                + response.text[:2000]
            )
        return response

    first = await get("/api/v1/repositories", {"per_page": 25})
    pages = int(first.headers["X-Total-Pages"])
    visible = target.seeded.visible_repository_ids
    if not visible:
        raise BenchError("no repository is visible to alice")
    next_links = await _next_links(get, pages, WARMUP + requests)
    return {
        "repositories": lambda: get(
            "/api/v1/repositories", {"page": rng.randint(1, pages), "per_page": 25}
        ),
        "next (cursor)": lambda: get(next(next_links)),
        "first page": lambda: get("/api/v1/repositories", {"per_page": 25}),
        "tags": lambda: get(f"/api/v1/repositories/{rng.choice(visible)}/tags"),
        "search": lambda: get("/api/v1/search", {"q": f"app{rng.randint(1, 999)}"}),
        "feed": lambda: get("/api/v1/activities/feed", {"per_page": 25}),
    }


async def measure(targets: list[Target], requests: int) -> dict[float, dict[str, Figures]]:
    """Each workload against every target, the requests alternating between them (1%, full,
    full, 1%, ...): load from elsewhere on the machine then falls on every size alike."""
    figures: dict[float, dict[str, Figures]] = {target.scale: {} for target in targets}
    async with contextlib.AsyncExitStack() as stack:
        senders = []
        for target in targets:
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=target.base_url, headers=target.setup.alice_headers, timeout=60.0
                )
            )
            print(f"  {_label(target.scale)}: ", end="", flush=True)
            senders.append(await _requesters(client, target, requests))
        for name in WORKLOADS:
            for sender in senders:
                for _ in range(WARMUP):
                    await sender[name]()
            samples: list[list[float]] = [[] for _ in targets]
            for i in range(requests):
                order = list(range(len(targets)))
                for k in order if i % 2 == 0 else reversed(order):
                    t0 = time.perf_counter()
                    await senders[k][name]()
                    samples[k].append((time.perf_counter() - t0) * 1000.0)
            for k, target in enumerate(targets):
                result = Figures(_percentile(samples[k], 0.50), _percentile(samples[k], 0.95))
                figures[target.scale][name] = result
                print(
                    f"  {_label(target.scale):<5}{name:<14} p50 {result.p50_ms:8.2f} ms"
                    f"   p95 {result.p95_ms:8.2f} ms",
                    flush=True,
                )
    return figures


# --- one size ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    scale: float
    base_url: str
    setup: Setup
    seeded: Seeded


@contextlib.contextmanager
def serving(args: argparse.Namespace, scale: float) -> Iterator[Target]:
    """A fresh database seeded at `scale` and `portus serve` on it, until the block ends."""
    portus = _portus_executable()
    database = f"portus_catbench_{secrets.token_hex(6)}"
    admin_dsn = args.pg
    seed_dsn = _with_database(admin_dsn, database)
    service_url = _with_database(admin_dsn, database, scheme="postgresql+asyncpg")
    print(f"scale {scale:g}: database {seed_dsn}", flush=True)
    try:
        asyncio.run(_create_database(admin_dsn, database))
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"cannot create database {database} via {admin_dsn}: {exc!r}") from exc
    try:
        with tempfile.TemporaryDirectory(prefix="portus_catbench_") as tmp:
            tmp_path = Path(tmp)
            data_dir = tmp_path / "data"
            data_dir.mkdir()
            config = tmp_path / "config.yml"
            config.write_text("")
            env = _service_env(service_url, data_dir, config)
            migrated = subprocess.run(
                [portus, "migrate"], env=env, capture_output=True, text=True, check=False
            )
            if migrated.returncode != 0:
                raise BenchError(
                    f"`portus migrate` failed with status {migrated.returncode}:\n"
                    + (migrated.stdout + migrated.stderr)[-LOG_TAIL:]
                )
            server = Server(portus, env, tmp_path / "serve.log")
            try:
                server.wait_ready()
                setup = set_up(server.base_url)
                seeded = asyncio.run(seed(seed_dsn, scale, setup, vacuum=not args.no_vacuum))
                waited = asyncio.run(_wait_for_counts_folded(seed_dsn))
                print(f"  the service folded the repository counts in {waited:.1f}s", flush=True)
                counts = ", ".join(f"{v:,} {k}" for k, v in seeded.counts.items())
                print(f"  seeded in {seeded.seconds:.1f}s: {counts}", flush=True)
                yield Target(scale, server.base_url, setup, seeded)
                if server.process.poll() is not None:
                    raise BenchError(
                        f"`portus serve` exited during the run; its log:\n{_tail(server.log_path)}"
                    )
            finally:
                server.stop()
                log = _tail(server.log_path)
                if "Traceback" in log or "ERROR" in log:
                    print(f"warning: the server logged errors:\n{log}", file=sys.stderr)
    finally:
        if args.keep_database:
            print(f"  kept database {seed_dsn}", flush=True)
        else:
            try:
                asyncio.run(_drop_database(admin_dsn, database))
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"warning: could not drop database {database}: {exc!r}", file=sys.stderr)


def _print_report(results: dict[float, dict[str, Figures]]) -> None:
    scales = sorted(results)
    header = f"{'workload':<14}"
    for scale in scales:
        label = _label(scale)
        header += f"{label + ' p50':>12}{label + ' p95':>12}"
    both = len(scales) == 2
    if both:
        header += f"{'p95 ratio':>11}"
    print()
    print(header)
    for name in WORKLOADS:
        line = f"{name:<14}"
        for scale in scales:
            f = results[scale][name]
            line += f"{f.p50_ms:>12.2f}{f.p95_ms:>12.2f}"
        if both:
            line += f"{results[scales[1]][name].p95_ms / results[scales[0]][name].p95_ms:>11.2f}"
        print(line)
    print("(milliseconds)")
    big = results[scales[-1]]
    print()
    print(f"targets (at scale {scales[-1]:g}):")
    for name in ("repositories", "next (cursor)", "first page", "search"):
        p95 = big[name].p95_ms
        verdict = "met" if p95 < TARGET_P95_MS else "NOT met"
        print(f"  {name} p95 {p95:.2f} ms < {TARGET_P95_MS:g} ms: {verdict}")
    if both:
        for name in WORKLOADS:
            ratio = big[name].p95_ms / results[scales[0]][name].p95_ms
            verdict = "met" if ratio < TARGET_RATIO else "NOT met"
            print(f"  {name} p95 ratio {ratio:.2f} < {TARGET_RATIO:g}: {verdict}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--scale", type=float, default=None, help="one size (default: 0.01 and 1)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests a workload")
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="an existing database on the server; a fresh one is created beside it",
    )
    parser.add_argument(
        "--sequential",
        action="store_true",
        help="measure each size alone, right after seeding it (by default both services run and "
        "the requests alternate between them)",
    )
    parser.add_argument(
        "--no-vacuum",
        action="store_true",
        help="ANALYZE only after seeding (the visibility map stays unset, as right after a bulk "
        "load with autovacuum off)",
    )
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="leave the seeded database in place (to EXPLAIN queries against it)",
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or (args.scale is not None and args.scale <= 0):
        parser.error("--requests must be >= 1 and --scale > 0")
    if urlsplit(args.pg).scheme not in ("postgresql", "postgres"):
        parser.error("--pg must be a postgresql:// URL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scales = [args.scale] if args.scale is not None else [0.01, 1.0]
    results: dict[float, dict[str, Figures]] = {}
    try:
        with _terminate_as_exit():
            if args.sequential:
                for scale in scales:
                    with serving(args, scale) as target:
                        results |= asyncio.run(measure([target], args.requests))
            else:
                with contextlib.ExitStack() as stack:
                    targets = [stack.enter_context(serving(args, scale)) for scale in scales]
                    results = asyncio.run(measure(targets, args.requests))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    _print_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
