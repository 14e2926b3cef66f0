"""Registry token endpoint, event intake and REST reads against a bare one-route FastAPI app.

Starts a real `portus serve` on a fresh database (PostgreSQL with `--pg`, the default, or the
embedded SQLite with `--sqlite`), sets it up through the REST API, and, in the same run, a bare
FastAPI app with one route in a uvicorn process of its own (`bench/bare_app.py`). Then:

Throughput (`--mode throughput`): the same load client and concurrency on each workload,

  bare            GET  /ping on the bare app
  ping            GET  /api/v1/_ping
  token(app)      GET  /v2/token  (Basic auth with an application token, pull+push scope)
  token(refresh)  POST /v2/token  (grant_type=refresh_token, pull+push scope)
  events          POST /v2/webhooks/events (one push event, a new event id every request)

printing requests/s, p50 and p99 for each, and each workload's throughput as a fraction of the
bare app's (`/bare`); and the serving process's CPU time per request, with the bare app's CPU
per request over each workload's (`bare cpu/cpu`): the figure that moves least when the shared
machine is busy.

Latency (`--mode latency`): one request at a time on one keep-alive connection, p50 and p95 of
the same workloads but the refresh grant, plus `GET /api/v1/me` and `GET /api/v1/users`
authenticated with an application token (`Portus-Auth`); the workloads take turns in small
blocks so that the machine's drift spreads over all of them. Each p50 is also given as a
multiple of the bare app's and of `token(app)`'s.

The machine is shared and noisy: compare the ratios, not the absolute figures.

    .venv/bin/python bench/token_bench.py [--mode both|throughput|latency] [--duration 10]
        [--connections 32] [--requests 2000]
        [--pg postgresql://postgres@127.0.0.1:5432/test | --sqlite] [--json PATH] [--metrics]

The throughput load client is `wrk` when it is on PATH (`apt-get install -y wrk`), else an
asyncio httpx load generator running in a separate process (`--client` forces one); the latency
client is a plain blocking socket. The last line of stdout is the results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import dataclasses
import json
import math
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
import httpx

SERVICE = "registry.bench:5000"
SCOPE = "repository:alice/app:pull,push"
ADMIN = {"username": "admin", "email": "admin@example.com", "password": "benchpass1"}
ALICE = {"username": "alice", "email": "alice@example.com", "password": "alicepass1"}
STARTUP_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
LOG_TAIL = 4000
BENCH_DIR = Path(__file__).resolve().parent
NOTIFICATIONS_SECRET = "bench-notifications-secret"
# The event intake stores the events; the worker that turns them into tags runs elsewhere (as
# `portus worker` would in production): its work is not the intake's, and its look-ups of a
# registry that does not exist would only add noise.
SERVICE_CONFIG = "background:\n  in_process: false\n"
# Replaced by a fresh id in every request of the `events` workload.
EVENT_ID = "__EVENT_ID__"


class BenchError(Exception):
    """A failure that stops the benchmark; the message says what went wrong."""


# --- data ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    name: str
    method: str
    path: str  # including the query string
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # with EVENT_ID in it: replaced by a fresh id every request
    bare: bool = False  # sent to the bare app rather than to the service
    status: int = 200

    def body_for(self, event_id: str) -> bytes | None:
        if self.body is None:
            return None
        return self.body.replace(EVENT_ID, event_id).encode()


@dataclass(frozen=True)
class Result:
    workload: str
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int
    # The serving process's CPU time (user + system) over the measured phase, per request: on a
    # shared machine it moves far less with the neighbours' load than requests/s does.
    cpu_us: float = math.nan


@dataclass(frozen=True)
class LatencyResult:
    workload: str
    requests: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


# --- PostgreSQL ----------------------------------------------------------------------------------
def _with_database(url: str, database: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit(
        (scheme or parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment)
    )


async def _create_database(admin_dsn: str, name: str) -> None:
    connection = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _drop_database(admin_dsn: str, name: str) -> None:
    connection = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        await connection.close()


# --- the service ---------------------------------------------------------------------------------
def _portus_executable() -> str:
    beside = Path(sys.executable).parent / "portus"
    if beside.exists():
        return str(beside)
    found = shutil.which("portus")
    if found is None:
        raise BenchError(
            "the `portus` console script is neither beside the interpreter nor on PATH"
        )
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, limit: int = LOG_TAIL) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return text[-limit:] if text else "(empty log)"


class Server:
    """`portus serve` (or, with `command`, another server of the same port) in its own process,
    logging to `log_path`; ready when `ready_path` answers 200."""

    def __init__(
        self,
        executable: str,
        env: dict[str, str],
        log_path: Path,
        *,
        command: list[str] | None = None,
        ready_path: str = "/api/v1/_ping",
        name: str = "portus serve",
    ) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.ready_path = ready_path
        self.name = name
        self._log = log_path.open("wb")
        if command is None:
            command = [executable, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
            command += ["--no-access-log", "--log-level", "warning"]
        else:
            command = [part.replace("{port}", str(self.port)) for part in command]
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = "no answer yet"
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code is not None:
                    raise BenchError(
                        f"`{self.name}` exited with status {code} during start-up; its log:\n"
                        + _tail(self.log_path)
                    )
                try:
                    response = client.get(self.ready_path)
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(0.2)
        raise BenchError(
            f"`{self.name}` did not answer {self.ready_path} with 200 within"
            f" {STARTUP_TIMEOUT:.0f}s (last: {last}); its log:\n{_tail(self.log_path)}"
        )

    def stop(self) -> int | None:
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    print(
                        f"warning: `{self.name}` ignored SIGTERM for {STOP_TIMEOUT:.0f}s: killed",
                        file=sys.stderr,
                    )
                    self.process.kill()
                    self.process.wait()
            return self.process.returncode
        finally:
            self._log.close()


def bare_server(env: dict[str, str], log_path: Path) -> Server:
    """`bench/bare_app.py` under uvicorn, as `portus serve` runs (uvloop, httptools, proxy
    headers, no access log)."""
    command = [sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(BENCH_DIR)]
    command += ["--host", "127.0.0.1", "--port", "{port}", "--no-access-log"]
    command += ["--log-level", "warning"]
    return Server("", env, log_path, command=command, ready_path="/ping", name="bare app")


# --- set-up through the API ----------------------------------------------------------------------
def _expect(response: httpx.Response, status: int, what: str) -> Any:
    if response.status_code != status:
        raise BenchError(
            f"{what}: expected HTTP {status}, got {response.status_code}"
            f" ({response.request.method} {response.request.url.path}): {response.text[:500]}"
        )
    return response.json()


def _basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def _jwt_claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(decoded)
    except (IndexError, ValueError) as exc:
        raise BenchError(f"the registry token is not a JWT: {token[:80]!r}") from exc
    if not isinstance(claims, dict):
        raise BenchError(f"the JWT payload is not an object: {claims!r}")
    return claims


def _check_grants(token: str, what: str) -> None:
    access = _jwt_claims(token).get("access")
    for entry in access if isinstance(access, list) else []:
        if (
            isinstance(entry, dict)
            and entry.get("type") == "repository"
            and entry.get("name") == "alice/app"
        ):
            actions = set(entry.get("actions") or [])
            if {"pull", "push"} <= actions:
                return
            raise BenchError(f"{what}: the token grants {sorted(actions)}, not pull and push")
    raise BenchError(f"{what}: no repository:alice/app entry in the access claim: {access!r}")


@dataclass(frozen=True)
class Credentials:
    admin_token: str
    app_token: str  # alice's
    refresh_token: str  # alice's


def set_up_credentials(base_url: str) -> Credentials:
    """Admin (and the admin's application token), registry, alice, alice's application token, a
    refresh token of alice's."""
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
                json={
                    "registry": {"name": "bench", "hostname": SERVICE, "use_ssl": False},
                    "force": True,
                },
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
                auth=(ALICE["username"], ALICE["password"]),  # users create their own tokens
                json={"application": "bench"},
            ),
            201,
            "create alice's application token",
        )["plain_token"]
        offline = _expect(
            client.get(
                "/v2/token",
                params={"service": SERVICE, "offline_token": "true", "client_id": "bench"},
                headers={"Authorization": _basic("alice", app_token)},
            ),
            200,
            "get a refresh token",
        )
        refresh_token = offline.get("refresh_token")
        if not refresh_token:
            raise BenchError(f"get a refresh token: no refresh_token in {sorted(offline)}")
        return Credentials(str(created["plain_token"]), str(app_token), str(refresh_token))


