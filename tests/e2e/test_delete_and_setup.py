"""End to end: tag deletion under `delete.enabled`, the bootstrap race, the embedded SQLite mode."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.live import LiveServer, Stack, start_stack
from tests.fixtures.database import throwaway_database
from tests.support.oci import build_oci_layout
from tests.support.tools import Skopeo, require_tool

pytestmark = pytest.mark.e2e

ALICE = "alice:alice-password"


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\nstderr: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, stack_db: str) -> Iterator[Stack]:
    require_tool("skopeo")
    stack = start_stack(tmp_path_factory.mktemp("stack"), stack_db, PORTUS_DELETE_ENABLED="false")
    try:
        stack.create_user("alice", "alice-password")
        yield stack
    finally:
        stack.server.stop()
        stack.registry.stop()


def test_skopeo_delete_only_when_delete_is_enabled(stack: Stack, tmp_path: Path) -> None:
    layout = tmp_path / "img"
    build_oci_layout(layout, "latest", b"to be deleted")
    build_oci_layout(layout, "keep", b"to be kept")
    repo = f"docker://{stack.registry.host}/alice/deletable"
    with Skopeo(tmp_path / "skopeo") as skopeo:
        ok(skopeo.copy(f"oci:{layout}:latest", f"{repo}:old", dest_creds=ALICE))
        ok(skopeo.copy(f"oci:{layout}:keep", f"{repo}:new", dest_creds=ALICE))

        def api_tags() -> list[str]:
            repos = stack.api("GET", "/repositories", headers=stack.admin_headers).json()
            found = [r for r in repos if r["full_name"] == "alice/deletable"]
            if not found:
                return []
            tags = stack.api(
                "GET", f"/repositories/{found[0]['id']}/tags", headers=stack.admin_headers
            ).json()
            return sorted(t["name"] for t in tags)

        stack.wait_for(lambda: api_tags() == ["new", "old"])

        # delete.enabled: false -> the token carries no delete action; the registry refuses.
        refused = skopeo.delete(f"{repo}:old", creds=ALICE)
        assert refused.returncode != 0
        assert "delete" in refused.stderr
        tags = json.loads(ok(skopeo.list_tags(repo, creds=ALICE)).stdout)["Tags"]
        assert sorted(tags) == ["new", "old"]

        # The same database, the service restarted with delete.enabled: true.
        stack.server.restart(PORTUS_DELETE_ENABLED="true")
        ok(skopeo.delete(f"{repo}:old", creds=ALICE))
        tags = json.loads(ok(skopeo.list_tags(repo, creds=ALICE)).stdout)["Tags"]
        assert tags == ["new"]
        # The registry's delete notification reaches us: the tag leaves the catalog.
        stack.wait_for(lambda: api_tags() == ["new"])


async def test_concurrent_bootstraps_create_exactly_one_admin(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    workdir = tmp_path_factory.mktemp("race")
    async with throwaway_database(workdir, migrated=False) as url:
        server = LiveServer(workdir=workdir, database_url=url)
        if not url.startswith("sqlite"):
            assert server.portus("migrate").returncode == 0
        await asyncio.to_thread(server.start)
        try:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

                async def attempt(n: int) -> httpx.Response:
                    body = {
                        "user": {
                            "username": f"admin{n}",
                            "email": f"admin{n}@example.com",
                            "password": "password1",
                        }
                    }
                    return await client.post("/api/v1/users/bootstrap", json=body)

                responses = await asyncio.gather(*(attempt(n) for n in range(12)))
                statuses = sorted(r.status_code for r in responses)
                assert statuses == [201] + [400] * 11
                winner = next(r for r in responses if r.status_code == 201).json()
                admin_name = next(
                    f"admin{n}" for n, r in enumerate(responses) if r.status_code == 201
                )
                users = await client.get(
                    "/api/v1/users",
                    headers={"Portus-Auth": f"{admin_name}:{winner['plain_token']}"},
                )
                assert [u["username"] for u in users.json()] == [admin_name]
                assert users.json()[0]["admin"] is True
        finally:
            await asyncio.to_thread(server.stop)


def test_embedded_sqlite_needs_nothing_but_the_command(tmp_path: Path) -> None:
    """`portus serve` with no configuration at all: SQLite in ./data, keys generated, migrated."""
    server = LiveServer(workdir=tmp_path, database_url="")
    server.extra_env = {"PORTUS_DATABASE_URL": "", "PORTUS_DATA_DIR": str(tmp_path / "data")}
    server.start()
    try:
        with server.client() as client:
            boot = client.post(
                "/api/v1/users/bootstrap",
                json={
                    "user": {"username": "admin", "email": "a@example.com", "password": "password1"}
                },
            )
            assert boot.status_code == 201
            token = client.get(
                "/v2/token", params={"service": "127.0.0.1:5000"}, auth=("admin", "password1")
            )
            assert token.status_code == 200
        assert (tmp_path / "data" / "portus.sqlite3").exists()
        assert (tmp_path / "data" / "keys" / "portus.crt").exists()
    finally:
        server.stop()


def test_bad_configuration_stops_start_up_with_one_line(tmp_path: Path) -> None:
    server = LiveServer(
        workdir=tmp_path,
        database_url="",
        extra_env={"PORTUS_USER_PERMISSION_PUSH_IMAGES_POLICY": "everyone"},
    )
    result = server.portus("serve")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "config error: PORTUS_USER_PERMISSION_PUSH_IMAGES_POLICY=everyone: "
        "user_permission.push_images.policy:"
    )
