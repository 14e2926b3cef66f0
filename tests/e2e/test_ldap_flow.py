"""End to end with LDAP: a real slapd (StartTLS, a CA made here), a real `portus serve` and
registry, skopeo pushing with a directory password; group sync in the serve process; a hung
directory while other requests go on."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.live import Stack, start_stack
from tests.support.oci import build_oci_layout
from tests.support.slapd import (
    ADMINS,
    GROUPS,
    PEOPLE,
    SERVICE_DN,
    SERVICE_PASSWORD,
    USERS,
    SilentServer,
    Slapd,
)
from tests.support.tools import Skopeo, require_tool

pytestmark = pytest.mark.e2e


def ldap_env(slapd: Slapd) -> dict[str, str]:
    return {
        "PORTUS_LDAP_ENABLED": "true",
        "PORTUS_LDAP_HOSTNAME": "127.0.0.1",
        "PORTUS_LDAP_PORT": str(slapd.port),
        "PORTUS_LDAP_TIMEOUT": "3",
        "PORTUS_LDAP_ENCRYPTION_METHOD": "start_tls",
        "PORTUS_LDAP_ENCRYPTION_OPTIONS_CA_FILE": str(slapd.certificates.ca_file),
        "PORTUS_LDAP_BASE": PEOPLE,
        "PORTUS_LDAP_ADMIN_BASE": ADMINS,
        "PORTUS_LDAP_GROUP_BASE": GROUPS,
        "PORTUS_LDAP_AUTHENTICATION_ENABLED": "true",
        "PORTUS_LDAP_AUTHENTICATION_BIND_DN": SERVICE_DN,
        "PORTUS_LDAP_AUTHENTICATION_PASSWORD": SERVICE_PASSWORD,
        "PORTUS_LDAP_GUESS_EMAIL_ENABLED": "true",
        "PORTUS_LDAP_GUESS_EMAIL_ATTR": "mail",
    }


@pytest.fixture(scope="module")
def slapd() -> Iterator[Slapd]:
    with Slapd() as server:
        yield server


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, stack_db: str, slapd: Slapd) -> Iterator[Stack]:
    require_tool("skopeo")
    stack = start_stack(tmp_path_factory.mktemp("ldap-stack"), stack_db, **ldap_env(slapd))
    try:
        yield stack
    finally:
        stack.server.stop()
        stack.registry.stop()


@pytest.fixture
def skopeo(tmp_path: Path) -> Iterator[Skopeo]:
    require_tool("skopeo")
    with Skopeo(tmp_path / "skopeo") as client:
        yield client


def creds(username: str) -> str:
    return f"{username}:{USERS[username][0]}"


def test_push_with_a_directory_password_then_group_sync(
    stack: Stack, skopeo: Skopeo, tmp_path: Path
) -> None:
    layout = tmp_path / "img"
    build_oci_layout(layout, "latest", b"ldap e2e image")
    registry = f"docker://{stack.registry.host}"

    # alice has never logged in: /v2/token creates her account and personal namespace.
    pushed = skopeo.copy(
        f"oci:{layout}:latest", f"{registry}/alice/app:1.0", dest_creds=creds("alice")
    )
    assert pushed.returncode == 0, pushed.stderr
    inspected = skopeo.inspect(f"{registry}/alice/app:1.0", creds=creds("alice"))
    assert inspected.returncode == 0, inspected.stderr
    wrong = skopeo.inspect(f"{registry}/alice/app:1.0", creds="alice:not-her-password")
    assert wrong.returncode != 0
    assert "unauthorized" in wrong.stderr.lower()
    # bob (a directory user too) may not read alice's private namespace.
    assert skopeo.inspect(f"{registry}/alice/app:1.0", creds=creds("bob")).returncode != 0

    found = stack.api("GET", "/users/alice.mail@corp.example", headers=stack.admin_headers).json()
    assert found["username"] == "alice"
    assert found["admin"] is False
    dave = stack.api("GET", "/me", auth=("dave", USERS["dave"][0]))
    assert dave.json()["admin"] is True

    # The serve process runs the group sync: a new team "developers" gets the group's members
    # that have an account (alice, bob, dave; not the local admin).
    team = stack.api(
        "POST", "/teams", json={"name": "developers"}, headers=stack.admin_headers
    ).json()

    def members() -> dict[str, str] | None:
        listed = stack.api("GET", f"/teams/{team['id']}/members", headers=stack.admin_headers)
        roles = {m["username"]: m["role"] for m in listed.json()}
        return roles if {"alice", "bob", "dave"} <= set(roles) else None

    assert stack.wait_for(members, timeout=30) == {
        "admin": "owner",
        "alice": "viewer",
        "bob": "viewer",
        "dave": "owner",
    }
    health = stack.api("GET", "/health").json()
    assert health["ldap"]["success"] is True


def test_a_hung_directory_fails_logins_in_time_and_blocks_nobody(stack: Stack) -> None:
    """20 logins against a directory that never answers (more than the 16 LDAP threads), while
    pings and an authenticated, database-backed request keep being answered at once."""
    configured = dict(stack.server.extra_env)
    try:
        results, latencies, accepted = _logins_against_a_hung_directory(stack)
    finally:
        # the module's other tests use the real directory again
        stack.server.extra_env = configured
        stack.server.restart()
    assert accepted >= 8
    for status, elapsed, text in results:
        assert status == 401, text
        assert "LDAP directory cannot be used" in text
        # The 1 s timeout, plus room for a shared, busy machine (2.1 s was seen with other test
        # runs going): a login that waited on the directory would take minutes.
        assert elapsed < 1 + 3, sorted(r[1] for r in results)
    assert len(latencies) >= 5
    # A blocked event loop would hold a request for about the whole 1 s timeout; 20 logins
    # hashing (argon2, off the loop) on 2 shared cores add jitter, never that.
    assert max(latencies) < 0.9, latencies
    assert statistics.median(latencies) < 0.25, latencies


def _logins_against_a_hung_directory(
    stack: Stack,
) -> tuple[list[tuple[int, float, str]], list[float], int]:
    with SilentServer() as hung:
        stack.server.restart(
            PORTUS_LDAP_PORT=str(hung.port),
            PORTUS_LDAP_TIMEOUT="1",
            PORTUS_LDAP_ENCRYPTION_METHOD="",
            # Every attempt counts against the address while it is checked (the module's
            # earlier tests failed some from here too): this test is about the directory.
            PORTUS_LOGIN_RATE_LIMIT_ATTEMPTS="100",
        )
        url = stack.server.url

        def login(i: int) -> tuple[int, float, str]:
            # The clock starts once the client is built: 20 threads building httpx clients
            # (an SSL context each) hold the test's GIL for a good part of a second.
            with httpx.Client(base_url=url, trust_env=False, timeout=30) as client:
                start = time.monotonic()
                response = client.get(
                    "/v2/token", params={"service": stack.registry.host}, auth=(f"u{i}", "pw")
                )
                return response.status_code, time.monotonic() - start, response.text

        latencies: list[float] = []
        with ThreadPoolExecutor(max_workers=20) as pool:
            futures = [pool.submit(login, i) for i in range(20)]
            time.sleep(0.2)
            with stack.server.client() as client:
                while not all(f.done() for f in futures):
                    start = time.monotonic()
                    assert client.get("/api/v1/_ping").status_code == 200
                    me = client.get("/api/v1/teams", headers=stack.admin_headers)
                    assert me.status_code == 200
                    latencies.append(time.monotonic() - start)
                    time.sleep(0.05)
            results = [f.result() for f in futures]
        return results, latencies, hung.accepted


def test_the_cli_refuses_a_local_user_named_like_a_directory_user(stack: Stack) -> None:
    taken = stack.server.portus(
        "create-user", "bob", "--email", "bob@local.example", stdin="a-local-password\n"
    )
    assert taken.returncode == 1
    assert "exists in the LDAP directory" in taken.stderr
    free = stack.server.portus(
        "create-user", "local-only", "--email", "lo@local.example", stdin="a-local-password\n"
    )
    assert free.returncode == 0, free.stderr
