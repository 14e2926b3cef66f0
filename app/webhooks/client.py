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
from urllib.parse import urlsplit

import httpcore
import httpx

from app.core.config import WebhookSettings

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

# httpx's own defaults, which `_VettedTransport` has to spell out for the pool it builds.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)

# Prefixes whose last 32 bits are an IPv4 address the packet is delivered to: IPv4-compatible
# (deprecated, ::a.b.c.d; `::` and `::1` land on 0.0.0.0/0.0.0.1 and are refused with it),
# SIIT's IPv4-translated ::ffff:0:a.b.c.d, and NAT64's well-known prefix. (IPv4-mapped and 6to4
# have `ipaddress` properties of their own.)
EMBEDDING_IPV4 = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("64:ff9b::/96"),
)
# Refused whatever `is_global` says in this Python: site-local (deprecated, still routed inside
# some networks), NAT64 for local use (RFC 8215: the IPv4 address may sit anywhere in it), and
# Teredo (the client's IPv4 address is obfuscated, and a relay is needed anyway).
REFUSED_IPV6 = (
    ipaddress.IPv6Network("fec0::/10"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("2001::/32"),
)


class LocalNetworkRefused(httpx.ConnectError):
    """Not connected: the host is, or resolves to, a non-public address.

    An httpx error (so callers that handle httpx's errors handle this one), but not an httpcore
    one: httpx passes it through as it is instead of re-wrapping it. Its message names no
    address: it lands in the delivery log, which namespace members read, and naming what an
    internal name resolves to would make webhooks a DNS oracle. `host` and `address` are there
    for the server's own log."""

    MESSAGE = "refused: not a public address"

    def __init__(self, host: str, address: IPAddress) -> None:
        super().__init__(self.MESSAGE)
        self.host = host
        self.address = address


def _ipv4_behind(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one is turned into on its way (a dual-stack socket connects
    to an IPv4-mapped address's IPv4 address itself; translators and tunnels do the rest)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if any(address in network for network in EMBEDDING_IPV4):
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def is_public(address: IPAddress) -> bool:
    """A global unicast address (`ipaddress`'s `is_global`, multicast excluded), judged by the
    IPv4 address behind an IPv6 spelling of one, so that ::ffff:127.0.0.1 and ::7f00:1 count
    as loopback and ::ffff:8.8.8.8 as public."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in REFUSED_IPV6):
            return False
        behind = _ipv4_behind(address)
        if behind is not None:
            return is_public(behind)
    return address.is_global and not address.is_multicast


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


# A webhook is saved while its owner waits: a slow resolver gets this long.
LOOKUP_AT_SAVE_SECONDS = 5.0


async def url_refusal(url: str, config: WebhookSettings) -> str | None:
    """Why a webhook may not be saved with `url` (None: it may), told to its owner as a 422.

    A literal address is judged as it is; a name is looked up now and refused if any answer is
    not public (as a delivery would be), or if it does not resolve at all: the owner learns of a
    typo at once instead of from a log of failed deliveries. The sender checks again at every
    connection, since DNS answers change. With `allow_local_network` nothing is checked (an
    internal name may resolve only where the sender runs). The messages name no address."""
    if config.allow_local_network:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            async with asyncio.timeout(min(config.timeout, LOOKUP_AT_SAVE_SECONDS)):
                addresses = await _resolve(host, parts.port or 443)
        except TimeoutError:
            return f"host {host} could not be looked up in time: try again"
        except httpcore.ConnectError:
            return f"host {host} does not resolve to an address"
    if not all(is_public(address) for address in addresses):
        return "must point to a public address (not a loopback, private or link-local one)"
    return None


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
            if not is_public(address):
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