def set_up(base_url: str) -> tuple[str, str]:
    """Admin, registry, alice, alice's application token, a refresh token: (app token, rt)."""
    found = set_up_credentials(base_url)
    return found.app_token, found.refresh_token


def event_envelope() -> str:
    """One manifest push, as the registry sends it, with EVENT_ID for its id (a new one every
    request: each is stored, none is a redelivery)."""
    event = {
        "id": EVENT_ID,
        "timestamp": "2026-11-29T01:38:46.983704042Z",
        "action": "push",
        "target": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "size": 401,
            "digest": "sha256:" + "ab" * 32,
            "length": 401,
            "repository": "alice/app",
            "url": f"http://{SERVICE}/v2/alice/app/manifests/sha256:{'ab' * 32}",
            "tag": "latest",
        },
        "request": {"id": "bench", "host": SERVICE, "method": "PUT", "useragent": "token-bench"},
        "actor": {"name": "alice"},
        "source": {"addr": "bench:5000", "instanceID": "bench"},
    }
    return json.dumps({"events": [event]}, separators=(",", ":"))


def workloads(credentials: Credentials) -> dict[str, Workload]:
    token_query = urlencode({"service": SERVICE, "scope": SCOPE, "account": "alice"})
    form = urlencode(
        {
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token,
            "service": SERVICE,
            "client_id": "bench",
            "scope": SCOPE,
        }
    )
    found = [
        Workload("bare", "GET", "/ping", bare=True),
        Workload("ping", "GET", "/api/v1/_ping"),
        Workload("floor(token)", "GET", "/floor/token", bare=True),
        Workload(
            "floor(write)",
            "POST",
            "/floor/write",
            headers={"Content-Type": "application/json"},
            body=event_envelope(),
            bare=True,
            status=202,
        ),
        Workload(
            "token(app)",
            "GET",
            f"/v2/token?{token_query}",
            headers={"Authorization": _basic("alice", credentials.app_token)},
        ),
        Workload(
            "token(refresh)",
            "POST",
            "/v2/token",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=form,
        ),
        Workload(
            "events",
            "POST",
            "/v2/webhooks/events",
            headers={
                "Authorization": f"Bearer {NOTIFICATIONS_SECRET}",
                "Content-Type": "application/vnd.docker.distribution.events.v1+json",
            },
            body=event_envelope(),
            status=202,
        ),
        Workload(
            "me",
            "GET",
            "/api/v1/me",
            headers={"Portus-Auth": f"alice:{credentials.app_token}"},
        ),
        Workload(
            "users",
            "GET",
            "/api/v1/users",
            headers={"Portus-Auth": f"admin:{credentials.admin_token}"},
        ),
    ]
    return {workload.name: workload for workload in found}


