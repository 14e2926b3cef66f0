from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography import x509
from sqlalchemy import text

from app.core.db import create_engine
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


def test_create_user_prints_a_bots_token_once_and_it_works(tmp_path: Path) -> None:
    cli = LiveServer(workdir=tmp_path, database_url="", extra_env={"PORTUS_DATABASE_URL": ""})
    assert cli.portus("migrate").returncode == 0
    bot = cli.portus("create-user", "ci-bot", "--email", "bot@example.com", "--bot")
    assert bot.returncode == 0, bot.stderr
    first, second = bot.stdout.splitlines()
    assert first.startswith("created bot ci-bot (id ")
    label, token = second.rsplit(": ", 1)
    assert label == "application token 'default' (shown this once)"
    assert token.startswith("pat_")
    cli.start()
    try:
        with cli.client() as client:
            me = client.get("/api/v1/me", headers={"Portus-Auth": f"ci-bot:{token}"})
        assert me.status_code == 200, me.text
        assert me.json()["username"] == "ci-bot"
    finally:
        cli.stop()


# --- as a newcomer meets the command: an empty folder, nothing in the environment ----------------
def newcomer(
    cwd: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """`portus ARGS` run in `cwd` with no PORTUS_* variable but `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTUS_")}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env=base | env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
"""


def test_the_registrys_own_config_yml_is_recognised(tmp_path: Path) -> None:
    (tmp_path / "config.yml").write_text(DISTRIBUTION_CONFIG)
    result = newcomer(tmp_path, "registry-config")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"config error: {tmp_path / 'config.yml'} looks like the registry's own configuration "
        "(top-level version, storage, http), not Portus's; Portus reads ./config.yml of the "
        "working folder: run portus in a folder of its own, or name Portus's file with "
        "PORTUS_CONFIG=/path/to/portus-config.yml"
    ]
    assert not (tmp_path / "data").exists()


def test_a_relative_data_dir_follows_the_config_file(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "portus", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / "config.yml").write_text("data_dir: state\n")
    config = {"PORTUS_CONFIG": str(home / "config.yml")}
    assert newcomer(elsewhere, "migrate", **config).returncode == 0
    assert (home / "state" / "portus.sqlite3").exists()
    created = newcomer(
        elsewhere,
        "create-user",
        "alice",
        "--email",
        "a@example.com",
        stdin="pw-alice-1\n",
        **config,
    )
    assert created.returncode == 0, created.stderr
    printed = newcomer(elsewhere, "registry-config", **config)
    assert printed.returncode == 0, printed.stderr
    bundle = yaml.safe_load(printed.stdout)["auth"]["token"]["rootcertbundle"]
    assert bundle == str(home / "state" / "keys" / "portus.crt")
    assert f"# Portus settings: {home / 'config.yml'}; data_dir {home / 'state'}." in (
        printed.stdout.splitlines()
    )
    assert (
        "# service 127.0.0.1:5000: a guess: no registry is registered yet; "
        "--registry-host names it." in printed.stdout.splitlines()
    )
    assert list(elsewhere.iterdir()) == []  # no second ./data, no second key


def test_the_default_data_dir_is_next_to_the_config_file(tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "portus", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    (home / "config.yml").write_text("{}\n")
    assert newcomer(elsewhere, "migrate", PORTUS_CONFIG=str(home / "config.yml")).returncode == 0
    assert (home / "data" / "portus.sqlite3").exists()
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ("create-user", "bob", "--email", "b@example.com"),
        ("create-user", "ci", "--email", "ci@example.com", "--bot"),
        ("sync",),
        ("gc", "--dry-run"),
        ("worker",),
    ],
    ids=lambda args: " ".join(args[:1] + args[-1:]),
)
async def test_no_database_is_one_line_naming_the_fix(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    async with throwaway_database(tmp_path, migrated=False) as url:
        result = await asyncio.to_thread(
            newcomer, tmp_path, *args, stdin="pw-bob-123\n", PORTUS_DATABASE_URL=url
        )
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert line.endswith(": run `portus migrate` first")
    if backend() == "sqlite":
        assert line.startswith("error: no database at ")
    else:
        assert "has no schema yet" in line


async def test_an_outdated_schema_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    async with throwaway_database(tmp_path) as url:
        engine = create_engine(url, pool_size=1)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("UPDATE alembic_version SET version_num = 'old'"))
        finally:
            await engine.dispose()
        result = await asyncio.to_thread(newcomer, tmp_path, "sync", PORTUS_DATABASE_URL=url)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "is at old, this version needs " in line
    assert line.endswith(": run `portus migrate` first")


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "nonexistent.invalid"])
@pytest.mark.parametrize("command", ["migrate", "gc", "create-user"])
def test_an_unreachable_database_is_one_line(tmp_path: Path, host: str, command: str) -> None:
    url = f"postgresql+asyncpg://nobody:hunter2@{host.format(port=free_port())}/portus"
    args = ("create-user", "bob", "--email", "b@x.org") if command == "create-user" else (command,)
    result = newcomer(tmp_path, *args, stdin="pw-bob-123\n", PORTUS_DATABASE_URL=url)
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(("error: cannot connect to the database", "error: cannot migrate"))
    assert "nobody:***@" in line and "hunter2" not in line


def test_registry_config_says_where_its_realm_comes_from(tmp_path: Path) -> None:
    derived = newcomer(tmp_path, "registry-config", "--port", "3100")
    assert derived.returncode == 0, derived.stderr
    assert yaml.safe_load(derived.stdout)["auth"]["token"]["realm"] == (
        "http://127.0.0.1:3100/v2/token"
    )
    assert (
        "# realm http://127.0.0.1:3100/v2/token: public_url is not configured, so derived from "
        "--host 127.0.0.1 --port 3100." in derived.stdout.splitlines()
    )
    assert "Give this command the --host/--port of `portus serve`" in derived.stdout
    configured = newcomer(
        tmp_path, "registry-config", "--port", "3100", PORTUS_PUBLIC_URL="https://p.example.org"
    )
    assert yaml.safe_load(configured.stdout)["auth"]["token"]["realm"] == (
        "https://p.example.org/v2/token"
    )
    assert (
        "# realm https://p.example.org/v2/token: configured (PORTUS_PUBLIC_URL)."
        in configured.stdout.splitlines()
    )
    assert "Give this command" not in configured.stdout
    assert "# service 127.0.0.1:5000: a guess, the database cannot tell (no database at " in (
        derived.stdout
    )


def test_serve_derives_its_public_url_from_its_port(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PORTUS_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=base | {"PORTUS_UI_ENABLED": "false"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/_ping", timeout=1).is_success:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail(log.read_text())
    finally:
        process.terminate()
        process.wait(10)
    assert (
        f"public URL http://127.0.0.1:{port} (public_url is not configured, so derived from "
        f"--host 127.0.0.1 --port {port})" in log.read_text()
    )


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
