"""Registry notifications: events/s that `POST /v2/webhooks/events` accepts and that the worker
turns into tags, against a trivial endpoint of the same server, on PostgreSQL.

Starts, on a fresh PostgreSQL database, a real `portus serve` (background tasks in process, the
default) and a real docker-registry whose auth section comes from `portus registry-config`, but
without its notifications section: only this bench's POSTs reach the intake. Sets up the admin,
the registry, a team and a namespace through the REST API and pushes N distinct manifests into the
registry (timed apart), so that the worker's manifest look-ups hit a real registry. Then, from C
concurrent keep-alive connections:

  events   POST /v2/webhooks/events  one real-shaped push envelope per pushed tag, each sent once
  trivial  GET  /api/v1/_ping        as long as the POSTs took (at least 3 s)

and prints accepted events/s (N / time to get every POST answered), processed events/s (N / time
from the first POST until every tag is in the database, polled with `SELECT count(*) FROM tags`),
p50/p99 of both endpoints and the ratios to the ping's req/s. Every round checks that exactly N
tags (the pushed digests), N `repository.push` activities and N events, all done without error,
were added: an event lost or applied twice fails the bench.

    .venv/bin/python bench/events_bench.py [--events 2000] [--concurrency 16] [--repeat 1]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--json PATH]

The load client is a minimal HTTP/1.1 client on asyncio (uvloop when installed) in a separate
process: httpx saturates at a few hundred req/s here, which would cap the ping and pull the ratios
towards 1. The machine is shared and noisy: compare the ratios, not the absolute figures. The
last line of stdout is the results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import itertools
import json
import math
import multiprocessing
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import yaml
from token_bench import (
    ADMIN,
    LOG_TAIL,
    BenchError,
    Server,
    _create_database,
    _drop_database,
    _expect,
    _portus_executable,
    _ratio,
    _service_env,
    _terminate_as_exit,
    _with_database,
)

# The registry helpers live with the tests; the bench runs as a script from anywhere.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.oci import MANIFEST_MEDIA_TYPE  # noqa: E402
from tests.support.registry_push import RegistryPusher  # noqa: E402
from tests.support.tools import REGISTRY_BINARY, RegistryProcess, free_port  # noqa: E402

TEAM = "benchteam"
NAMESPACE = "bench"
TAGS_PER_REPOSITORY = 20
WARMUP_EVENTS = 40
WARMUP_PING_SECONDS = 1.0
MIN_PING_SECONDS = 3.0
POLL_SECONDS = 0.05
STALL_SECONDS = 5.0  # no new tag for this long, the POSTs answered and no event pending: stop
CONNECT_TIMEOUT = 10.0
EVENTS_CONTENT_TYPE = "application/vnd.docker.distribution.events.v1+json"
ACCEPTED_BODY = '{"stored":1}'


# --- data ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pushed:
    repository: str  # namespace/name
    tag: str
    digest: str
    size: int  # of the manifest


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float  # from the first request sent to the last answer
    rps: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    bodies: dict[str, int]  # answers' bodies (first 200 characters) and how often each came
    errors: int  # transport errors: requests that got no answer
    first_error: str
    started_at: float  # wall clock (time.time()) when the first request was sent


@dataclass(frozen=True)
class Counts:
    tags: int
    push_activities: int
    events: int
    events_pending: int  # fresh or in progress
    events_failed: int
    events_with_error: int  # skipped (done, with a reason) or failed
    tags_without_size: int  # the worker could not ask the registry about the manifest


@dataclass(frozen=True)
class Round:
    index: int
    push_s: float
    events: LoadResult
    processed_s: float  # first POST -> every tag in the database
    processed_eps: float
    ping: LoadResult

    @property
    def accepted_eps(self) -> float:
        return self.events.rps

    @property
    def accepted_over_ping(self) -> float:
        return _ratio(self.events.rps, self.ping.rps)

    @property
    def processed_over_ping(self) -> float:
        return _ratio(self.processed_eps, self.ping.rps)


# --- the registry's notifications ----------------------------------------------------------------
def go_timestamp(moment: datetime) -> str:
    """RFC 3339 with nanoseconds, as the registry (Go) prints it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def push_envelope(
    pushed: Pushed,
    registry_host: str,
    *,
    actor: str,
    event_id: str,
    request_id: str,
    instance_id: str,
    moment: datetime,
    client_port: int,
) -> bytes:
    """The body the registry POSTs after a manifest push (one event per envelope, as observed)."""
    event = {
        "id": event_id,
        "timestamp": go_timestamp(moment),
        "action": "push",
        "target": {
            "mediaType": MANIFEST_MEDIA_TYPE,
            "size": pushed.size,
            "digest": pushed.digest,
            "length": pushed.size,
            "repository": pushed.repository,
            "url": f"http://{registry_host}/v2/{pushed.repository}/manifests/{pushed.digest}",
            "tag": pushed.tag,
        },
        "request": {
            "id": request_id,
            "addr": f"127.0.0.1:{client_port}",
            "host": registry_host,
            "method": "PUT",
            "useragent": "events-bench",
        },
        "actor": {"name": actor},
        "source": {"addr": "bench:5000", "instanceID": instance_id},
    }
    return json.dumps({"events": [event]}, separators=(",", ":")).encode()


