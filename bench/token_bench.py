"""Registry token endpoint throughput against a trivial endpoint of the same server.

Starts a real `portus serve` on a fresh PostgreSQL database, sets it up through the REST API, then
drives three workloads with the same load client and concurrency:

  trivial         GET  /api/v1/_ping
  token(app)      GET  /v2/token  (Basic auth with an application token, pull+push scope)
  token(refresh)  POST /v2/token  (grant_type=refresh_token, pull+push scope)

and prints requests/s, p50 and p99 latency for each, with the throughput ratios token/trivial.
The machine is shared and noisy: compare the ratios, not the absolute figures.

    .venv/bin/python bench/token_bench.py [--duration 10] [--connections 32]
        [--pg postgresql://postgres@127.0.0.1:5432/test] [--json PATH] [--metrics]

The load client is `wrk` when it is on PATH (`apt-get install -y wrk`), else an asyncio httpx
load generator running in a separate process (`--client` forces one). The last line of stdout is
the results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
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


class BenchError(Exception):
    """A failure that stops the benchmark; the message says what went wrong."""


# --- data ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    name: str
    method: str
    path: str  # including the query string
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


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
    def __init__(self, executable: str, env: dict[str, str], log_path: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        command = [executable, "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--no-access-log", "--log-level", "warning"]
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
                        f"`portus serve` exited with status {code} during start-up; its log:\n"
                        + _tail(self.log_path)
                    )
                try:
                    response = client.get("/api/v1/_ping")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.TransportError as exc:
                    last = repr(exc)
                time.sleep(0.2)
        raise BenchError(
            f"`portus serve` did not answer /api/v1/_ping with 200 within {STARTUP_TIMEOUT:.0f}s"
            f" (last: {last}); its log:\n{_tail(self.log_path)}"
        )

    def stop(self) -> int | None:
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    print(
                        f"warning: `portus serve` ignored SIGTERM for {STOP_TIMEOUT:.0f}s: killed",
                        file=sys.stderr,
                    )
                    self.process.kill()
                    self.process.wait()
            return self.process.returncode
        finally:
            self._log.close()


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


def set_up(base_url: str) -> tuple[str, str]:
    """Admin, registry, alice, alice's application token, a refresh token: (app token, rt)."""
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
        return str(app_token), str(refresh_token)


def workloads(app_token: str, refresh_token: str) -> list[Workload]:
    token_query = urlencode({"service": SERVICE, "scope": SCOPE, "account": "alice"})
    form = urlencode(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "service": SERVICE,
            "client_id": "bench",
            "scope": SCOPE,
        }
    )
    return [
        Workload("trivial", "GET", "/api/v1/_ping"),
        Workload(
            "token(app)",
            "GET",
            f"/v2/token?{token_query}",
            headers={"Authorization": _basic("alice", app_token)},
        ),
        Workload(
            "token(refresh)",
            "POST",
            "/v2/token",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body=form,
        ),
    ]


def check_first_response(base_url: str, workload: Workload) -> None:
    with httpx.Client(base_url=base_url, timeout=30.0) as client:
        response = client.request(
            workload.method, workload.path, headers=workload.headers, content=workload.body
        )
    what = f"first {workload.name} request"
    body = _expect(response, 200, what)
    if workload.name == "trivial":
        return
    token = body.get("access_token") if isinstance(body, dict) else None
    if not token:
        raise BenchError(f"{what}: no access_token in the answer: {response.text[:300]}")
    _check_grants(str(token), what)