THROUGHPUT = (
    "bare",
    "ping",
    "floor(token)",
    "token(app)",
    "token(refresh)",
    "floor(write)",
    "events",
)
LATENCY = ("bare", "ping", "floor(token)", "token(app)", "me", "users", "events")
# The bare app's floors need PostgreSQL (bench/bare_app.py).
FLOORS = ("floor(token)", "floor(write)")


def check_first_response(base_url: str, workload: Workload) -> None:
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        response = client.request(
            workload.method,
            workload.path,
            headers=workload.headers,
            content=workload.body_for(uuid.uuid4().hex),
        )
    what = f"first {workload.name} request"
    body = _expect(response, workload.status, what)
    if workload.name.startswith("token"):
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise BenchError(f"{what}: no access_token in the answer: {response.text[:300]}")
        _check_grants(str(token), what)
    elif workload.name == "events" and body != {"stored": 1}:
        raise BenchError(f"{what}: the event was not stored: {response.text[:300]}")
    elif workload.name == "users" and not (isinstance(body, list) and len(body) == 2):
        raise BenchError(f"{what}: expected the two users: {response.text[:300]}")


# --- load client: wrk ----------------------------------------------------------------------------
_LUA_TEMPLATE = """\
wrk.method = {method}
{headers}{body}
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  bad = 0
  first_bad = ""
  counter = 0
end
{request}
function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local total = 0
  local sample = ""
  for _, thread in ipairs(threads) do
    total = total + thread:get("bad")
    if sample == "" then sample = thread:get("first_bad") end
  end
  io.write(string.format("BENCH_NON2XX %d\\n", total))
  if sample ~= "" then io.write("BENCH_FIRST_BAD " .. sample .. "\\n") end
end
"""