def envelopes(pushes: list[Pushed], registry_host: str, actor: str) -> list[bytes]:
    instance_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    return [
        push_envelope(
            pushed,
            registry_host,
            actor=actor,
            event_id=str(uuid.uuid4()),
            request_id=str(uuid.uuid4()),
            instance_id=instance_id,
            moment=now,
            client_port=40000 + index % 20000,
        )
        for index, pushed in enumerate(pushes)
    ]


# --- a minimal HTTP/1.1 client -------------------------------------------------------------------
def encode_request(
    method: str, path: str, host: str, headers: Iterable[tuple[str, str]] = (), body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One response from a keep-alive connection: (status, body, whether the connection stays)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ConnectionError(f"not an HTTP status line: {status_line[:100]!r}")
    version, status = parts[0], int(parts[1])
    headers: dict[bytes, bytes] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise ConnectionError("the connection closed inside the headers")
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = version == b"HTTP/1.1" and headers.get(b"connection", b"").lower() != b"close"
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        chunks = bytearray()
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            chunks += await reader.readexactly(size)
            await reader.readexactly(2)
        body = bytes(chunks)
    elif b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    else:
        body, keep_alive = await reader.read(), False
    return status, body, keep_alive


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest rank."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(1, math.ceil(fraction * len(sorted_values))) - 1]


def summarise(raw: dict[str, Any]) -> LoadResult:
    """The load process's raw figures as a result."""
    latencies = sorted(float(x) for x in raw["latencies"])
    seconds = float(raw["seconds"])
    return LoadResult(
        requests=len(latencies),
        seconds=seconds,
        rps=len(latencies) / seconds if seconds > 0 else math.nan,
        p50_ms=percentile(latencies, 0.50) * 1000.0,
        p99_ms=percentile(latencies, 0.99) * 1000.0,
        statuses={int(k): int(v) for k, v in raw["statuses"].items()},
        bodies={str(k): int(v) for k, v in raw["bodies"].items()},
        errors=int(raw["errors"]),
        first_error=str(raw["first_error"]),
        started_at=float(raw["started_at"]),
    )


def _requests_to_send(requests: list[bytes], duration: float | None) -> Iterator[bytes]:
    """Each request once; or, given a duration, the requests in a cycle until it is over."""
    if duration is None:
        yield from requests
        return
    deadline = time.perf_counter() + duration
    for request in itertools.cycle(requests):
        if time.perf_counter() >= deadline:
            return
        yield request


async def _load(
    host: str, port: int, requests: list[bytes], concurrency: int, duration: float | None
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    bodies: Counter[str] = Counter()
    errors = 0
    first_error = ""

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)

    opened = concurrency if duration is not None else min(concurrency, len(requests))
    connections = [await connect() for _ in range(opened)]  # before the clock starts

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal errors, first_error
        for request in pending:  # one iterator shared by every worker: each request goes once
            began = time.perf_counter()
            try:
                writer.write(request)
                status, body, keep_alive = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors += 1
                first_error = first_error or repr(exc)
                writer.close()
                reader, writer = await connect()
                continue
            latencies.append(time.perf_counter() - began)
            statuses[status] += 1
            bodies[body[:200].decode(errors="replace")] += 1
            if not keep_alive:
                writer.close()
                reader, writer = await connect()
        writer.close()

    started_at = time.time()
    began = time.perf_counter()
    pending = _requests_to_send(requests, duration)
    await asyncio.gather(*(worker(reader, writer) for reader, writer in connections))
    seconds = time.perf_counter() - began
    return {
        "latencies": latencies,
        "seconds": seconds,
        "statuses": dict(statuses),
        "bodies": dict(bodies),
        "errors": errors,
        "first_error": first_error,
        "started_at": started_at,
    }


def load_process(
    host: str, port: int, requests: list[bytes], concurrency: int, duration: float | None = None
) -> dict[str, Any]:
    """Entry point of the load-generator process."""
    coroutine = _load(host, port, requests, concurrency, duration)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# --- checking a round ----------------------------------------------------------------------------
COUNTS_QUERY = """
SELECT (SELECT count(*) FROM tags),
       (SELECT count(*) FROM activities WHERE key = 'repository.push'),
       (SELECT count(*) FROM registry_events),
       (SELECT count(*) FROM registry_events WHERE status IN (1, 2)),
       (SELECT count(*) FROM registry_events WHERE status = 3),
       (SELECT count(*) FROM registry_events WHERE error IS NOT NULL),
       (SELECT count(*) FROM tags WHERE size IS NULL)
"""

RECORDED_QUERY = """
SELECT n.name || '/' || r.name, t.name, t.digest
FROM tags t JOIN repositories r ON r.id = t.repository_id JOIN namespaces n ON n.id = r.namespace_id
WHERE t.name = ANY($1::text[])
"""


async def counts(connection: asyncpg.Connection) -> Counts:
    return Counts(*(int(v) for v in await connection.fetchrow(COUNTS_QUERY)))


def round_problems(
    n: int,
    before: Counts,
    after: Counts,
    intake: LoadResult,
    pushes: list[Pushed],
    recorded: list[tuple[str, str, str]],
) -> list[str]:
    """Everything wrong with a round: the bench fails on any of it."""
    problems: list[str] = []
    if intake.errors:
        problems.append(f"{intake.errors} POSTs got no answer (first: {intake.first_error})")
    if intake.requests + intake.errors != n:
        problems.append(f"{intake.requests} POSTs answered and {intake.errors} lost, not {n}")
    if intake.statuses != {202: intake.requests}:
        problems.append(f"the intake answered {intake.statuses}, not 202 every time")
    if intake.bodies != {ACCEPTED_BODY: intake.requests}:
        problems.append(f"the intake's answers were {intake.bodies}, not {ACCEPTED_BODY} each")
    for name, expected in (
        ("tags", n),
        ("push_activities", n),
        ("events", n),
        ("events_pending", 0),
        ("events_failed", 0),
        ("events_with_error", 0),
        ("tags_without_size", 0),
    ):
        added = getattr(after, name) - getattr(before, name)
        if added != expected:
            problems.append(f"{name}: {added:+d} in this round, expected {expected:+d}")
    wanted = {(p.repository, p.tag): p.digest for p in pushes}
    found: dict[tuple[str, str], str] = {}
    for repository, tag, digest in recorded:
        if (repository, tag) in found:
            problems.append(f"{repository}:{tag} recorded twice")
        found[(repository, tag)] = digest
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    wrong = sorted(k for k in set(wanted) & set(found) if wanted[k] != found[k])
    for label, keys in (("missing", missing), ("unexpected", extra), ("wrong digest", wrong)):
        if keys:
            sample = ", ".join(f"{r}:{t}" for r, t in keys[:5])
            problems.append(f"{len(keys)} tags {label} (e.g. {sample})")
    return problems


# --- set-up through the API ----------------------------------------------------------------------
@dataclass(frozen=True)
class Setup:
    admin_headers: dict[str, str]


def set_up(base_url: str, registry_host: str) -> Setup:
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        created = _expect(
            client.post("/api/v1/users/bootstrap", json={"user": ADMIN}),
            201,
            "bootstrap the administrator",
        )
        admin = {"Portus-Auth": f"admin:{created['plain_token']}"}
        _expect(
            client.post(
                "/api/v1/registries",
                headers=admin,
                json={"registry": {"name": "bench", "hostname": registry_host, "use_ssl": False}},
            ),
            201,
            "create the registry",
        )
        _expect(
            client.post("/api/v1/teams", headers=admin, json={"name": TEAM}), 201, "create a team"
        )
        _expect(
            client.post(
                "/api/v1/namespaces", headers=admin, json={"name": NAMESPACE, "team": TEAM}
            ),
            201,
            "create a namespace",
        )
    return Setup(admin_headers=admin)


def push_images(
    base_url: str, registry: RegistryProcess, names: list[tuple[str, str]]
) -> list[Pushed]:
    """Push one distinct manifest per (repository, tag), as the administrator."""

    def token_for(repository: str) -> str:
        response = token_client.get(
            "/v2/token",
            params={"service": registry.host, "scope": f"repository:{repository}:push,pull"},
            auth=(ADMIN["username"], ADMIN["password"]),
        )
        token: str = _expect(response, 200, f"a push token for {repository}")["token"]
        return token

    with (
        httpx.Client(base_url=base_url, timeout=30.0) as token_client,
        httpx.Client(timeout=30.0, trust_env=False) as client,
    ):
        pusher = RegistryPusher(registry.url, token_for)
        pushed = []
        for repository, tag in names:
            try:
                digest = pusher.push(client, repository, tag)
            except AssertionError as exc:  # the helper asserts on the registry's answers
                raise BenchError(f"pushing {repository}:{tag} failed: {exc}") from exc
            size = len(pusher.manifest(f"{repository}:{tag}"))
            pushed.append(Pushed(repository, tag, digest, size))
    return pushed


def image_names(n: int, tag_prefix: str) -> list[tuple[str, str]]:
    return [
        (
            f"{NAMESPACE}/app{i // TAGS_PER_REPOSITORY:03d}",
            f"{tag_prefix}-{i % TAGS_PER_REPOSITORY}",
        )
        for i in range(n)
    ]


def notable_log(path: Path) -> str:
    """The log's end without its INFO lines (the service logs every registry request at INFO)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    kept = "\n".join(line for line in lines if not line.startswith("INFO "))
    return kept[-LOG_TAIL:]


# --- measuring -----------------------------------------------------------------------------------
@dataclass
class Bench:
    args: argparse.Namespace
    server: Server
    registry: RegistryProcess
    pool: concurrent.futures.ProcessPoolExecutor
    dsn: str
    secret: str

    @property
    def host_port(self) -> tuple[str, int]:
        return "127.0.0.1", self.server.port  # where `Server` binds

    def _check_alive(self, during: str) -> None:
        if self.server.process.poll() is not None:
            raise BenchError(
                f"`portus serve` exited (status {self.server.process.returncode}) during {during};"
                f" its log (INFO lines left out):\n{notable_log(self.server.log_path)}"
            )

    async def _load(self, requests: list[bytes], duration: float | None = None) -> LoadResult:
        host, port = self.host_port
        future = self.pool.submit(
            load_process, host, port, requests, self.args.concurrency, duration
        )
        return summarise(await asyncio.wrap_future(future))

    async def ping(self, seconds: float) -> LoadResult:
        """As many pings as the connections get answered in `seconds`."""
        host, port = self.host_port
        request = encode_request("GET", "/api/v1/_ping", f"{host}:{port}")
        result = await self._load([request], seconds)
        bad = {k: v for k, v in result.statuses.items() if k != 200}
        if result.errors or bad or not result.requests:
            raise BenchError(
                f"ping: {result.requests} answered in {seconds:.1f}s, statuses {result.statuses},"
                f" {result.errors} transport errors (first: {result.first_error})"
            )
        return result

    async def events(self, pushes: list[Pushed]) -> tuple[LoadResult, float]:
        """POST one envelope per push; (intake result, seconds from the first POST until every
        tag is recorded). Then wait for the worker to finish and check the round exactly."""
        host, port = self.host_port
        headers = [
            ("Authorization", f"Bearer {self.secret}"),
            ("Content-Type", EVENTS_CONTENT_TYPE),
        ]
        requests = [
            encode_request("POST", "/v2/webhooks/events", f"{host}:{port}", headers, body)
            for body in envelopes(pushes, self.registry.host, ADMIN["username"])
        ]
        n = len(pushes)
        timeout = 120.0 + n / 5.0
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            before = await counts(connection)
            target = before.tags + n
            load = asyncio.ensure_future(self._load(requests))
            began = time.monotonic()
            recorded_at: float | None = None
            last, changed = before.tags, time.monotonic()
            while True:
                current = int(await connection.fetchval("SELECT count(*) FROM tags"))
                if current >= target:
                    recorded_at = time.time()
                    break
                if current != last:
                    last, changed = current, time.monotonic()
                if load.done() and load.exception() is not None:
                    break  # raised below
                if load.done() and time.monotonic() - changed > STALL_SECONDS:
                    pending = await connection.fetchval(
                        "SELECT count(*) FROM registry_events WHERE status IN (1, 2)"
                    )
                    if not pending:
                        break  # every event handled, yet tags are missing
                if time.monotonic() - began > timeout or self.server.process.poll() is not None:
                    break
                await asyncio.sleep(POLL_SECONDS)
            intake = await load
            if recorded_at is None:
                self._check_alive("the events")
                stopped = (
                    f"only {last - before.tags} of {n} tags recorded after"
                    f" {time.monotonic() - began:.0f}s"
                )
                after = await counts(connection)
            else:
                stopped = ""
                after = await self._settled(connection)
            recorded = [
                (str(r[0]), str(r[1]), str(r[2]))
                for r in await connection.fetch(RECORDED_QUERY, sorted({p.tag for p in pushes}))
            ]
        finally:
            await connection.close()
        problems = [stopped] if stopped else []
        problems += round_problems(n, before, after, intake, pushes, recorded)
        if problems:
            raise BenchError(
                "the round is wrong:\n  "
                + "\n  ".join(problems)
                + f"\ncounts before {before}\ncounts after  {after}"
                + f"\nserver log (INFO lines left out):\n{notable_log(self.server.log_path)}"
            )
        assert recorded_at is not None
        processed_s = recorded_at - intake.started_at
        return intake, processed_s

    async def _settled(self, connection: asyncpg.Connection) -> Counts:
        """Counts once no event is pending, and one more poll later (nothing still moving)."""
        deadline = time.monotonic() + 60.0
        while True:
            current = await counts(connection)
            if current.events_pending == 0:
                await asyncio.sleep(1.0)
                again = await counts(connection)
                if again == current:
                    return current
            elif time.monotonic() > deadline:
                return current
            await asyncio.sleep(POLL_SECONDS)

    def push(self, n: int, tag_prefix: str) -> tuple[list[Pushed], float]:
        began = time.perf_counter()
        pushes = push_images(self.server.base_url, self.registry, image_names(n, tag_prefix))
        return pushes, time.perf_counter() - began

    def warm_up(self) -> None:
        pushes, _ = self.push(WARMUP_EVENTS, "w0")
        asyncio.run(self.events(pushes))
        asyncio.run(self.ping(WARMUP_PING_SECONDS))
        self._check_alive("the warm-up")

    def round(self, index: int) -> Round:
        n = self.args.events
        pushes, push_s = self.push(n, f"r{index}")
        print(f"round {index}: pushed {n} manifests in {push_s:.1f}s", flush=True)
        intake, processed_s = asyncio.run(self.events(pushes))
        self._check_alive(f"round {index}'s events")
        # As long as the POSTs took (at least MIN_PING_SECONDS): same client, same connections.
        ping = asyncio.run(self.ping(max(MIN_PING_SECONDS, intake.seconds)))
        self._check_alive(f"round {index}'s pings")
        result = Round(index, push_s, intake, processed_s, n / processed_s, ping)
        print(
            f"round {index}: accepted {result.accepted_eps:.1f} ev/s,"
            f" processed {result.processed_eps:.1f} ev/s, ping {ping.rps:.1f} req/s",
            flush=True,
        )
        return result


def _registry_auth_yaml(portus: str, env: dict[str, str], registry_host: str) -> str:
    generated = subprocess.run(
        [portus, "registry-config", "--registry-host", registry_host],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if generated.returncode != 0:
        raise BenchError(
            f"`portus registry-config` failed with status {generated.returncode}:\n"
            + (generated.stdout + generated.stderr)[-LOG_TAIL:]
        )
    config = yaml.safe_load(generated.stdout)
    if not isinstance(config, dict) or "auth" not in config:
        raise BenchError(f"`portus registry-config` printed no auth section:\n{generated.stdout}")
    config.pop("notifications", None)  # only the bench's own POSTs reach the intake
    return yaml.safe_dump(config, sort_keys=False)


def run(args: argparse.Namespace) -> list[Round]:
    if not os.access(REGISTRY_BINARY, os.X_OK):
        raise BenchError(f"{REGISTRY_BINARY} is not installed (the docker-registry package)")
    portus = _portus_executable()
    database = f"portus_evbench_{secrets.token_hex(6)}"
    admin_dsn = args.pg
    dsn = _with_database(admin_dsn, database)
    service_url = _with_database(admin_dsn, database, scheme="postgresql+asyncpg")
    print(
        f"{args.events} events from {args.concurrency} connections, {args.repeat} round(s);"
        f" database {dsn}",
        flush=True,
    )
    try:
        asyncio.run(_create_database(admin_dsn, database))
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"cannot create database {database} via {admin_dsn}: {exc!r}") from exc
    rounds: list[Round] = []
    pool: concurrent.futures.ProcessPoolExecutor | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="portus_evbench_") as tmp:
            tmp_path = Path(tmp)
            data_dir = tmp_path / "data"
            data_dir.mkdir()
            config = tmp_path / "config.yml"
            config.write_text("")
            secret = secrets.token_hex(24)
            env = _service_env(service_url, data_dir, config)
            env["PORTUS_NOTIFICATIONS_SECRET"] = secret

            migrated = subprocess.run(
                [portus, "migrate"], env=env, capture_output=True, text=True, check=False
            )
            if migrated.returncode != 0:
                raise BenchError(
                    f"`portus migrate` failed with status {migrated.returncode}:\n"
                    + (migrated.stdout + migrated.stderr)[-LOG_TAIL:]
                )
            registry_port = free_port()
            registry = RegistryProcess(
                tmp_path / "registry",
                registry_port,
                _registry_auth_yaml(portus, env, f"127.0.0.1:{registry_port}"),
            )
            try:
                registry.start()
            except RuntimeError as exc:
                raise BenchError(str(exc)) from exc
            server: Server | None = None
            try:
                server = Server(portus, env, tmp_path / "serve.log")
                server.wait_ready()
                print(f"server {server.base_url}, registry {registry.url}", flush=True)
                set_up(server.base_url, registry.host)
                pool = concurrent.futures.ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn")
                )
                bench = Bench(args, server, registry, pool, dsn, secret)
                bench.warm_up()
                for index in range(1, args.repeat + 1):
                    rounds.append(bench.round(index))
            finally:
                if server is not None:
                    status = server.stop()
                    log = notable_log(server.log_path)
                    if log:
                        print(f"warning: the server logged problems:\n{log}", file=sys.stderr)
                    if status not in (0, None, -signal.SIGTERM):
                        print(
                            f"warning: `portus serve` exited with status {status}", file=sys.stderr
                        )
                registry.stop()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        try:
            asyncio.run(_drop_database(admin_dsn, database))
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"warning: could not drop database {database}: {exc!r}", file=sys.stderr)
    return rounds


# --- report --------------------------------------------------------------------------------------
COLUMNS: list[tuple[str, str, Callable[[Round], float]]] = [
    ("push s", ".1f", lambda r: r.push_s),
    ("accepted/s", ".1f", lambda r: r.accepted_eps),
    ("POST p50", ".2f", lambda r: r.events.p50_ms),
    ("POST p99", ".2f", lambda r: r.events.p99_ms),
    ("processed/s", ".1f", lambda r: r.processed_eps),
    ("ping/s", ".1f", lambda r: r.ping.rps),
    ("ping p50", ".2f", lambda r: r.ping.p50_ms),
    ("ping p99", ".2f", lambda r: r.ping.p99_ms),
    ("acc/ping", ".3f", lambda r: r.accepted_over_ping),
    ("proc/ping", ".3f", lambda r: r.processed_over_ping),
]


def table(rounds: list[Round]) -> str:
    width = 12
    lines = [f"{'round':<8}" + "".join(f"{title:>{width}}" for title, _, _ in COLUMNS)]
    for r in rounds:
        lines.append(
            f"{r.index:<8}" + "".join(f"{get(r):>{width}{fmt}}" for _, fmt, get in COLUMNS)
        )
    if len(rounds) > 1:
        lines.append(
            f"{'median':<8}"
            + "".join(
                f"{statistics.median(get(r) for r in rounds):>{width}{fmt}}"
                for _, fmt, get in COLUMNS
            )
        )
    lines.append("(latencies in ms; acc/ping and proc/ping: events/s over the ping's req/s)")
    return "\n".join(lines)


def report(args: argparse.Namespace, rounds: list[Round]) -> dict[str, Any]:
    return {
        "events": args.events,
        "concurrency": args.concurrency,
        "rounds": [
            {
                **asdict(r),
                "accepted_eps": r.accepted_eps,
                "accepted_over_ping": r.accepted_over_ping,
                "processed_over_ping": r.processed_over_ping,
            }
            for r in rounds
        ],
        "median": {title: statistics.median(get(r) for r in rounds) for title, _, get in COLUMNS},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=2000, help="events (pushed tags) a round")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections")
    parser.add_argument("--repeat", type=int, default=1, help="measured rounds (median shown)")
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="an existing database on the server; a fresh one is created beside it",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.events < 1 or args.concurrency < 1 or args.repeat < 1:
        parser.error("--events, --concurrency and --repeat must be >= 1")
    if urlsplit(args.pg).scheme not in ("postgresql", "postgres"):
        parser.error("--pg must be a postgresql:// URL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with _terminate_as_exit():
            rounds = run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print()
    print(table(rounds))
    result = report(args, rounds)
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
