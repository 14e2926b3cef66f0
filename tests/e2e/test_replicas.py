"""Several processes on one PostgreSQL behave as one: two `portus serve` replicas (each running
the background tasks too) and a `portus worker`, a real registry notifying both replicas, a
burst of pushes; then a worker killed with SIGKILL mid-burst; then the registry going away.
Counted, not timed: every tag and every push activity exactly once."""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml

from tests.e2e.live import ADMIN_PASSWORD, PORTUS, LiveServer, set_up
from tests.fixtures.database import backend, throwaway_database
from tests.support.receiver import Received, Receiver
from tests.support.registry_push import RegistryPusher
from tests.support.tools import RegistryProcess, free_port, require_tool, wait_for_http

pytestmark = pytest.mark.skipif(
    backend() != "postgresql", reason="several processes share PostgreSQL (SQLite: one machine)"
)

REPOSITORIES = 20
TAGS_PER_REPOSITORY = 10


@dataclass
class Worker:
    server: LiveServer  # for its environment (same database, data directory and secrets)
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*PORTUS, "worker"],
                cwd=self.server.workdir,
                env=self.server.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Cluster:
    database_url: str
    replicas: list[LiveServer]
    registry: RegistryProcess
    worker: Worker
    admin_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Portus-Auth": f"admin:{self.admin_token}"}

    def api(self, method: str, path: str, replica: int = 0, **kwargs: Any) -> httpx.Response:
        with self.replicas[replica].client() as client:
            return client.request(method, f"/api/v1{path}", headers=self.headers, **kwargs)

    def total(self, path: str, **params: str) -> int:
        response = self.api("GET", path, params={"per_page": 1, **params})
        assert response.status_code == 200, response.text
        return int(response.headers["X-Total"])

    def namespace(self, name: str) -> int:
        team = self.api("POST", "/teams", json={"name": f"{name}-team"})
        assert team.status_code == 201, team.text
        body = {"name": name, "team": f"{name}-team"}
        created = self.api("POST", "/namespaces", json=body)
        assert created.status_code == 201, created.text
        namespace_id: int = created.json()["id"]
        return namespace_id

    def webhook(self, namespace_id: int, receiver: Receiver) -> str:
        """A webhook of the namespace to `receiver`; its signing secret."""
        created = self.api(
            "POST",
            f"/namespaces/{namespace_id}/webhooks",
            json={"name": "burst", "url": receiver.url},
        )
        assert created.status_code == 201, created.text
        secret: str = created.json()["secret"]
        return secret

    def pusher(self) -> RegistryPusher:
        def token_for(repository: str) -> str:
            with self.replicas[1].client() as client:
                response = client.get(
                    "/v2/token",
                    params={
                        "service": self.registry.host,
                        "scope": f"repository:{repository}:push,pull",
                    },
                    auth=("admin", ADMIN_PASSWORD),
                )
            assert response.status_code == 200, response.text
            token: str = response.json()["token"]
            return token

        return RegistryPusher(self.registry.url, token_for)


def _wait(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.25)


@pytest.fixture
async def own_db(tmp_path: Path) -> AsyncIterator[str]:
    async with throwaway_database(tmp_path, migrated=False) as url:
        yield url


@pytest.fixture
def cluster(tmp_path: Path, own_db: str) -> Iterator[Cluster]:
    require_tool("docker-registry")
    env = {
        "PORTUS_BACKGROUND_IN_PROCESS": "true",
        # Every process competes for the periodic passes, every second: the sync imports what
        # the events have not recorded yet (racing them), the collector finds nothing to collect.
        "PORTUS_BACKGROUND_SYNC_STRATEGY": "update",
        "PORTUS_BACKGROUND_SYNC_INTERVAL": "1",
        "PORTUS_DELETE_GARBAGE_COLLECTOR_ENABLED": "true",
        "PORTUS_DELETE_GARBAGE_COLLECTOR_INTERVAL": "1",
        "PORTUS_DELETE_GARBAGE_COLLECTOR_TAG": "^nothing-matches$",
        # a killed sender's leased deliveries come back after 7 x 2 s + 10 s
        "PORTUS_WEBHOOKS_TIMEOUT": "2",
        "PORTUS_WEBHOOKS_ALLOW_LOCAL_NETWORK": "true",  # the receiver is on 127.0.0.1
    }
    first = LiveServer(workdir=tmp_path, database_url=own_db, extra_env=dict(env))
    second = LiveServer(workdir=tmp_path, database_url=own_db, extra_env=dict(env))
    migrated = first.portus("migrate")
    assert migrated.returncode == 0, migrated.stderr
    registry_port = free_port()
    generated = first.portus("registry-config", "--registry-host", f"127.0.0.1:{registry_port}")
    assert generated.returncode == 0, generated.stderr
    # The registry notifies both replicas (each gets every event: the intake dedupes them).
    config = yaml.safe_load(generated.stdout)
    [endpoint] = config["notifications"]["endpoints"]
    config["notifications"]["endpoints"] = [
        endpoint,
        {**endpoint, "name": "portus-2", "url": f"{second.url}/v2/webhooks/events"},
    ]
    registry = RegistryProcess(tmp_path / "registry", registry_port, yaml.safe_dump(config))
    worker = Worker(first, tmp_path / "worker.log")
    try:
        first.start()
        second.start()
        registry.start()
        wait_for_http(f"{registry.url}/v2/")
        token = set_up(first, registry)
        worker.start()
        # Up before the test starts (its start line): on a loaded machine a test could
        # otherwise end before the worker has started at all.
        _wait(lambda: "runs:" in worker.log.read_text(), 60, "the worker's start")
        yield Cluster(own_db, [first, second], registry, worker, token)
    finally:
        worker.stop()
        registry.stop()
        second.stop()
        first.stop()