# A body with EVENT_ID: a fresh id every request (this run's, the thread's, a counter).
_LUA_REQUEST = """
local template = {template}

function request()
  counter = counter + 1
  local id = string.format("{run}-%d-%d", thread_number, counter)
  return wrk.format(nil, nil, nil, string.format(template, id))
end
"""


def _lua_string(value: str) -> str:
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r")):
        value = value.replace(raw, escaped)
    return f'"{value}"'


def _lua_script(workload: Workload, run: str = "run") -> str:
    headers = "".join(
        f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}\n" for k, v in workload.headers.items()
    )
    body = request = ""
    if workload.body is not None and EVENT_ID in workload.body:
        template = workload.body.replace("%", "%%").replace(EVENT_ID, "%s")
        request = _LUA_REQUEST.format(template=_lua_string(template), run=run)
    elif workload.body is not None:
        body = f"wrk.body = {_lua_string(workload.body)}\n"
    return _LUA_TEMPLATE.format(
        method=_lua_string(workload.method), headers=headers, body=body, request=request
    )


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str, name: str) -> Result:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise BenchError(f"cannot parse wrk's output for {name} ({pattern!r}):\n{output}")
        return match

    p50 = find(rf"^\s*50(?:\.0+)?%\s+{_TIME}\s*$")
    p99 = find(rf"^\s*99(?:\.0+)?%\s+{_TIME}\s*$")
    total = find(rf"^\s*(\d+) requests in {_TIME}")
    rps = find(r"^Requests/sec:\s+([\d.]+)")
    non_2xx = int(find(r"^BENCH_NON2XX (\d+)").group(1))
    status_errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if status_errors:
        non_2xx = max(non_2xx, int(status_errors.group(1)))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    return Result(
        workload=name,
        requests=int(total.group(1)),
        duration_s=_ms(total.group(2), total.group(3)) / 1000.0,
        rps=float(rps.group(1)),
        p50_ms=_ms(p50.group(1), p50.group(2)),
        p99_ms=_ms(p99.group(1), p99.group(2)),
        non_2xx=non_2xx,
        errors=errors,
    )


def run_wrk(
    wrk: str,
    base_url: str,
    workload: Workload,
    *,
    duration: float,
    connections: int,
    threads: int,
    script_dir: Path,
) -> tuple[Result, str]:
    script = script_dir / f"{re.sub(r'[^a-z]+', '_', workload.name)}.lua"
    script.write_text(_lua_script(workload, run=secrets.token_hex(4)))
    command = [
        wrk,
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, math.ceil(duration))}s",
        "--timeout=30s",
        "--latency",
        f"--script={script}",
        base_url + workload.path,
    ]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 120, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"wrk did not finish for {workload.name}") from exc
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        raise BenchError(
            f"wrk failed (status {completed.returncode}) for {workload.name}:\n{output}"
        )
    return parse_wrk(output, workload.name), output


