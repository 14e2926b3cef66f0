"""The webhook HTTP client: what it refuses to connect to, and that what it connects to is the
address it checked (with TLS still verified against the host name)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import httpx
import pytest

from app.core.config import WebhookSettings
from app.webhooks.client import LocalNetworkRefused, is_local_network, webhook_http_client
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
        ("100.64.0.1", True),  # carrier-grade NAT
        ("169.254.169.254", True),  # cloud metadata
        ("::1", True),
        ("::", True),
        ("fe80::1", True),
        ("fd00::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", True),
        ("64:ff9b::a9fe:a9fe", True),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::", True),  # 6to4 of 127.0.0.1
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
        ("::ffff:8.8.8.8", False),
        ("64:ff9b::808:808", False),
    ],
)
def test_local_network_addresses(address: str, local: bool) -> None:
    assert is_local_network(ipaddress.ip_address(address)) is local


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
        assert f"resolves to {address}, a local-network address" in str(refused.value)
        assert "webhooks.allow_local_network: true" in str(refused.value)
        assert network.connections == []

    async def test_a_name_of_this_host(self) -> None:
        async with webhook_http_client(STRICT) as http:
            with pytest.raises(LocalNetworkRefused, match="localhost resolves to"):
                await http.get("http://localhost:9/hook")

    async def test_a_name_with_one_local_answer_among_public_ones(
        self, network: PretendNetwork
    ) -> None:
        """Connecting might fall back to the local one when the public one fails."""
        network.answer("mixed.example.test", [PUBLIC, "127.0.0.1"])
        async with webhook_http_client(STRICT) as http:
            with pytest.raises(LocalNetworkRefused, match=r"resolves to 127\.0\.0\.1"):
                await http.get("http://mixed.example.test/hook")
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
                with pytest.raises(LocalNetworkRefused, match=r"resolves to 127\.0\.0\.1"):
                    await http.post(url, content=b"second")
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
