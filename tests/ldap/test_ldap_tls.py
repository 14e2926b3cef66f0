"""LDAP over TLS: LDAPS (`simple_tls`) and StartTLS, verified against a CA made here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import LdapSettings
from app.core.directory import Directory, DirectoryUnavailable, tls_minimum_version
from app.core.security import TokenDigester
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.ldap.conftest import ldap_config
from tests.support.auth import admin_headers
from tests.support.slapd import USERS, Slapd, make_ca

METHODS = [("simple_tls", "ldaps_port"), ("start_tls", "port"), ("starttls", "port")]


def tls_config(slapd: Slapd, method: str, port_attr: str, ca_file: Path | str) -> dict[str, Any]:
    return ldap_config(
        slapd,
        port=getattr(slapd, port_attr),
        encryption={"method": method, "options": {"ca_file": str(ca_file)}},
    )


@pytest.mark.parametrize(("method", "port_attr"), METHODS)
async def test_login_over_tls_with_the_test_ca(
    session: AsyncSession,
    make_client: ClientFactory,
    slapd: Slapd,
    method: str,
    port_attr: str,
) -> None:
    await factories.create_user(session, username="boss", admin=True)
    config = tls_config(slapd, method, port_attr, slapd.certificates.ca_file)
    async with make_client(ldap=config) as client:
        login = await client.post(
            "/api/v1/session", json={"username": "alice", "password": USERS["alice"][0]}
        )
        assert login.status_code == 200, login.text
        token = await client.get(
            "/v2/token", params={"service": "s"}, auth=("bob", USERS["bob"][0])
        )
        assert token.status_code == 200, token.text
        wrong = await client.get("/api/v1/me", auth=("bob", "wrong"))
        assert wrong.status_code == 401
        assert (await client.get("/api/v1/health")).json()["ldap"]["success"] is True


@pytest.mark.parametrize(("method", "port_attr"), METHODS[:2])
async def test_a_certificate_from_another_ca_is_refused(
    tmp_path: Path,
    session: AsyncSession,
    digester: TokenDigester,
    make_client: ClientFactory,
    slapd: Slapd,
    method: str,
    port_attr: str,
) -> None:
    other_ca = make_ca(tmp_path, "some-other-ca")
    admin = await admin_headers(session, digester)
    # Without ca_file the system's CAs are used: they do not know the test CA either.
    for ca_file in (other_ca, ""):
        config = tls_config(slapd, method, port_attr, ca_file)
        async with make_client(ldap=config) as client:
            login = await client.post(
                "/api/v1/session", json={"username": "alice", "password": USERS["alice"][0]}
            )
            assert login.status_code == 401
            message = login.json()["message"]
            assert "LDAP directory cannot be used" in message
            assert "certificate verify failed" in message.lower(), message
            health = await client.get("/api/v1/health", headers=admin)
            assert health.status_code == 503
            assert "certificate verify failed" in health.json()["ldap"]["msg"].lower()


async def test_the_host_name_must_match_the_certificate(slapd: Slapd) -> None:
    """The certificate names localhost and 127.0.0.1, not 127.0.0.2 (which reaches slapd
    all the same, on Linux's loopback network)."""
    settings = LdapSettings.model_validate(
        {
            **ldap_config(slapd, port=slapd.ldaps_port, hostname="127.0.0.2"),
            "encryption": {
                "method": "simple_tls",
                "options": {"ca_file": str(slapd.certificates.ca_file)},
            },
        }
    )
    directory = Directory(settings)
    try:
        with pytest.raises(DirectoryUnavailable, match=r"(?i)mismatch"):
            await directory.check()
    finally:
        directory.close()


def test_ssl_versions_are_portus_spellings() -> None:
    assert tls_minimum_version("TLSv1_2") is not None
    assert tls_minimum_version("TLSv1_3") is not None
    assert tls_minimum_version("") is None
    with pytest.raises(ValueError, match="ssl_version"):
        tls_minimum_version("SSLv3")


async def test_ssl_version_is_the_minimum_accepted(slapd: Slapd) -> None:
    settings = LdapSettings.model_validate(
        tls_config(slapd, "simple_tls", "ldaps_port", slapd.certificates.ca_file)
        | {
            "encryption": {
                "method": "simple_tls",
                "options": {"ca_file": str(slapd.certificates.ca_file), "ssl_version": "TLSv1_3"},
            }
        }
    )
    directory = Directory(settings)
    try:
        await directory.check()  # slapd speaks TLS 1.3
        found = await directory.authenticate("erin", USERS["erin"][0])
        assert found is not None and found.username == "erin"
    finally:
        directory.close()


async def test_an_unusable_ca_file_is_reported_not_fatal(tmp_path: Path, slapd: Slapd) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("not a certificate\n")
    for ca_file in (tmp_path / "missing.pem", broken):
        settings = LdapSettings.model_validate(tls_config(slapd, "start_tls", "port", ca_file))
        directory = Directory(settings)
        try:
            with pytest.raises(DirectoryUnavailable, match="ca_file"):
                await directory.authenticate("erin", USERS["erin"][0])
        finally:
            directory.close()


def test_unknown_ssl_versions_are_a_configuration_error() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="ssl_version"):
        LdapSettings.model_validate({"encryption": {"options": {"ssl_version": "SSLv3"}}})