# --- load client: httpx fallback (runs in its own process) ---------------------------------------
def _percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def _httpx_load(
    base_url: str, workload: Workload, duration: float, connections: int
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:
        start = time.perf_counter()
        deadline = start + duration

        async def worker() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    response = await client.request(
                        workload.method,
                        workload.path,
                        headers=workload.headers,
                        content=workload.body_for(uuid.uuid4().hex),
                    )
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                    continue
                latencies.append(time.perf_counter() - began)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "duration_s": elapsed,
        "p50_ms": _percentile(latencies, 0.50) * 1000.0,
        "p99_ms": _percentile(latencies, 0.99) * 1000.0,
        "statuses": statuses,
        "errors": errors[:5],
        "error_count": len(errors),
    }


def httpx_load_process(
    base_url: str, workload: Workload, duration: float, connections: int
) -> dict[str, Any]:
    """Entry point of the load-generator process."""
    return asyncio.run(_httpx_load(base_url, workload, duration, connections))


def run_httpx(
    pool: concurrent.futures.ProcessPoolExecutor,
    base_url: str,
    workload: Workload,
    *,
    duration: float,
    connections: int,
) -> tuple[Result, str]:
    future = pool.submit(httpx_load_process, base_url, workload, duration, connections)
    raw = future.result(timeout=duration + 120)
    statuses: dict[int, int] = raw["statuses"]
    non_2xx = sum(n for code, n in statuses.items() if not 200 <= code <= 299)
    requests = int(raw["requests"])
    result = Result(
        workload=workload.name,
        requests=requests,
        duration_s=float(raw["duration_s"]),
        rps=requests / float(raw["duration_s"]),
        p50_ms=float(raw["p50_ms"]),
        p99_ms=float(raw["p99_ms"]),
        non_2xx=non_2xx,
        errors=int(raw["error_count"]),
    )
    detail = f"statuses {statuses}; first transport errors: {raw['errors']}"
    return result, detail


