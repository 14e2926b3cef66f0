"""The built web UI (a single-page application), served as the root router's default: what no
route takes.

- A file of the build is served as it is; any other GET or HEAD gets `index.html` with a 200, so
  that the UI's own routes (`/namespaces/3`, `/password_reset?token=...`) survive a reload.
- Except under `assets/`: the build's hashed files. A missing one is a 404 (an old page asking
  for the assets of a previous build must not get HTML for its script), and a present one never
  changes under its name, so browsers and proxies keep it for a year without asking again.
  Everything else (`index.html` above all) is revalidated on every use (`no-cache`, with an ETag
  or Last-Modified for a 304).
- Paths the server owns (`/api`, `/v2`, `/metrics` and below) are never the UI's: they get the
  router's own 404, the API's JSON envelope.
- Only regular files inside the build directory are served: no `..`, no hidden files, no
  symbolic link leading out of it.

Being the default rather than a route, it costs a routed request nothing: `app.core.routing`
serves those before the route table is even looked at, and the ordinary routing reaches the
default only when no route matched.
"""

from __future__ import annotations

import mimetypes
import os
import stat
from collections.abc import Sequence
from email.utils import parsedate
from pathlib import Path

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.routing import route_path

ASSETS = "assets"
INDEX = "index.html"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# The server's own prefixes: never routes of the UI.
SERVER_PATHS = ("/api", "/v2", "/metrics")

# What a browser needs to be told right, whatever the host's /etc/mime.types says (and with
# `nosniff`, a script served under a wrong type would not run).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
}


def content_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    known = CONTENT_TYPES.get(suffix)
    if known is not None:
        return known
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


def _not_modified(response: Headers, request: Headers) -> bool:
    """As RFC 9110 §13.2.2 orders it: If-None-Match, else If-Modified-Since."""
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return response["etag"] in tags
    since = request.get("if-modified-since")
    if since is None:
        return False
    asked, modified = parsedate(since), parsedate(response["last-modified"])
    return asked is not None and modified is not None and asked >= modified


class SinglePageApp:
    """The UI in `directory` (which holds `index.html`); `not_found` answers the server's own
    paths that no route took."""

    def __init__(self, directory: Path, *, not_found: ASGIApp) -> None:
        self.root = directory.resolve(strict=True)
        self.not_found = not_found
        if not (self.root / INDEX).is_file():
            raise ValueError(f"no {INDEX} in {self.root}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope)
        if scope["type"] != "http" or self._servers(path):
            await self.not_found(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        found = await anyio.to_thread.run_sync(self._find, path)
        if found is None:
            raise HTTPException(status_code=404)
        file, stat_result, hashed = found
        headers = {
            "Cache-Control": IMMUTABLE if hashed else REVALIDATE,
            "X-Content-Type-Options": "nosniff",
        }
        response: Response = FileResponse(
            file, headers=headers, media_type=content_type(file.name), stat_result=stat_result
        )
        if _not_modified(response.headers, Headers(scope=scope)):
            response = NotModifiedResponse(response.headers)
        await response(scope, receive, send)

    @staticmethod
    def _servers(path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in SERVER_PATHS)

    def _find(self, path: str) -> tuple[Path, os.stat_result, bool] | None:
        """The file to answer `path` with (its own, or index.html) and whether it is one of the
        hashed assets; None for a 404."""
        parts = path.lstrip("/").split("/")
        if parts == [""]:
            parts = [INDEX]
        hashed = parts[0] == ASSETS
        found = self._file(parts)
        if found is not None:
            return (*found, hashed)
        if hashed:
            return None
        index = self._file([INDEX])
        return None if index is None else (*index, False)

    def _file(self, parts: Sequence[str]) -> tuple[Path, os.stat_result] | None:
        if any(not part or part.startswith(".") or "\\" in part or "\0" in part for part in parts):
            return None
        try:
            file = self.root.joinpath(*parts).resolve(strict=True)
            if not file.is_relative_to(self.root):
                return None
            stat_result = file.stat()
        except (OSError, ValueError):
            return None
        return (file, stat_result) if stat.S_ISREG(stat_result.st_mode) else None
