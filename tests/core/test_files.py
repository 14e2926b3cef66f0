from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.live import LiveServer

BOOTSTRAP = {"user": {"username": "admin", "email": "admin@example.com", "password": "password1"}}
SECRETS = ("secret_key_base", "notifications_secret", "keys/portus.key")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common default: without care, files come out 0644 and directories 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def embedded_server(workdir: Path) -> LiveServer:
    # The embedded default: SQLite in the data directory, secrets generated there.
    empty = {
        "PORTUS_DATABASE_URL": "",
        "PORTUS_SECRET_KEY_BASE": "",
        "PORTUS_NOTIFICATIONS_SECRET": "",
    }
    return LiveServer(workdir=workdir, database_url="", extra_env=empty)


@pytest.mark.usefixtures("loose_umask")
class TestDataDirectory:
    def test_serve_creates_it_for_its_user_only(self, tmp_path: Path) -> None:
        server = embedded_server(tmp_path)
        server.start()
        try:
            with server.client() as client:
                created = client.post("/api/v1/users/bootstrap", json=BOOTSTRAP)
            assert created.status_code == 201, created.text
            data = tmp_path / "data"
            # -wal and -shm exist while the server runs (the last connection removes them).
            files = ["portus.sqlite3", "portus.sqlite3-wal", "portus.sqlite3-shm", *SECRETS]
            modes = {name: mode(data / name) for name in files}
        finally:
            server.stop()
        assert mode(data) == 0o700
        assert mode(data / "keys") == 0o700
        assert modes == dict.fromkeys(files, 0o600)

    def test_a_directory_open_to_others_is_tightened_with_a_warning(self, tmp_path: Path) -> None:
        server = embedded_server(tmp_path)
        assert server.portus("migrate").returncode == 0
        server.start()  # generates the secrets and the key
        server.stop()
        data = tmp_path / "data"
        data.chmod(0o755)
        (data / "keys").chmod(0o755)
        for name in ("portus.sqlite3", *SECRETS):
            (data / name).chmod(0o644)
        server.start()
        try:
            with server.client() as client:
                assert client.post("/api/v1/users/bootstrap", json=BOOTSTRAP).status_code == 201
            wal = mode(data / "portus.sqlite3-wal")
        finally:
            server.stop()
        assert mode(data) == 0o700
        assert mode(data / "keys") == 0o700
        assert wal == 0o600
        for name in ("portus.sqlite3", *SECRETS):
            assert mode(data / name) == 0o600, name
        log = server.log_text()
        assert f"{data} was mode 755, open to other users: now 700" in log
