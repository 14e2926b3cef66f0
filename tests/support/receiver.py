"""A real HTTP server on 127.0.0.1 that records what webhooks send it (in a thread)."""

from __future__ import annotations

import hashlib
import hmac
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Received:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def query(self) -> str:
        return urlsplit(self.path).query

    def signature_valid(self, secret: str) -> bool:
        """What a receiver does: HMAC-SHA256 of the raw body (GET: the raw query string)."""
        signed = self.query.encode() if self.method == "GET" else self.body
        expected = "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-portus-signature-256", ""))


@dataclass
class Receiver:
    """Answers each request with the next status of `statuses` (the last one repeats).
    With `tls`, speaks HTTPS with that server context and records the SNI names it is sent."""

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    tls: ssl.SSLContext | None = None
    location: str | None = None  # sent as `Location` (with a 3xx status: a redirect)
    delay: float = 0.0  # seconds before each answer (a slow receiver)
    in_flight: int = 0  # requests being answered now
    most_in_flight: int = 0  # the most ever answered at once
    server_names: list[str | None] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        assert self._server is not None
        host = self._server.server_address[0]
        return f"{'https' if self.tls else 'http'}://{host!s}:{self.port}/hook"

    def _answer(self) -> int:
        with self._lock:
            index = min(len(self.received) - 1, len(self.statuses) - 1)
            return self.statuses[index]

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with receiver._lock:
                    receiver.received.append(
                        Received(
                            self.command,
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                status = receiver._answer()
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    receiver.in_flight -= 1
                payload = f'{{"answer": {status}}}'.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if receiver.location is not None:
                    self.send_header("Location", receiver.location)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.tls.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} requests within {timeout}s")
            time.sleep(0.05)
        return list(self.received)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Blackhole:
    """Accepts TCP connections (the kernel's backlog does) and never answers."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}/hook"

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