def _task_runs(database_url: str) -> list[asyncpg.Record]:
    async def fetch() -> list[asyncpg.Record]:
        dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
        connection = await asyncpg.connect(dsn)
        try:
            return list(
                await connection.fetch(
                    "SELECT task, worker, started_at, finished_at FROM task_runs"
                    " ORDER BY task, started_at"
                )
            )
        finally:
            await connection.close()

    return asyncio.run(fetch())


def _assert_passes_never_overlapped(database_url: str) -> None:
    runs = _task_runs(database_url)
    for task in ("sync", "garbage_collector"):
        mine = [run for run in runs if run["task"] == task]
        assert len(mine) >= 3, f"{task}: only {len(mine)} passes"
        for before, after in itertools.pairwise(mine):
            assert before["finished_at"] is not None
            assert before["finished_at"] <= after["started_at"], (task, before, after)
    workers = {run["worker"] for run in runs if run["task"] in ("sync", "garbage_collector")}
    assert len(workers) >= 2  # the passes really were competed for


def _push_burst(cluster: Cluster, prefix: str, *, after_each: Any = None) -> None:
    pusher = cluster.pusher()
    with httpx.Client(timeout=30, trust_env=False) as client:
        for r in range(REPOSITORIES):
            for t in range(TAGS_PER_REPOSITORY):
                pusher.push(client, f"{prefix}/app{r}", f"v{t}")
                if after_each is not None:
                    after_each(r * TAGS_PER_REPOSITORY + t + 1)


def _assert_exactly_once(cluster: Cluster, expected: int) -> None:
    tags = _wait(
        lambda: cluster.total("/tags") >= expected and cluster.total("/tags"),
        90,
        f"{expected} tags recorded",
    )
    assert tags == expected
    # Every push was handled once: one push activity each, though each event arrived twice.
    pushes = _wait(
        lambda: (
            cluster.total("/activities", key="repository.push") >= expected
            and cluster.total("/activities", key="repository.push")
        ),
        30,
        "push activities",
    )
    assert pushes == expected

    def events() -> Any:
        return cluster.api("GET", "/health").json()["background"]["tasks"]["registry_events"]

    # (late copies of events, e.g. pulls, may still be on their way: the backlog drains)
    drained = _wait(lambda: events()["pending"] == 0 and events(), 30, "the event backlog")
    assert drained["failed"] == 0


def _pushed_references(received: list[Received]) -> list[str]:
    references = []
    for request in received:
        event = json.loads(request.body)
        references.append(f"{event['target']['repository']}:{event['target']['tag']}")
    return references


def test_replicas_and_a_worker_record_each_push_once(cluster: Cluster) -> None:
    namespace_id = cluster.namespace("burst")
    expected = REPOSITORIES * TAGS_PER_REPOSITORY
    with Receiver() as receiver:
        secret = cluster.webhook(namespace_id, receiver)
        _push_burst(cluster, "burst")
        _assert_exactly_once(cluster, expected)
        receiver.wait_for(expected, timeout=60)
        time.sleep(2)  # room for a duplicate to show up
        received = list(receiver.received)
    # every push's webhook delivered once: once per delivery id, once per pushed tag, signed
    assert len(received) == expected
    assert len({r.headers["x-portus-delivery"] for r in received}) == expected
    assert len(set(_pushed_references(received))) == expected
    assert all(r.signature_valid(secret) for r in received)
    # Both replicas answer the same, whichever served the intake or the processing.
    assert cluster.total("/repositories") == REPOSITORIES
    with cluster.replicas[1].client() as client:
        other = client.get("/api/v1/tags", params={"per_page": 1}, headers=cluster.headers)
    assert other.headers["X-Total"] == str(expected)
    _assert_passes_never_overlapped(cluster.database_url)


