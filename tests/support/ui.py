"""A tiny stand-in for the built web UI (what `npm run build` writes to frontend/dist/): an
index.html and hashed assets, enough to test how the service serves a build."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

INDEX = (
    "<!doctype html>\n<html><head><title>Portus test UI</title>\n"
    '<script type="module" crossorigin src="/assets/index-4f2a9c1b.js"></script>\n'
    '<link rel="stylesheet" href="/assets/index-77d0e3aa.css">\n'
    '</head><body><div id="app"></div></body></html>\n'
)


@dataclass(frozen=True)
class FixtureUi:
    directory: Path
    index: str = INDEX
    script: str = "assets/index-4f2a9c1b.js"
    style: str = "assets/index-77d0e3aa.css"
    font: str = "assets/inter-0c1d2e3f.woff2"
    icon: str = "favicon.ico"


def write_fixture_ui(directory: Path) -> FixtureUi:
    ui = FixtureUi(directory)
    (directory / "assets").mkdir(parents=True)
    (directory / "index.html").write_text(ui.index)
    (directory / ui.script).write_text('document.getElementById("app").textContent = "ok";\n')
    (directory / ui.style).write_text("#app { color: #222; }\n")
    (directory / ui.font).write_bytes(b"wOF2\0\1\0\0")
    (directory / ui.icon).write_bytes(b"\0\0\1\0\1\0")
    return ui


def serving(ui: FixtureUi) -> dict[str, object]:
    """The `ui` settings that serve `ui` (the tests' settings have the UI off)."""
    return {"enabled": True, "directory": str(ui.directory)}
