"""The wheel is the service: built with the web UI and the migrations inside (setup.py), installed
into a fresh virtualenv, `portus serve` runs in an empty folder with no source tree and no Node.
And setup.py's UI step: npm when there is a frontend to build, a warning when there is none."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from app.core.spa import IMMUTABLE
from app.main import schema_head
from tests.support.tools import free_port, require_tool
from tests.support.ui import write_fixture_ui

ROOT = Path(__file__).resolve().parents[1]
# Left out of the copy the wheel is built from: local state and earlier build output (setuptools
# would reuse a stale build/lib).
TOP_LEVEL_IGNORED = {".venv", ".git", "build", "dist", "data", "config.yml"}
IGNORED_EVERYWHERE = {"__pycache__", "node_modules", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _setup_py() -> ModuleType:
    spec = importlib.util.spec_from_file_location("portus_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # not as __main__: setup() does not run
    return module


FAKE_NPM = """#!/bin/sh
echo "$*" >> "$FAKE_NPM_LOG"
if [ "$*" = "run build" ]; then
  [ -n "$FAKE_NPM_FAIL" ] && exit 3
  [ -n "$FAKE_NPM_NOTHING" ] && exit 0
  mkdir -p dist/assets && echo '<!doctype html>' > dist/index.html
fi
"""


class TestBuildUi:
    @pytest.fixture
    def npm_log(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """A fake npm first on PATH; the file it writes its arguments to."""
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "npm").write_text(FAKE_NPM)
        (bin_dir / "npm").chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        log = tmp_path / "npm.log"
        monkeypatch.setenv("FAKE_NPM_LOG", str(log))
        log.touch()
        return log

    @pytest.fixture
    def frontend(self, tmp_path: Path) -> Path:
        frontend = tmp_path / "frontend"
        frontend.mkdir()
        (frontend / "package.json").write_text('{"scripts": {"build": "vite build"}}\n')
        return frontend

    def _build(self, frontend: Path, mode: str = "auto") -> tuple[Path | None, list[str]]:
        warnings: list[str] = []
        built = _setup_py().build_ui(frontend, mode, warnings.append)
        return built, warnings

    def test_npm_ci_then_build_when_the_build_is_missing(
        self, frontend: Path, npm_log: Path
    ) -> None:
        assert self._build(frontend) == (frontend / "dist", [])
        assert npm_log.read_text().splitlines() == ["ci", "run build"]

    def test_an_existing_build_is_kept(self, frontend: Path, npm_log: Path) -> None:
        write_fixture_ui(frontend / "dist")
        assert self._build(frontend) == (frontend / "dist", [])
        assert npm_log.read_text() == ""

    def test_always_rebuilds(self, frontend: Path, npm_log: Path) -> None:
        stale = write_fixture_ui(frontend / "dist")
        assert self._build(frontend, "always") == (frontend / "dist", [])
        assert npm_log.read_text().splitlines() == ["ci", "run build"]
        assert not (frontend / "dist" / stale.script).exists()

    def test_no_frontend_yet_only_warns(self, tmp_path: Path, npm_log: Path) -> None:
        built, warnings = self._build(tmp_path / "frontend")
        assert built is None
        assert len(warnings) == 1 and "building without the web UI" in warnings[0]
        assert npm_log.read_text() == ""

    def test_skip(self, frontend: Path, npm_log: Path) -> None:
        built, warnings = self._build(frontend, "skip")
        assert built is None and "PORTUS_BUILD_UI=skip" in warnings[0]
        write_fixture_ui(frontend / "dist")
        assert self._build(frontend, "skip") == (frontend / "dist", [])
        assert npm_log.read_text() == ""

    @pytest.mark.parametrize("failure", ["FAKE_NPM_FAIL", "FAKE_NPM_NOTHING"])
    def test_a_failing_npm_fails_the_build(
        self, frontend: Path, npm_log: Path, monkeypatch: pytest.MonkeyPatch, failure: str
    ) -> None:
        monkeypatch.setenv(failure, "1")
        with pytest.raises(Exception, match="npm run build") as raised:
            self._build(frontend)
        assert type(raised.value).__name__ == "DistutilsExecError"

    def test_no_npm_fails_the_build(
        self, frontend: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
        with pytest.raises(Exception, match=r"npm not found: .* needs Node\.js 20"):
            self._build(frontend)

    def test_an_unknown_mode_is_refused(self, frontend: Path) -> None:
        with pytest.raises(Exception, match="PORTUS_BUILD_UI must be one of auto, always, skip"):
            self._build(frontend, "sometimes")


def _require_venv() -> None:
    if importlib.util.find_spec("ensurepip") is None:
        message = "python3 -m venv cannot install pip here (Debian: apt-get install python3-venv)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def _ignored(directory: str, names: list[str]) -> set[str]:
    top = Path(directory) == ROOT
    return {
        name
        for name in names
        if name in IGNORED_EVERYWHERE
        or name.endswith(".egg-info")
        or (top and name in TOP_LEVEL_IGNORED)
    }


def _run(*args: str | Path, cwd: Path, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{args}: {result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture
def clean_env() -> dict[str, str]:
    """No PORTUS_* setting, no PYTHONPATH and no virtualenv of the test run leaks in."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    return {
        k: v for k, v in os.environ.items() if not k.startswith("PORTUS_") and k not in drop
    } | {"PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture
def served(tmp_path: Path, clean_env: dict[str, str]) -> Iterator[tuple[str, Path, Path]]:
    """The wheel built from a copy of this checkout, installed into a fresh virtualenv, serving
    from an empty folder: its URL, the folder, and the UI build the wheel was made with."""
    _require_venv()
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_ignored, symlinks=True)
    dist = source / "frontend" / "dist"
    if not (dist / "index.html").is_file():
        if (source / "frontend" / "package.json").is_file():
            require_tool("npm")  # setup.py builds it
        else:
            write_fixture_ui(dist)  # no frontend yet: a stand-in build
    wheels = tmp_path / "wheels"
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        wheels,
        source,
        cwd=tmp_path,
        env=clean_env,
        timeout=600,
    )
    (wheel,) = wheels.glob("portus_py-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    built = {f"app/ui/{p.relative_to(dist).as_posix()}" for p in dist.rglob("*") if p.is_file()}
    assert built <= names and "app/ui/index.html" in names
    assert {"app/alembic.ini", "app/migrations/env.py"} <= names
    assert len([n for n in names if n.startswith("app/migrations/versions/")]) == len(
        list((ROOT / "migrations" / "versions").glob("*.py"))
    )

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path, env=clean_env, timeout=120)
    _run(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "-q",
        wheel,
        cwd=tmp_path,
        env=clean_env,
        timeout=600,
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run(
        venv / "bin" / "python",
        "-c",
        "import app.core.resources as r; print(r.alembic_config_file()); print(r.ui_directory())",
        cwd=empty,
        env=clean_env,
        timeout=60,
    ).split()
    package = next((venv / "lib").glob("python3*/site-packages")) / "app"
    assert where == [str(package / "alembic.ini"), str(package / "ui")]

    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [venv / "bin" / "portus", "serve", "--port", str(port)],
        cwd=empty,
        env=clean_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(f"{url}/api/v1/_ping", process, tmp_path / "serve.log")
        yield url, empty, dist
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait(url: str, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"portus serve exited: {log.read_text()[-3000:]}")
            try:
                client.get(url)
                return
            except httpx.TransportError:
                time.sleep(0.2)
    pytest.fail(f"portus serve did not answer in 60 s: {log.read_text()[-3000:]}")


@pytest.mark.wheel
def test_the_installed_wheel_serves_the_ui_and_the_api(served: tuple[str, Path, Path]) -> None:
    url, folder, dist = served
    index = (dist / "index.html").read_bytes()
    asset = sorted(p for p in (dist / "assets").rglob("*") if p.is_file())[0]
    with httpx.Client(base_url=url, trust_env=False, timeout=10) as client:
        ping = client.get("/api/v1/_ping")
        assert ping.status_code == 200, ping.text
        for path in ("/", "/namespaces/3", "/password_reset?token=abc"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert page.content == index
            assert page.headers["content-type"] == "text/html; charset=utf-8"
            assert page.headers["cache-control"] == "no-cache"
        hashed = client.get(f"/{asset.relative_to(dist).as_posix()}")
        assert hashed.status_code == 200
        assert hashed.content == asset.read_bytes()
        assert hashed.headers["cache-control"] == IMMUTABLE
        assert client.get("/assets/gone-00000000.js").status_code == 404
        assert client.get("/v2/nope").json() == {"message": "Not found"}
    # The migrations ran from the package: the embedded database is at the head.
    with closing(sqlite3.connect(folder / "data" / "portus.sqlite3")) as database:
        (revision,) = database.execute("SELECT version_num FROM alembic_version").fetchone()
    assert revision == schema_head()
    assert sorted(p.name for p in folder.iterdir()) == ["data"]