# --- latency client: one request at a time on a plain socket -------------------------------------
class SocketClient:
    """HTTP/1.1 on one keep-alive connection, one request at a time; bodies with a
    Content-Length only (what uvicorn sends for these answers). Microseconds of its own, where
    an httpx request costs a few hundred."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host = parts.netloc
        if parts.hostname is None or parts.port is None:
            raise BenchError(f"no host and port in {base_url!r}")
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def encode(self, workload: Workload, event_id: str) -> bytes:
        body = workload.body_for(event_id) or b""
        lines = [f"{workload.method} {workload.path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in workload.headers.items()]
        if body or workload.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    def _read_more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise BenchError("the server closed the connection")
        self.buffer += chunk

    def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._read_more()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
            elif name.strip().lower() == b"transfer-encoding":
                raise BenchError("a chunked answer: the latency client reads Content-Length only")
        if length is None:
            raise BenchError(f"an answer without Content-Length: {head[:300]!r}")
        while len(self.buffer) < length:
            self._read_more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body


def measure_latency(
    servers: dict[bool, str], chosen: list[Workload], *, requests: int, warmup: int, block: int
) -> list[LatencyResult]:
    """`requests` timed requests a workload after `warmup` untimed ones, the workloads taking
    turns `block` requests at a time."""
    clients = {workload.name: SocketClient(servers[workload.bare]) for workload in chosen}
    samples: dict[str, list[float]] = {workload.name: [] for workload in chosen}
    run = secrets.token_hex(4)
    counter = 0
    try:
        for phase, count in (("warm-up", warmup), ("measured", requests)):
            done = 0
            while done < count:
                batch = min(block, count - done)
                for workload in chosen:
                    client = clients[workload.name]
                    for _ in range(batch):
                        counter += 1
                        request = client.encode(workload, f"{run}-{counter}")
                        began = time.perf_counter()
                        status, body = client.exchange(request)
                        elapsed = time.perf_counter() - began
                        if status != workload.status:
                            raise BenchError(
                                f"{workload.name} ({phase}): HTTP {status}: {body[:300]!r}"
                            )
                        if phase == "measured":
                            samples[workload.name].append(elapsed * 1000.0)
                done += batch
    finally:
        for client in clients.values():
            client.close()
    results = []
    for workload in chosen:
        values = sorted(samples[workload.name])
        results.append(
            LatencyResult(
                workload=workload.name,
                requests=len(values),
                p50_ms=_percentile(values, 0.50),
                p95_ms=_percentile(values, 0.95),
                p99_ms=_percentile(values, 0.99),
            )
        )
    return results


# --- orchestration -------------------------------------------------------------------------------
def _raise_on_failures(result: Result, detail: str, phase: str) -> None:
    if result.non_2xx or result.errors:
        raise BenchError(
            f"{result.workload} ({phase}): {result.non_2xx} non-2xx responses and"
            f" {result.errors} socket/transport errors out of {result.requests} requests;"
            f" load client output:\n{detail}"
        )
    if result.requests == 0:
        raise BenchError(f"{result.workload} ({phase}): no request completed:\n{detail}")


def _service_env(database_url: str, data_dir: Path, config: Path) -> dict[str, str]:
    # Inherited PORTUS_* variables would change the service's configuration: drop them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTUS_")}
    env.update(
        PORTUS_DATABASE_URL=database_url,
        PORTUS_DATA_DIR=str(data_dir),
        PORTUS_CONFIG=str(config),
    )
    return env


def _print_table(results: list[Result], bare: Result | None) -> None:
    print(
        f"{'workload':<16}{'requests':>10}{'req/s':>11}{'p50 ms':>10}{'p99 ms':>10}{'/bare':>8}"
        f"{'cpu us/req':>12}{'bare cpu/cpu':>14}"
    )
    for r in results:
        ratio = _ratio(r.rps, bare.rps) if bare is not None else math.nan
        cpu_ratio = _ratio(bare.cpu_us, r.cpu_us) if bare is not None else math.nan
        print(
            f"{r.workload:<16}{r.requests:>10}{r.rps:>11.1f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}"
            f"{ratio:>8.3f}{r.cpu_us:>12.0f}{cpu_ratio:>14.3f}"
        )


def _print_latency(results: list[LatencyResult]) -> None:
    by_name = {r.workload: r for r in results}
    bare = by_name.get("bare")
    token = by_name.get("token(app)")
    print(
        f"{'workload':<16}{'requests':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}"
        f"{'p50/bare':>10}{'p50/token':>11}"
    )
    for r in results:
        over_bare = _ratio(r.p50_ms, bare.p50_ms) if bare else math.nan
        over_token = _ratio(r.p50_ms, token.p50_ms) if token else math.nan
        print(
            f"{r.workload:<16}{r.requests:>10}{r.p50_ms:>10.3f}{r.p95_ms:>10.3f}{r.p99_ms:>10.3f}"
            f"{over_bare:>10.2f}{over_token:>11.2f}"
        )


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so that the `finally` clauses clean up."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _check_alive(servers: list[Server], during: str) -> None:
    for server in servers:
        if server.process.poll() is not None:
            raise BenchError(
                f"`{server.name}` exited (status {server.process.returncode}) during {during};"
                f" its log:\n{_tail(server.log_path)}"
            )


def measure_throughput(
    args: argparse.Namespace,
    wrk: str | None,
    servers: dict[bool, Server],
    chosen: list[Workload],
    script_dir: Path,
) -> list[Result]:
    pool: concurrent.futures.ProcessPoolExecutor | None = None
    if not wrk:
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )
    try:
        results: list[Result] = []
        for workload in chosen:
            base_url = servers[workload.bare].base_url
            pid = servers[workload.bare].process.pid
            for phase, seconds in (("warm-up", args.warmup), ("measured", args.duration)):
                if seconds <= 0:
                    continue
                cpu_before = cpu_seconds(pid)
                if wrk:
                    result, detail = run_wrk(
                        wrk,
                        base_url,
                        workload,
                        duration=seconds,
                        connections=args.connections,
                        threads=args.threads,
                        script_dir=script_dir,
                    )
                else:
                    assert pool is not None
                    result, detail = run_httpx(
                        pool,
                        base_url,
                        workload,
                        duration=seconds,
                        connections=args.connections,
                    )
                cpu_us = (cpu_seconds(pid) - cpu_before) * 1e6 / max(result.requests, 1)
                result = dataclasses.replace(result, cpu_us=cpu_us)
                _check_alive(list(servers.values()), workload.name)
                _raise_on_failures(result, detail, phase)
            results.append(result)
        return results
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _chosen(
    args: argparse.Namespace, names: tuple[str, ...], known: dict[str, Workload]
) -> list[Workload]:
    wanted = set(names) if args.only is None else {"bare", *args.only.split(",")}
    return [known[name] for name in names if name in wanted and name in known]


def _stop(server: Server) -> None:
    status = server.stop()
    log = _tail(server.log_path)
    if re.search(r"Traceback|ERROR|CRITICAL", log):
        print(f"warning: `{server.name}` logged errors:\n{log}", file=sys.stderr)
    if status not in (0, None, -signal.SIGTERM):  # uvicorn re-raises SIGTERM
        print(f"warning: `{server.name}` exited with status {status}", file=sys.stderr)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    wrk = shutil.which("wrk") if args.client in ("auto", "wrk") else None
    if args.client == "wrk" and wrk is None:
        raise BenchError("--client wrk: wrk is not on PATH (apt-get install -y wrk)")
    client_name = "wrk" if wrk else "httpx (asyncio, separate process)"
    portus = _portus_executable()
    database = f"portus_bench_{secrets.token_hex(6)}"
    postgres = not args.sqlite
    throughput = args.mode in ("both", "throughput")
    latency = args.mode in ("both", "latency")

    if throughput:
        print(f"load client: {client_name}; {args.connections} connections", end="")
        print(f", {args.threads} threads" if wrk else "", end="")
        print(f"; {args.duration:g}s per workload after {args.warmup:g}s of warm-up")
        if not wrk:
            print(
                "note: the httpx client saturates far below wrk (a few hundred req/s here) and"
                " may be the bottleneck, which pulls the ratios towards 1: install wrk"
            )
    if latency:
        print(
            f"latency: one request at a time, {args.requests} a workload after"
            f" {args.latency_warmup} of warm-up, in turns of {args.block}"
        )
    if postgres:
        try:
            asyncio.run(_create_database(args.pg, database))
        except (OSError, asyncpg.PostgresError) as exc:
            raise BenchError(f"cannot create database {database} via {args.pg}: {exc!r}") from exc
    report: dict[str, Any] = {
        "db": "postgresql" if postgres else "sqlite",
        "client": client_name,
        "connections": args.connections,
        "threads": args.threads if wrk else None,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
    }
    try:
        with tempfile.TemporaryDirectory(prefix="portus_bench_") as tmp:
            tmp_path = Path(tmp)
            data_dir = tmp_path / "data"
            data_dir.mkdir()
            config = tmp_path / "config.yml"
            config.write_text(SERVICE_CONFIG)
            url = (
                _with_database(args.pg, database, scheme="postgresql+asyncpg")
                if postgres
                else f"sqlite+aiosqlite:///{data_dir / 'portus.sqlite3'}"
            )
            print(f"database: {url.split('@')[-1]}")
            env = _service_env(url, data_dir, config)
            env["PORTUS_NOTIFICATIONS_SECRET"] = NOTIFICATIONS_SECRET
            if args.metrics:
                # The request metrics on (the middleware times every request): their cost.
                env.update(
                    PORTUS_METRICS_ENABLED="true", PORTUS_METRICS_TOKEN=secrets.token_hex(16)
                )
            migrated = subprocess.run(
                [portus, "migrate"], env=env, capture_output=True, text=True, check=False
            )
            if migrated.returncode != 0:
                raise BenchError(
                    f"`portus migrate` failed with status {migrated.returncode}:\n"
                    + (migrated.stdout + migrated.stderr)[-LOG_TAIL:]
                )
            server = Server(portus, env, tmp_path / "serve.log")
            bare_env = dict(env)
            if postgres:
                bare_env["BENCH_FLOOR_DSN"] = _with_database(args.pg, database)
            bare = bare_server(bare_env, tmp_path / "bare.log")
            try:
                server.wait_ready()
                bare.wait_ready()
                print(f"server: {server.base_url} (pid {server.process.pid})")
                print(f"bare app: {bare.base_url} (pid {bare.process.pid})")
                known = workloads(set_up_credentials(server.base_url))
                if not postgres:
                    known = {name: w for name, w in known.items() if name not in FLOORS}
                servers = {False: server, True: bare}
                for workload in known.values():
                    check_first_response(servers[workload.bare].base_url, workload)
                if throughput:
                    results = measure_throughput(
                        args, wrk, servers, _chosen(args, THROUGHPUT, known), tmp_path
                    )
                    report["throughput"] = _throughput_report(results)
                if latency:
                    timed = measure_latency(
                        {False: server.base_url, True: bare.base_url},
                        _chosen(args, LATENCY, known),
                        requests=args.requests,
                        warmup=args.latency_warmup,
                        block=args.block,
                    )
                    _check_alive([server, bare], "the latency measurement")
                    report["latency"] = _latency_report(timed)
            finally:
                _stop(server)
                _stop(bare)
    finally:
        if postgres:
            try:
                asyncio.run(_drop_database(args.pg, database))
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"warning: could not drop database {database}: {exc!r}", file=sys.stderr)

    if throughput:
        print()
        found = [Result(**row) for row in report["throughput"]["results"]]
        _print_table(found, next((r for r in found if r.workload == "bare"), None))
    if latency:
        print()
        _print_latency([LatencyResult(**row) for row in report["latency"]["results"]])
    return report


def _throughput_report(results: list[Result]) -> dict[str, Any]:
    by_name = {r.workload: r for r in results}
    bare, ping = by_name.get("bare"), by_name.get("ping")
    return {
        "results": [asdict(r) for r in results],
        "rps_over_bare": {
            r.workload: _ratio(r.rps, bare.rps) if bare else math.nan for r in results
        },
        "rps_over_ping": {
            r.workload: _ratio(r.rps, ping.rps) if ping else math.nan for r in results
        },
        "bare_cpu_over_cpu": {
            r.workload: _ratio(bare.cpu_us, r.cpu_us) if bare else math.nan for r in results
        },
    }


def _latency_report(results: list[LatencyResult]) -> dict[str, Any]:
    by_name = {r.workload: r for r in results}
    bare, token = by_name.get("bare"), by_name.get("token(app)")
    return {
        "results": [asdict(r) for r in results],
        "p50_over_bare": {
            r.workload: _ratio(r.p50_ms, bare.p50_ms) if bare else math.nan for r in results
        },
        "p50_over_token": {
            r.workload: _ratio(r.p50_ms, token.p50_ms) if token else math.nan for r in results
        },
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--mode", choices=("both", "throughput", "latency"), default="both")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per workload")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per workload")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=None, help="wrk threads (default 2)")
    parser.add_argument(
        "--requests", type=int, default=2000, help="timed requests a workload (latency)"
    )
    parser.add_argument(
        "--latency-warmup", type=int, default=200, help="untimed requests a workload (latency)"
    )
    parser.add_argument(
        "--block", type=int, default=50, help="requests in a row of one workload (latency)"
    )
    database = parser.add_mutually_exclusive_group()
    database.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="an existing database on the server; a fresh one is created beside it",
    )
    database.add_argument(
        "--sqlite", action="store_true", help="the embedded SQLite database (a fresh file)"
    )
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated workloads to run (default: all of the mode's); bare is always run",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--metrics", action="store_true", help="run the service with metrics.enabled"
    )
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.warmup < 0:
        parser.error("--duration must be > 0, --connections >= 1, --warmup >= 0")
    if args.requests < 1 or args.latency_warmup < 0 or args.block < 1:
        parser.error("--requests and --block must be >= 1, --latency-warmup >= 0")
    if urlsplit(args.pg).scheme not in ("postgresql", "postgres"):
        parser.error("--pg must be a postgresql:// URL")
    if args.only is not None:
        unknown = set(args.only.split(",")) - set(THROUGHPUT) - set(LATENCY)
        if unknown:
            parser.error(f"--only: unknown workloads {sorted(unknown)}")
    args.threads = min(args.threads or 2, args.connections)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with _terminate_as_exit():
            report = bench(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    line = json.dumps(report)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
