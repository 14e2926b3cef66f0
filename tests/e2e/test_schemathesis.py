"""Schemathesis fuzzes every operation of the REST API's OpenAPI document against a live server,
as an administrator and as a plain user: no 5xx, no undocumented status code, no response that
breaks its schema."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.live import LiveServer
from tests.support.tools import free_port

pytestmark = pytest.mark.e2e

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
# Operations through which the admin's own credentials would change under the fuzzer (renamed,
# disabled, token deleted...): they run in the plain user's pass.
ADMIN_EXCLUDED = (
    r"^/v1/users/\{user_id\}(/enabled)?$|/application_tokens/\{token_id\}$|/me|/session"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, stack_db: str) -> Iterator[LiveServer]:
    live = LiveServer(workdir=tmp_path_factory.mktemp("fuzz"), database_url=stack_db)
    if not stack_db.startswith("sqlite"):
        assert live.portus("migrate").returncode == 0
    live.start()
    with live.client() as client:
        boot = client.post(
            "/api/v1/users/bootstrap",
            json={
                "user": {"username": "admin", "email": "a@example.com", "password": "adminpass1"}
            },
        )
        admin = {"Portus-Auth": f"admin:{boot.json()['plain_token']}"}
        live.extra_env["FUZZ_ADMIN"] = admin["Portus-Auth"]
        # A registry nobody answers for: deletes reach it and fail with a documented 502.
        client.post(
            "/api/v1/registries",
            json={"registry": {"name": "r", "hostname": f"127.0.0.1:{free_port()}"}, "force": True},
            headers=admin,
        )
        alice = client.post(
            "/api/v1/users",
            json={
                "user": {"username": "alice", "email": "al@example.com", "password": "alicepass1"}
            },
            headers=admin,
        ).json()
        token = client.post(
            f"/api/v1/users/{alice['id']}/application_tokens",
            json={"application": "fuzz"},
            auth=("alice", "alicepass1"),
        ).json()["plain_token"]
        live.extra_env["FUZZ_USER"] = f"alice:{token}"
    yield live
    live.stop()


def _fuzz(
    server: LiveServer, auth: str, workdir: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            f"{server.url}/api/openapi.json",
            "-H",
            f"Portus-Auth: {auth}",
            "--checks",
            CHECKS,
            "--max-examples",
            "12",
            "--phases",
            "examples,fuzzing",
            "--seed",
            "20261129",
            # its 503 is the answer when the (absent) registry is down, as documented
            "--exclude-path",
            "/v1/health",
            *extra,
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_as_administrator(server: LiveServer, tmp_path: Path) -> None:
    result = _fuzz(
        server, server.extra_env["FUZZ_ADMIN"], tmp_path, "--exclude-path-regex", ADMIN_EXCLUDED
    )
    assert result.returncode == 0, result.stdout[-6000:]


def test_as_plain_user(server: LiveServer, tmp_path: Path) -> None:
    result = _fuzz(server, server.extra_env["FUZZ_USER"], tmp_path)
    assert result.returncode == 0, result.stdout[-6000:]
    # and the server logged no unhandled error during either pass
    assert "unhandled error" not in server.log_text()
