"""Two build steps added to setuptools' (the metadata is in pyproject.toml):

- `build_ui`, the first step of `build` (so of a wheel and of `pip install -e .` alike): when
  frontend/dist/index.html is missing and frontend/package.json exists, `npm ci && npm run build`
  in frontend/. A failing npm fails the build; without frontend/package.json it only warns and
  the service is the API alone. `PORTUS_BUILD_UI`: `auto` (that, the default), `always` (rebuild
  even when a build is there: a release from a checkout whose dist may be stale), `skip` (no
  npm: a wheel or an editable install without the UI, e.g. on a machine without Node).
- `build_py` also puts into the wheel's `app` package what the service reads from files:
  `alembic.ini` and `migrations/` (laid out as at the checkout's top level, so the one alembic.ini
  serves both) and the built UI as `app/ui/`. An editable install reads them from the checkout.
  `app.core.resources` finds them in either place.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from setuptools import Command, setup
from setuptools.command.build import build
from setuptools.command.build_py import build_py
from setuptools.errors import ExecError, OptionError

ROOT = Path(__file__).resolve().parent
FRONTEND = ROOT / "frontend"
MODES = ("auto", "always", "skip")


def build_ui(frontend: Path, mode: str, warn: Callable[[str], None]) -> Path | None:
    """`frontend`'s build directory, built first if needed; None when there is none."""
    if mode not in MODES:
        raise OptionError(f"PORTUS_BUILD_UI must be one of {', '.join(MODES)}, not {mode!r}")
    dist = frontend / "dist"
    built = (dist / "index.html").is_file()
    if mode == "skip" or (built and mode == "auto"):
        if not built:
            warn("PORTUS_BUILD_UI=skip: building without the web UI")
        return dist if built else None
    if not (frontend / "package.json").is_file():
        warn(f"no {frontend / 'package.json'}: building without the web UI")
        return None
    npm = shutil.which("npm")
    if npm is None:
        raise ExecError(
            f"npm not found: building the web UI in {frontend} needs Node.js 20 and npm "
            "(PORTUS_BUILD_UI=skip builds without the UI)"
        )
    if mode == "always":
        shutil.rmtree(dist, ignore_errors=True)
    for args in (["ci"], ["run", "build"]):
        try:
            subprocess.run([npm, *args], cwd=frontend, check=True)  # noqa: S603
        except subprocess.CalledProcessError as exc:
            raise ExecError(f"`npm {' '.join(args)}` failed in {frontend}: {exc}") from exc
    if not (dist / "index.html").is_file():
        raise ExecError(f"`npm run build` wrote no {dist / 'index.html'}")
    return dist


def copy_tree(source: Path, target: Path) -> None:
    """`target` as a copy of `source`, nothing left of an earlier build (old hashed assets)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


class BuildUi(Command):
    description = "build the web UI (npm ci && npm run build in frontend/) when it is missing"
    user_options: ClassVar[list[tuple[str, str | None, str]]] = []

    def initialize_options(self) -> None:
        pass

    def finalize_options(self) -> None:
        pass

    def run(self) -> None:
        build_ui(FRONTEND, os.environ.get("PORTUS_BUILD_UI", "auto"), self.warn)


class Build(build):
    sub_commands = [("build_ui", None), *build.sub_commands]


class BuildPy(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        package = Path(self.build_lib) / "app"
        shutil.copyfile(ROOT / "alembic.ini", package / "alembic.ini")
        copy_tree(ROOT / "migrations", package / "migrations")
        dist = FRONTEND / "dist"
        if (dist / "index.html").is_file():
            copy_tree(dist, package / "ui")
        else:
            shutil.rmtree(package / "ui", ignore_errors=True)


if __name__ == "__main__":  # as setuptools' build backend runs it; tests import it
    setup(cmdclass={"build": Build, "build_ui": BuildUi, "build_py": BuildPy})
