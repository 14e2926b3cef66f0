"""A pretend network for the webhook tests: DNS answers chosen by the test (a different one on
each lookup, as a rebinding DNS server gives), and public addresses that lead to a receiver on
127.0.0.1, so that "the public host" can be observed without leaving the machine.

It patches the two places every connection of httpx (through httpcore and anyio) and of the
webhook guard goes through: the running loop's `getaddrinfo` and `anyio.connect_tcp`.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import anyio
import pytest


class PretendNetwork:
    """Build it inside the test's event loop (an async fixture or the test itself)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._answers: dict[str, list[list[str]]] = {}
        self._routes: dict[str, tuple[str, int]] = {}
        self.lookups: list[str] = []  # the pretend names looked up, in order
        self.connections: list[str] = []  # the addresses connected to, before any route
        loop = asyncio.get_running_loop()
        real_getaddrinfo = loop.getaddrinfo
        real_connect = anyio.connect_tcp

        async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if name not in self._answers:
                return await real_getaddrinfo(host, port, *args, **kwargs)
            self.lookups.append(name)
            answers = self._answers[name]
            addresses = answers.pop(0) if len(answers) > 1 else answers[0]
            return [
                (
                    socket.AF_INET6 if ":" in address else socket.AF_INET,
                    socket.SOCK_STREAM,
                    socket.IPPROTO_TCP,
                    "",
                    (address, int(port)),
                )
                for address in addresses
            ]

        async def connect_tcp(remote_host: Any, remote_port: int, **kwargs: Any) -> Any:
            self.connections.append(str(remote_host))
            host, port = self._routes.get(str(remote_host), (remote_host, remote_port))
            return await real_connect(host, port, **kwargs)

        monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(anyio, "connect_tcp", connect_tcp)

    def answer(self, name: str, *answers: list[str]) -> None:
        """Each lookup of `name` gets the next answer; the last one repeats."""
        self._answers[name] = list(answers)

    def route(self, address: str, to: tuple[str, int]) -> None:
        """Connections to `address` (any port) reach `to` instead."""
        self._routes[address] = to
