from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from app.core.keys import libtrust_kid
from tests.e2e.live import LiveServer
from tests.e2e.registry_bench import registry_bench
from tests.fixtures.database import backend, throwaway_database
from tests.support.tools import free_port, require_tool


def test_registry_config_is_ready_to_paste(tmp_path: Path) -> None:
    cli = LiveServer(workdir=tmp_path, database_url="", extra_env={"PORTUS_DATABASE_URL": ""})
    result = cli.portus("registry-config", "--registry-host", "registry.example.org:5000")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    token = config["auth"]["token"]
    assert token["realm"] == f"{cli.url}/v2/token"
    assert token["service"] == "registry.example.org:5000"
    assert token["issuer"] == "portus.e2e.test"
    certificate = x509.load_pem_x509_certificate(Path(token["rootcertbundle"]).read_bytes())
    assert len(libtrust_kid(certificate.public_key())) == 59
    endpoint = config["notifications"]["endpoints"][0]
    assert endpoint["url"] == f"{cli.url}/v2/webhooks/events"
    assert endpoint["headers"] == {"Authorization": ["Bearer e2e-notifications-secret"]}
    assert endpoint["ignoredmediatypes"] == ["application/octet-stream"]


def test_create_user_reads_the_password_from_stdin(tmp_path: Path) -> None:
    cli = LiveServer(workdir=tmp_path, database_url="", extra_env={"PORTUS_DATABASE_URL": ""})
    assert cli.portus("migrate").returncode == 0
    created = cli.portus(
        "create-user", "carol", "--email", "c@example.com", "--admin", stdin="pw-carol-1\n"
    )
    assert created.returncode == 0, created.stderr
    assert "created user carol" in created.stdout
    again = cli.portus("create-user", "carol", "--email", "c2@example.com", stdin="pw-carol-1\n")
    assert again.returncode == 1
    assert "username has already been taken" in again.stderr
    short = cli.portus("create-user", "dave", "--email", "d@example.com", stdin="short\n")
    assert short.returncode == 1
    assert "password must be 8 to 128 characters long" in short.stderr
    bot = cli.portus("create-user", "ci-bot", "--email", "bot@example.com", "--bot")
    assert bot.returncode == 0
    assert "created bot ci-bot" in bot.stdout


async def test_serve_refuses_an_unmigrated_postgresql(tmp_path: Path) -> None:
    if backend() != "postgresql":
        pytest.skip("SQLite migrates itself on serve (covered in e2e)")
    async with throwaway_database(tmp_path, migrated=False) as url:
        cli = LiveServer(workdir=tmp_path, database_url=url)
        result = await asyncio.to_thread(cli.portus, "serve", "--port", str(free_port()))
    assert result.returncode == 2
    assert "run `portus migrate` first" in result.stderr


async def test_sync_and_gc_commands(tmp_path: Path) -> None:
    require_tool("skopeo")
    async with registry_bench(tmp_path) as bench:
        for n in range(1, 5):
            bench.push("team/app", f"v{n}", f"content {n}".encode())
        bench.cli.extra_env = {
            "PORTUS_REGISTRY_CATALOG_PAGE_VALUE": "2",
            "PORTUS_DELETE_GARBAGE_COLLECTOR_OLDER_THAN": "0",
            "PORTUS_DELETE_GARBAGE_COLLECTOR_KEEP_LATEST": "1",
            "PORTUS_DELETE_GARBAGE_COLLECTOR_TAG": "^v[123]$",
        }

        synced = await asyncio.to_thread(bench.cli.portus, "sync", "--strategy", "update-delete")
        assert synced.returncode == 0, synced.stderr
        lines = synced.stdout.splitlines()
        assert lines[0] == (
            "catalog sync: strategy update-delete (background.sync.strategy: initial), "
            "registry.catalog_page: 2"
        )
        assert "namespaces created: 1" in lines and "  team" in lines
        assert "tags created: 4" in lines
        assert [line for line in lines if line.startswith("  team/app:")] == [
            f"  team/app:v{n}" for n in range(1, 5)
        ]
        assert "errors: 0" in lines
        assert "sync: 100%" in synced.stderr  # the progress bar
        # The default strategy (initial) runs only while no repository is known.
        default = await asyncio.to_thread(bench.cli.portus, "sync")
        assert default.returncode == 0, default.stderr
        assert default.stdout.splitlines()[1] == (
            "nothing done: the database already has repositories (strategy initial)"
        )
        again = await asyncio.to_thread(bench.cli.portus, "sync", "--strategy", "update")
        assert again.returncode == 0, again.stderr
        assert "tags created: 0" in again.stdout.splitlines()

        dry = await asyncio.to_thread(bench.cli.portus, "gc", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        lines = dry.stdout.splitlines()
        assert lines[0] == (
            "garbage collector: older_than 0 days, keep_latest 1 per repository, tag /^v[123]$/; "
            "delete.garbage_collector.enabled: false (ignored: this is an explicit command)"
        )
        assert "dry run: nothing deleted" in lines
        assert "would delete: 2" in lines
        doomed = [line.split()[0] for line in lines if line.startswith("  ")]
        assert doomed == ["team/app:v1", "team/app:v2"]
        assert bench.registry_tags("team/app") == ["v1", "v2", "v3", "v4"]

        collected = await asyncio.to_thread(bench.cli.portus, "gc")
        assert collected.returncode == 0, collected.stderr
        lines = collected.stdout.splitlines()
        assert "deleted: 2" in lines and "  team/app:v1" in lines and "  team/app:v2" in lines
        assert "errors: 0" in lines
        assert bench.registry_tags("team/app") == ["v3", "v4"]


def test_sync_refuses_an_unknown_strategy(tmp_path: Path) -> None:
    cli = LiveServer(workdir=tmp_path, database_url="", extra_env={"PORTUS_DATABASE_URL": ""})
    result = cli.portus("sync", "--strategy", "everything")
    assert result.returncode == 2
    assert "invalid choice: 'everything'" in result.stderr
