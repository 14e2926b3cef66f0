"""The HTTP client webhooks are sent with: it connects only to addresses it has checked.

With `webhooks.allow_local_network` off, a webhook may not reach a loopback, private,
link-local (cloud metadata at 169.254.169.254) or otherwise non-public address: a namespace
owner could otherwise make the service probe its own network and read the answers in the
delivery log. Checking the name first and letting httpx look it up again to connect leaves a
gap: a DNS server the owner controls can answer a public address to the check and 127.0.0.1 to
the connection (DNS rebinding). So the check is made where the connection is opened:
`VettedNetworkBackend` looks the host up once, refuses if any answer is local, and connects to
the very address it checked.

TLS is unaffected by connecting to an address: httpcore hands the URL's host name to
`start_tls` as `server_hostname` (httpcore 1.0, `AsyncHTTPConnection._connect`), so SNI and
certificate verification still use the name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import TypeAlias

import httpcore
import httpx

from app.core.config import WebhookSettings

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# httpx's own defaults, which `_VettedTransport` has to spell out for the pool it builds.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)

NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


class LocalNetworkRefused(httpx.ConnectError):
    """Not connected: the host is, or resolves to, a local-network address.

    An httpx error (so callers that handle httpx's errors handle this one), but not an httpcore
    one: httpx passes it through as it is instead of re-wrapping it."""

    def __init__(self, host: str, address: IPAddress) -> None:
        super().__init__(
            f"{host} resolves to {address}, a local-network address: webhooks reach such "
            "hosts only with webhooks.allow_local_network: true"
        )


def _ipv4_behind(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one is turned into on its way: IPv4-mapped (a dual-stack
    socket connects to the IPv4 address itself), NAT64's well-known prefix, and 6to4."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def is_local_network(address: IPAddress) -> bool:
    """Not a public unicast address (judged by the IPv4 address behind an IPv6 spelling of one,
    so that ::ffff:127.0.0.1 counts as loopback and ::ffff:8.8.8.8 as public)."""
    if isinstance(address, ipaddress.IPv6Address):
        behind = _ipv4_behind(address)
        if behind is not None:
            return not behind.is_global
    return not address.is_global


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses in the resolver's order, each once (the loop's getaddrinfo runs
    the blocking lookup in a thread). Failures are httpcore's, as if httpcore had looked up."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    addresses = [
        ipaddress.ip_address(info[4][0])
        for info in infos
        if info[0] in (socket.AF_INET, socket.AF_INET6)
    ]
    if not addresses:
        raise httpcore.ConnectError(f"{host} has no IPv4 or IPv6 address")
    return list(dict.fromkeys(addresses))


class VettedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to public addresses, resolving host names itself so that the
    address checked is the address connected to. (asyncio only: it uses the running loop.)"""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            addresses: list[IPAddress] = [ipaddress.ip_address(host)]
        except ValueError:
            try:
                async with asyncio.timeout(timeout):
                    addresses = await _resolve(host, port)
            except TimeoutError as exc:
                raise httpcore.ConnectTimeout(f"looking up {host} timed out") from exc
        for address in addresses:
            if is_local_network(address):
                raise LocalNetworkRefused(host, address)
        # One address after the other (no happy eyeballs), all within the connect timeout.
        failure: Exception | None = None
        for address in addresses:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                return await self._inner.connect_tcp(
                    address.compressed,
                    port,
                    timeout=remaining,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # there is at least one address
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _VettedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport sending through a connection pool with `VettedNetworkBackend`.

    httpx 0.28 has no public way to choose the network backend (httpcore's pool takes one,
    `AsyncHTTPTransport.__init__` does not). Two ways remain: a transport of our own around an
    `httpcore.AsyncConnectionPool`, which would copy httpx's request/response conversion and
    its map from httpcore to httpx exceptions (private in httpx), or httpx's transport with its
    pool swapped. This does the latter: it relies on one private name, `_pool`, and checks that
    it is there, so that an httpx that renames it fails here rather than sending unvetted."""

    def __init__(self, *, verify: ssl.SSLContext | bool) -> None:
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False, limits=LIMITS)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError(
                f"httpx {httpx.__version__} keeps its connection pool elsewhere: "
                "app/webhooks/client.py must be adapted"
            )
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=VettedNetworkBackend(),
        )


def webhook_http_client(
    config: WebhookSettings, *, verify: ssl.SSLContext | bool = True
) -> httpx.AsyncClient:
    """The client for webhook deliveries: vetted unless `allow_local_network`; never through
    a proxy from the environment; redirects not followed (httpx's default). `verify` lets
    tests trust their own CA."""
    if config.allow_local_network:
        return httpx.AsyncClient(trust_env=False, verify=verify)
    return httpx.AsyncClient(trust_env=False, transport=_VettedTransport(verify=verify))
