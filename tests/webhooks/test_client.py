"""The webhook HTTP client: what it refuses to connect to, and that what it connects to is the
address it checked (with TLS still verified against the host name)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import httpx
import pytest

from app.core.config import WebhookSettings
from app.webhooks.client import (
    LocalNetworkRefused,
    is_public,
    url_refusal,
    webhook_http_client,
)
from tests.support.network import PretendNetwork
from tests.support.receiver import Receiver
from tests.support.tls import make_tls_pair

STRICT = WebhookSettings(allow_local_network=False)
PUBLIC = "8.8.8.8"  # only ever reached through a PretendNetwork route


@pytest.fixture
async def network(monkeypatch: pytest.MonkeyPatch) -> PretendNetwork:
    return PretendNetwork(monkeypatch)


@pytest.fixture
def proxies_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy nobody listens on: a client that used it would fail to connect."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("address", "local"),
    [
        ("127.0.0.1", True),
        ("0.0.0.0", True),  # noqa: S104 (reaches this host's listeners)
        ("10.1.2.3", True),
        ("172.16.0.1", True),
        ("192.168.1.1", True),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("169.254.169.254", True),  # cloud metadata
        ("198.18.0.1", True),  # benchmarking
        ("224.0.0.1", True),  # multicast: `is_global` says True
        ("255.255.255.255", True),
        ("::1", True),
        ("::", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("fec0::1", True),  # site-local: `is_global` says True
        ("ff0e::1", True),  # global-scope multicast: `is_global` says True
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("::7f00:1", True),  # IPv4-compatible 127.0.0.1: `is_global` says True
        ("::a00:1", True),  # IPv4-compatible 10.0.0.1
        ("::ffff:0:7f00:1", True),  # SIIT IPv4-translated 127.0.0.1
        ("::ffff:0:a9fe:a9fe", True),  # ... and 169.254.169.254
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("64:ff9b::7f00:1", True),  # NAT64 of 127.0.0.1
        ("64:ff9b:1::808:808", True),  # local-use NAT64: refused whatever it embeds
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", True),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", True),  # Teredo
        ("2001:db8::1", True),  # documentation
        ("8.8.8.8", False),
        ("1.1.1.1", False),
        ("2001:4860:4860::8888", False),
        ("2a00:1450:4001:82a::200e", False),
        ("::ffff:8.8.8.8", False),
        ("::808:808", False),  # IPv4-compatible 8.8.8.8
        ("::ffff:0:808:808", False),
        ("64:ff9b::808:808", False),
        ("2002:808:808::1", False),  # 6to4 of 8.8.8.8
    ],
)
def test_public_and_refused_addresses(address: str, local: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is not local


class TestRefused:
    @pytest.mark.parametrize(
        ("url", "address"),
        [
            ("http://127.0.0.1:9/hook", "127.0.0.1"),
            ("http://0.0.0.0:9/hook", "0.0.0.0"),  # noqa: S104
            ("http://[::1]:9/hook", "::1"),
            ("http://[::ffff:127.0.0.1]:9/hook", "::ffff:7f00:1"),
            ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
            ("http://10.1.2.3/hook", "10.1.2.3"),
            ("https://[fd00::1]/hook", "fd00::1"),
        ],
    )
    async def test_local_ip_literals(self, network: PretendNetwork, url: str, address: str) -> None:
        async with webhook_http_client(STRICT) as http:
            with pytest.raises(LocalNetworkRefused) as refused:
                await http.get(url)
        # the address is for the server's log only: the delivery log gets the message
        assert str(refused.value) == "refused: not a public address"
        assert str(refused.value.address) == address
        assert network.connections == []

    async def test_a_name_of_this_host(self) -> None:
        async with webhook_http_client(STRICT) as http:
            with pytest.raises(LocalNetworkRefused) as refused:
                await http.get("http://localhost:9/hook")
        assert refused.value.host == "localhost"

    async def test_a_name_with_one_local_answer_among_public_ones(
        self, network: PretendNetwork
    ) -> None:
        """Connecting might fall back to the local one when the public one fails."""
        network.answer("mixed.example.test", [PUBLIC, "127.0.0.1"])
        async with webhook_http_client(STRICT) as http:
            with pytest.raises(LocalNetworkRefused) as refused:
                await http.get("http://mixed.example.test/hook")
        assert str(refused.value.address) == "127.0.0.1"
        assert network.connections == []

    async def test_a_name_that_does_not_resolve_is_a_connect_error(self) -> None:
        async with webhook_http_client(STRICT) as http:
            with pytest.raises(httpx.ConnectError) as failed:
                await http.get("http://no-such-host.invalid/hook")
        assert not isinstance(failed.value, LocalNetworkRefused)


@pytest.mark.usefixtures("proxies_in_environment")
class TestConnected:
    async def test_to_the_address_checked_and_refused_once_it_turns_local(
        self, network: PretendNetwork
    ) -> None:
        """A rebinding DNS server: public to the first lookup, 127.0.0.1 to the next."""
        with Receiver() as internal, Receiver() as public:
            network.answer("hooks.rebind.test", [PUBLIC], ["127.0.0.1"])
            network.route(PUBLIC, ("127.0.0.1", public.port))
            url = f"http://hooks.rebind.test:{internal.port}/hook"
            async with webhook_http_client(STRICT) as http:
                assert (await http.post(url, content=b"first")).status_code == 200
                with pytest.raises(LocalNetworkRefused) as refused:
                    await http.post(url, content=b"second")
                assert str(refused.value.address) == "127.0.0.1"
            assert [request.body for request in public.received] == [b"first"]
            assert internal.received == []
        assert network.lookups == ["hooks.rebind.test"] * 2
        assert network.connections == [PUBLIC]

    async def test_https_verifies_the_certificate_against_the_host_name(
        self, network: PretendNetwork, tmp_path: Path
    ) -> None:
        tls = make_tls_pair(tmp_path, "hooks.example.test")
        with Receiver(tls=tls.server) as receiver:
            # Both names lead to the receiver; its certificate names only the first.
            network.answer("hooks.example.test", [PUBLIC])
            network.answer("other.example.test", [PUBLIC])
            network.route(PUBLIC, ("127.0.0.1", receiver.port))
            async with webhook_http_client(STRICT, verify=tls.client) as http:
                response = await http.get(f"https://hooks.example.test:{receiver.port}/hook")
                assert response.status_code == 200
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await http.get(f"https://other.example.test:{receiver.port}/hook")
        assert network.connections == [PUBLIC, PUBLIC]  # the address, not the name
        assert receiver.server_names == ["hooks.example.test", "other.example.test"]  # SNI
        assert len(receiver.received) == 1

    async def test_local_network_when_allowed(self) -> None:
        with Receiver() as receiver:
            allowed = WebhookSettings(allow_local_network=True)
            async with webhook_http_client(allowed) as http:
                assert (await http.get(receiver.url)).status_code == 200
                assert (await http.get(f"http://localhost:{receiver.port}/")).status_code == 200
        assert len(receiver.received) == 2


class TestUrlRefusal:
    """The check when a webhook is saved (the sender checks again at every connection)."""

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:9/hook",
            "http://[::1]/hook",
            "http://[::7f00:1]/hook",
            "http://[::ffff:0:7f00:1]/hook",
            "http://[64:ff9b:1::a00:1]/hook",
            "http://[fec0::1]/hook",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost/hook",
            "http://2130706433/hook",  # 127.0.0.1 as one number: the resolver says so
            "http://internal.example.test/hook",
        ],
    )
    async def test_local_targets_are_refused_naming_no_address(
        self, network: PretendNetwork, url: str
    ) -> None:
        network.answer("internal.example.test", ["10.0.0.7"])
        problem = await url_refusal(url, STRICT)
        assert problem == (
            "must point to a public address (not a loopback, private or link-local one)"
        )

    async def test_one_local_answer_is_enough_to_refuse(self, network: PretendNetwork) -> None:
        network.answer("mixed.example.test", [PUBLIC, "fd00::1"])
        assert await url_refusal("https://mixed.example.test/", STRICT) is not None

    async def test_public_targets_pass(self, network: PretendNetwork) -> None:
        network.answer("hooks.example.test", [PUBLIC, "2001:4860:4860::8888"])
        assert await url_refusal("https://hooks.example.test:8443/in", STRICT) is None
        assert await url_refusal("http://8.8.8.8/in", STRICT) is None
        assert await url_refusal("http://[2001:4860:4860::8888]/in", STRICT) is None
        assert network.connections == []  # looked up, never connected to

    async def test_a_name_that_does_not_resolve(self) -> None:
        problem = await url_refusal("https://no-such-host.invalid/hook", STRICT)
        assert problem == "host no-such-host.invalid does not resolve to an address"

    async def test_nothing_is_checked_when_local_targets_are_allowed(self) -> None:
        allowed = WebhookSettings(allow_local_network=True)
        assert await url_refusal("http://127.0.0.1/hook", allowed) is None
        assert await url_refusal("https://no-such-host.invalid/hook", allowed) is None
