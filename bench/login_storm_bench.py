"""Latency of the cheap endpoints while a storm of wrong-password logins runs.

Starts a real `portus serve` on a fresh SQLite file (`--db sqlite`, the embedded default) or a
fresh PostgreSQL database (`--db postgresql`), sets it up through the REST API (as
`token_bench.py` does), then measures, with a few sequential probes each:

  token(app)  GET /v2/token   (Basic auth with an application token, pull+push scope)
  ping        GET /api/v1/_ping

first on a quiet server, then while `--storm` concurrent clients keep sending wrong passwords to
`POST /api/v1/session` (argon2 runs for each; unknown user names, so that only the cost of the
hash is measured, not the lockout rules). It prints p50/p99 of each phase and the storm/quiet
ratios. The storm is bounded in count (`--storm-requests`) and time (`--duration`) and goes to
loopback only.

    .venv/bin/python bench/login_storm_bench.py --db sqlite|postgresql [--duration 10]
        [--storm 50] [--pg postgresql://postgres@127.0.0.1:5432/test] [--json PATH]

The per-address login limit is turned off in the served configuration: every storm request
comes from 127.0.0.1, and the point is what the password checks cost everyone else. The last
line of stdout is the results as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from token_bench import (
    LOG_TAIL,
    SCOPE,
    SERVICE,
    BenchError,
    Server,
    _basic,
    _create_database,
    _drop_database,
    _portus_executable,
    _service_env,
    _tail,
    _terminate_as_exit,
    _with_database,
    set_up,
)

PROBES = ("token(app)", "ping")
# Served configuration: the limits that would turn the storm into cheap 429s are off.
CONFIG = "login_rate_limit:\n  enabled: false\n"


@dataclass
class Phase:
    """Latencies (ms) and statuses of the probes of one phase, and the storm's statuses."""

    name: str
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PROBES})
    statuses: dict[str, Counter[int]] = field(
        default_factory=lambda: {p: Counter() for p in PROBES}
    )
    errors: Counter[str] = field(default_factory=Counter)
    storm_statuses: Counter[int] = field(default_factory=Counter)
    storm_requests: int = 0