def test_a_worker_killed_mid_burst_loses_nothing_and_repeats_nothing(
    cluster: Cluster,
) -> None:
    # Only the worker processes events here: the replicas hand everything to it.
    for replica in cluster.replicas:
        replica.restart(PORTUS_BACKGROUND_IN_PROCESS="false")
    namespace_id = cluster.namespace("crash")
    receiver = Receiver()
    receiver.start()
    cluster.webhook(namespace_id, receiver)
    killed: list[int] = []

    def maybe_kill(pushed: int) -> None:
        if pushed == 80 and not killed:
            # let the worker get into it, then kill it without warning
            _wait(lambda: cluster.total("/tags") > 0, 30, "the worker started on the burst")
            cluster.worker.kill()
            killed.append(cluster.total("/tags"))

    _push_burst(cluster, "crash", after_each=maybe_kill)
    assert killed and killed[0] < REPOSITORIES * TAGS_PER_REPOSITORY
    time.sleep(1)
    assert cluster.total("/tags") < REPOSITORIES * TAGS_PER_REPOSITORY  # nobody else works
    cluster.worker.start()
    expected = REPOSITORIES * TAGS_PER_REPOSITORY

    def delivery_ids() -> set[str]:
        return {r.headers["x-portus-delivery"] for r in list(receiver.received)}

    try:
        _assert_exactly_once(cluster, expected)
        _wait(lambda: len(delivery_ids()) >= expected, 90, "every delivery")
        received = list(receiver.received)
    finally:
        receiver.stop()
    # Every push's delivery arrived. A send cut by the kill may arrive again after its lease
    # ends, always with its delivery id (receivers dedupe on it): one id per pushed tag.
    by_id = {r.headers["x-portus-delivery"]: r for r in received}
    assert len(by_id) == expected
    assert len(set(_pushed_references(list(by_id.values())))) == expected


def test_registry_down_backs_off_and_recovers(cluster: Cluster) -> None:
    cluster.namespace("down")
    pusher = cluster.pusher()
    with httpx.Client(timeout=30, trust_env=False) as client:
        pusher.push(client, "down/app", "v1")
    _wait(lambda: cluster.total("/tags") == 1, 30, "the first push recorded")
    cluster.registry.stop()
    failing = cluster.api("GET", "/health")
    assert failing.status_code == 503
    assert failing.json()["registry"]["success"] is False

    # the sync passes meet the dead registry: recorded, shown by health (on any replica)
    def sync_failure_shown() -> Any:
        with cluster.replicas[1].client() as client:
            health = client.get("/api/v1/health", headers=cluster.headers)
            tasks = health.json()["background"]["tasks"]
        return tasks.get("sync", {}).get("last_error")

    error = _wait(sync_failure_shown, 30, "the failed sync in health")
    # A pass that starts after the stop fails on the catalog (`<host>: catalog: registry
    # unreachable`); one already under way fails on its repositories (`down/app: registry
    # unreachable`). Which one health shows first is a race: both record the dead registry.
    assert "registry unreachable" in error
    for replica in cluster.replicas:
        assert replica.process is not None and replica.process.poll() is None
    assert cluster.worker.process is not None and cluster.worker.process.poll() is None
    cluster.registry.start()
    with httpx.Client(timeout=30, trust_env=False) as client:
        pusher.push(client, "down/app", "v2")
    _wait(lambda: cluster.total("/tags") == 2, 30, "work resumed after the registry returned")
    # healthy again once a sync pass succeeds (the backed-off process's next try, or another's)
    assert _wait(lambda: cluster.api("GET", "/health").status_code == 200, 60, "healthy again")
    # no crash loop: the worker never restarted (one start line in its log)
    assert cluster.worker.log.read_text().count("runs:") == 1


def test_worker_refuses_a_missing_database_in_one_line(tmp_path: Path, stack_db: str) -> None:
    server = LiveServer(workdir=tmp_path, database_url=stack_db)
    result = subprocess.run(
        [*PORTUS, "worker"],
        cwd=tmp_path,
        env=server.env() | {"PORTUS_DATABASE_URL": stack_db + "_missing"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    # (An outdated schema: tests/test_cli.py, which names `portus migrate` as the fix.)
    missing = stack_db.rsplit("/", 1)[1] + "_missing"
    [line] = result.stderr.splitlines()
    assert line.startswith("error: cannot connect to the database ")
    assert line.endswith(f'database "{missing}" does not exist')
