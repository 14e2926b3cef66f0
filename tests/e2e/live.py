"""A real `portus serve` process and a real registry configured from `portus registry-config`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.tools import RegistryProcess, free_port, require_tool, wait_for_http

ROOT = Path(__file__).resolve().parents[2]
PORTUS = [sys.executable, "-m", "app"]
FQDN = "portus.e2e.test"


@dataclass
class LiveServer:
    """`portus serve` on a free loopback port, against `database_url`, with its own data dir."""

    workdir: Path
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        empty_config = self.workdir / "config.yml"
        if not empty_config.exists():
            empty_config.write_text("{}\n")
        base = {k: v for k, v in os.environ.items() if not k.startswith("PORTUS_")}
        return (
            base
            | {
                "PORTUS_CONFIG": str(empty_config),
                "PORTUS_DATABASE_URL": self.database_url,
                "PORTUS_DATA_DIR": str(self.workdir / "data"),
                "PORTUS_PUBLIC_URL": self.url,
                "PORTUS_MACHINE_FQDN_VALUE": FQDN,
                "PORTUS_SECRET_KEY_BASE": "e2e-secret-key-base",
                "PORTUS_NOTIFICATIONS_SECRET": "e2e-notifications-secret",
            }
            | self.extra_env
        )

    def portus(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PORTUS, *args],
            cwd=self.workdir,
            env=self.env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start(self) -> None:
        with (self.workdir / f"portus-{self.port}.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*PORTUS, "serve", "--port", str(self.port), "--log-level", "warning"],
                cwd=self.workdir,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"portus serve exited: {self.log_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v1/_ping", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"portus serve did not answer: {self.log_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self, **env: str) -> None:
        self.stop()
        self.extra_env.update(env)
        self.start()

    def log_text(self) -> str:
        path = self.workdir / f"portus-{self.port}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, trust_env=False, **kwargs)


@dataclass
class Stack:
    """Portus + a registry that trusts it, an administrator, and the registry registered."""

    server: LiveServer
    registry: RegistryProcess
    admin_token: str

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Portus-Auth": f"admin:{self.admin_token}"}

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.server.client() as client:
            return client.request(method, f"/api/v1{path}", **kwargs)

    def create_user(self, username: str, password: str, *, bot: bool = False) -> dict[str, Any]:
        body = {"user": {"username": username, "email": f"{username}@example.com", "bot": bot}}
        if not bot:
            body["user"]["password"] = password
        response = self.api("POST", "/users", json=body, headers=self.admin_headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def registry_token(self, username: str, password: str, *scopes: str) -> str:
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("service", self.registry.host)
        ]
        params += [("scope", s) for s in scopes]
        with self.server.client() as client:
            response = client.get("/v2/token", params=params, auth=(username, password))
        assert response.status_code == 200, response.text
        token: str = response.json()["token"]
        return token

    def wait_for(self, predicate: Any, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            time.sleep(0.2)


def start_stack(workdir: Path, database_url: str, **env: str) -> Stack:
    require_tool("docker-registry")
    server = LiveServer(workdir=workdir, database_url=database_url, extra_env=dict(env))
    if not database_url.startswith("sqlite"):
        migrated = server.portus("migrate")
        assert migrated.returncode == 0, migrated.stderr
    registry_port = free_port()
    config = server.portus("registry-config", "--registry-host", f"127.0.0.1:{registry_port}")
    assert config.returncode == 0, config.stderr
    server.start()
    registry = RegistryProcess(workdir / "registry", registry_port, config.stdout)
    registry.start()
    wait_for_http(f"{registry.url}/v2/")
    return Stack(server=server, registry=registry, admin_token=set_up(server, registry))


ADMIN_PASSWORD = "adminpass1"


def set_up(server: LiveServer, registry: RegistryProcess) -> str:
    """Bootstrap `admin` (password ADMIN_PASSWORD) and register `registry`; the admin's token."""
    with server.client() as client:
        boot = client.post(
            "/api/v1/users/bootstrap",
            json={
                "user": {
                    "username": "admin",
                    "email": "admin@example.com",
                    "password": ADMIN_PASSWORD,
                }
            },
        )
        assert boot.status_code == 201, boot.text
        token: str = boot.json()["plain_token"]
        created = client.post(
            "/api/v1/registries",
            json={"registry": {"name": "e2e", "hostname": registry.host, "use_ssl": False}},
            headers={"Portus-Auth": f"admin:{token}"},
        )
        assert created.status_code == 201, created.text
    return token
