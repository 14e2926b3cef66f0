from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from app.core.keys import libtrust_kid
from tests.e2e.live import LiveServer
from tests.fixtures.database import backend, throwaway_database
from tests.support.tools import free_port


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