def percentile(values: list[float], fraction: float) -> float:
    """Nearest rank; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


async def _probe(
    client: httpx.AsyncClient, name: str, app_token: str, phase: Phase, stop_at: float
) -> None:
    """One probe at a time until `stop_at`: each request is sent when the last one answered."""
    if name == "ping":
        method, url, headers = "GET", "/api/v1/_ping", {}
    else:
        params = f"service={SERVICE}&scope={SCOPE}&account=alice"
        method, url = "GET", f"/v2/token?{params}"
        headers = {"Authorization": _basic("alice", app_token)}
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, headers=headers)
        except httpx.HTTPError as exc:
            phase.errors[f"{name}: {type(exc).__name__}"] += 1
            continue
        phase.latencies[name].append((time.perf_counter() - started) * 1000)
        phase.statuses[name][response.status_code] += 1


async def _storm_worker(
    client: httpx.AsyncClient, index: int, phase: Phase, stop_at: float, budget: list[int]
) -> None:
    while time.monotonic() < stop_at and budget[0] > 0:
        budget[0] -= 1
        body = {"username": f"storm-{index}", "password": secrets.token_hex(8)}
        try:
            response = await client.post("/api/v1/session", json=body)
        except httpx.HTTPError as exc:
            phase.errors[f"storm: {type(exc).__name__}"] += 1
            continue
        phase.storm_requests += 1
        phase.storm_statuses[response.status_code] += 1
        if response.status_code in (429, 503):
            # Told to come back later: an honest client waits as told (bounded, the bench is short).
            await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))


async def run_phase(
    base_url: str,
    app_token: str,
    name: str,
    *,
    duration: float,
    probes: int,
    storm: int,
    storm_requests: int,
) -> Phase:
    phase = Phase(name)
    timeout = httpx.Timeout(60.0)
    probe_limits = httpx.Limits(max_connections=probes * len(PROBES))
    storm_limits = httpx.Limits(max_connections=max(1, storm))
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=probe_limits) as probing,
        httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=storm_limits) as storming,
    ):
        budget = [storm_requests]
        started = time.monotonic()
        stop_at = started + duration
        stormers = [
            asyncio.create_task(_storm_worker(storming, i, phase, stop_at, budget))
            for i in range(storm)
        ]
        if storm:
            await asyncio.sleep(min(1.0, duration / 10))  # let the storm build up first
        probers = [
            asyncio.create_task(_probe(probing, probe, app_token, phase, stop_at))
            for probe in PROBES
            for _ in range(probes)
        ]
        await asyncio.gather(*probers)
        phase.seconds = time.monotonic() - started
        for task in stormers:
            task.cancel()
        await asyncio.gather(*stormers, return_exceptions=True)
    return phase


def summarise(quiet: Phase, loud: Phase) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for probe in PROBES:
        q50, q99 = percentile(quiet.latencies[probe], 0.5), percentile(quiet.latencies[probe], 0.99)
        s50, s99 = percentile(loud.latencies[probe], 0.5), percentile(loud.latencies[probe], 0.99)
        rows[probe] = {
            "quiet_p50_ms": q50,
            "quiet_p99_ms": q99,
            "storm_p50_ms": s50,
            "storm_p99_ms": s99,
            "ratio_p50": ratio(s50, q50),
            "ratio_p99": ratio(s99, q99),
            "quiet_requests": len(quiet.latencies[probe]),
            "storm_requests": len(loud.latencies[probe]),
            "quiet_statuses": dict(quiet.statuses[probe]),
            "storm_statuses": dict(loud.statuses[probe]),
        }
    return rows


def _print_report(rows: dict[str, Any], loud: Phase) -> None:
    print(
        f"{'probe':<12}{'quiet p50':>11}{'quiet p99':>11}{'storm p50':>11}{'storm p99':>11}"
        f"{'x p50':>8}{'x p99':>8}  statuses (storm)"
    )
    for probe, row in rows.items():
        print(
            f"{probe:<12}{row['quiet_p50_ms']:>11.2f}{row['quiet_p99_ms']:>11.2f}"
            f"{row['storm_p50_ms']:>11.2f}{row['storm_p99_ms']:>11.2f}"
            f"{row['ratio_p50']:>8.2f}{row['ratio_p99']:>8.2f}  {row['storm_statuses']}"
        )
    rate = loud.storm_requests / loud.seconds if loud.seconds else math.nan
    print(
        f"storm: {loud.storm_requests} logins in {loud.seconds:.1f}s ({rate:.1f}/s),"
        f" statuses {dict(loud.storm_statuses)}"
    )
    if loud.errors:
        print(f"transport errors: {dict(loud.errors)}")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    portus = _portus_executable()
    database = f"portus_bench_{secrets.token_hex(6)}"
    postgres = args.db == "postgresql"
    if postgres:
        try:
            asyncio.run(_create_database(args.pg, database))
        except (OSError, asyncpg.PostgresError) as exc:
            raise BenchError(f"cannot create database {database} via {args.pg}: {exc!r}") from exc
    try:
        with tempfile.TemporaryDirectory(prefix="portus_storm_") as tmp:
            tmp_path = Path(tmp)
            data_dir = tmp_path / "data"
            data_dir.mkdir()
            config = tmp_path / "config.yml"
            config.write_text(CONFIG)
            url = (
                _with_database(args.pg, database, scheme="postgresql+asyncpg")
                if postgres
                else f"sqlite+aiosqlite:///{data_dir / 'portus.sqlite3'}"
            )
            print(f"database: {args.db} ({url.split('@')[-1]})")
            env = _service_env(url, data_dir, config)
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
                app_token, _refresh = set_up(server.base_url)
                common = {"duration": args.duration, "probes": args.probes}
                quiet = asyncio.run(
                    run_phase(
                        server.base_url, app_token, "quiet", storm=0, storm_requests=0, **common
                    )
                )
                loud = asyncio.run(
                    run_phase(
                        server.base_url,
                        app_token,
                        "storm",
                        storm=args.storm,
                        storm_requests=args.storm_requests,
                        **common,
                    )
                )
                if server.process.poll() is not None:
                    raise BenchError(
                        "`portus serve` exited during the bench; its log:\n"
                        + _tail(server.log_path)
                    )
            finally:
                status = server.stop()
                log = _tail(server.log_path)
                if re.search(r"Traceback|ERROR|CRITICAL", log):
                    print(f"warning: the server logged errors:\n{log}", file=sys.stderr)
                if status not in (0, None, -signal.SIGTERM):
                    print(f"warning: `portus serve` exited with status {status}", file=sys.stderr)
    finally:
        if postgres:
            try:
                asyncio.run(_drop_database(args.pg, database))
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"warning: could not drop database {database}: {exc!r}", file=sys.stderr)

    rows = summarise(quiet, loud)
    print()
    _print_report(rows, loud)
    return {
        "db": args.db,
        "duration_s": args.duration,
        "storm": args.storm,
        "probes_per_endpoint": args.probes,
        "results": rows,
        "storm_logins": loud.storm_requests,
        "storm_statuses": dict(loud.storm_statuses),
        "storm_seconds": loud.seconds,
        "errors": {"quiet": dict(quiet.errors), "storm": dict(loud.errors)},
        "phases": [asdict(quiet)["name"], asdict(loud)["name"]],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--storm", type=int, default=50, help="concurrent wrong-password clients")
    parser.add_argument(
        "--storm-requests", type=int, default=5000, help="at most this many storm logins"
    )
    parser.add_argument("--probes", type=int, default=2, help="sequential probes per endpoint")
    parser.add_argument(
        "--pg",
        default="postgresql://postgres@127.0.0.1:5432/test",
        help="with --db postgresql: an existing database; a fresh one is created beside it",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.storm < 0 or args.probes < 1 or args.storm_requests < 0:
        parser.error("--duration > 0, --storm >= 0, --probes >= 1, --storm-requests >= 0")
    if args.db == "postgresql" and urlsplit(args.pg).scheme not in ("postgresql", "postgres"):
        parser.error("--pg must be a postgresql:// URL")
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