# --- load client: wrk ----------------------------------------------------------------------------
_LUA_TEMPLATE = """\
wrk.method = {method}
{headers}{body}
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  first_bad = ""
end

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


def _lua_string(value: str) -> str:
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r")):
        value = value.replace(raw, escaped)
    return f'"{value}"'


def _lua_script(workload: Workload) -> str:
    headers = "".join(
        f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}\n" for k, v in workload.headers.items()
    )
    body = f"wrk.body = {_lua_string(workload.body)}\n" if workload.body is not None else ""
    return _LUA_TEMPLATE.format(method=_lua_string(workload.method), headers=headers, body=body)


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
    script.write_text(_lua_script(workload))
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
    content = workload.body.encode() if workload.body is not None else None
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:
        start = time.perf_counter()
        deadline = start + duration

        async def worker() -> None:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    response = await client.request(
                        workload.method, workload.path, headers=workload.headers, content=content
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


def _print_table(results: list[Result]) -> None:
    print(f"{'workload':<16}{'requests':>10}{'req/s':>11}{'p50 ms':>10}{'p99 ms':>10}")
    for r in results:
        print(f"{r.workload:<16}{r.requests:>10}{r.rps:>11.1f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}")


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


def bench(args: argparse.Namespace) -> dict[str, Any]:
    wrk = shutil.which("wrk") if args.client in ("auto", "wrk") else None
    if args.client == "wrk" and wrk is None:
        raise BenchError("--client wrk: wrk is not on PATH (apt-get install -y wrk)")
    client_name = "wrk" if wrk else "httpx (asyncio, separate process)"
    portus = _portus_executable()
    database = f"portus_bench_{secrets.token_hex(6)}"
    admin_dsn = args.pg
    service_url = _with_database(admin_dsn, database, scheme="postgresql+asyncpg")

    print(f"load client: {client_name}; {args.connections} connections", end="")
    print(f", {args.threads} threads" if wrk else "", end="")
    print(f"; {args.duration:g}s per workload after {args.warmup:g}s of warm-up")
    print(f"database: {_with_database(admin_dsn, database)}")
    if not wrk:
        print(
            "note: the httpx client saturates far below wrk (a few hundred req/s here) and may be"
            " the bottleneck, which pulls the ratios towards 1: install wrk for real figures"
        )

    try:
        asyncio.run(_create_database(admin_dsn, database))
    except (OSError, asyncpg.PostgresError) as exc:
        raise BenchError(f"cannot create database {database} via {admin_dsn}: {exc!r}") from exc
    server: Server | None = None
    pool: concurrent.futures.ProcessPoolExecutor | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="portus_bench_") as tmp:
            tmp_path = Path(tmp)
            data_dir = tmp_path / "data"
            data_dir.mkdir()
            config = tmp_path / "config.yml"
            config.write_text("")
            env = _service_env(service_url, data_dir, config)
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
            try:
                server.wait_ready()
                print(f"server: {server.base_url} (pid {server.process.pid})")
                app_token, refresh_token = set_up(server.base_url)

                if not wrk:
                    pool = concurrent.futures.ProcessPoolExecutor(
                        max_workers=1, mp_context=multiprocessing.get_context("spawn")
                    )
                results: list[Result] = []
                for workload in workloads(app_token, refresh_token):
                    check_first_response(server.base_url, workload)
                    for phase, seconds in (("warm-up", args.warmup), ("measured", args.duration)):
                        if seconds <= 0:
                            continue
                        if wrk:
                            result, detail = run_wrk(
                                wrk,
                                server.base_url,
                                workload,
                                duration=seconds,
                                connections=args.connections,
                                threads=args.threads,
                                script_dir=tmp_path,
                            )
                        else:
                            assert pool is not None
                            result, detail = run_httpx(
                                pool,
                                server.base_url,
                                workload,
                                duration=seconds,
                                connections=args.connections,
                            )
                        if server.process.poll() is not None:
                            raise BenchError(
                                f"`portus serve` exited (status {server.process.returncode})"
                                f" during {workload.name}; its log:\n{_tail(server.log_path)}"
                            )
                        _raise_on_failures(result, detail, phase)
                    results.append(result)
            finally:
                status = server.stop()
                log = _tail(server.log_path)
                if re.search(r"Traceback|ERROR|CRITICAL", log):
                    print(f"warning: the server logged errors:\n{log}", file=sys.stderr)
                if status not in (0, None, -signal.SIGTERM):  # uvicorn re-raises SIGTERM
                    print(f"warning: `portus serve` exited with status {status}", file=sys.stderr)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        try:
            asyncio.run(_drop_database(admin_dsn, database))
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"warning: could not drop database {database}: {exc!r}", file=sys.stderr)

    trivial, token_app, token_refresh = results
    print()
    _print_table(results)
    print()
    print(f"ratio token(app)/trivial     (req/s): {_ratio(token_app.rps, trivial.rps):.3f}")
    print(f"ratio token(refresh)/trivial (req/s): {_ratio(token_refresh.rps, trivial.rps):.3f}")
    return {
        "client": client_name,
        "connections": args.connections,
        "threads": args.threads if wrk else None,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "results": [asdict(r) for r in results],
        "ratios": {
            "token_app_over_trivial_rps": _ratio(token_app.rps, trivial.rps),
            "token_refresh_over_trivial_rps": _ratio(token_refresh.rps, trivial.rps),
            "token_app_over_trivial_p50": _ratio(token_app.p50_ms, trivial.p50_ms),
            "token_refresh_over_trivial_p50": _ratio(token_refresh.p50_ms, trivial.p50_ms),
        },
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per workload")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per workload")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=None, help="wrk threads (default 2)")
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="an existing database on the server; a fresh one is created beside it",
    )
    parser.add_argument("--client", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument(
        "--metrics", action="store_true", help="run the service with metrics.enabled"
    )
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.connections < 1 or args.warmup < 0:
        parser.error("--duration must be > 0, --connections >= 1, --warmup >= 0")
    if urlsplit(args.pg).scheme not in ("postgresql", "postgres"):
        parser.error("--pg must be a postgresql:// URL")
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
