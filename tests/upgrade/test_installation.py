"""The parts of a Portus installation outside its database: the signing key and certificate
become ours, and the issuer is compared with ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import ConfigError, Settings
from app.core.keys import load_signing_key
from app.upgrade.installation import (
    issuer_advice,
    portus_machine_fqdn,
    read_portus_config,
    settings_differences,
    take_over_key,
)
from tests.conftest import make_settings
from tests.upgrade.test_registry_takeover import portus_key_and_certificate


def test_the_key_and_certificate_become_ours_and_a_previous_key_is_kept(
    tmp_path: Path, settings: Settings
) -> None:
    settings = make_settings(settings, data_dir=tmp_path / "data")
    previous = load_signing_key(settings)  # the key a first start generated
    old = tmp_path / "old"
    old.mkdir()
    key, certificate = portus_key_and_certificate(old)

    lines = take_over_key(settings, key, certificate)

    keys = settings.data_dir / "keys"
    assert (keys / "portus.key").read_bytes() == key.read_bytes()
    assert (keys / "portus.crt").read_bytes() == certificate.read_bytes()
    kept = sorted(p.name for p in keys.iterdir() if "before-import" in p.name)
    assert [name.split(".before")[0] for name in kept] == ["portus.crt", "portus.key"]
    assert any("kept the previous portus.key" in line for line in lines)
    signing = load_signing_key(settings)
    assert signing.kid != previous.kid and signing.algorithm == "RS256"
    assert signing.certificate_path.read_bytes() == certificate.read_bytes()


def test_a_certificate_of_another_key_is_refused(tmp_path: Path, settings: Settings) -> None:
    settings = make_settings(settings, data_dir=tmp_path / "data")
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    key, _ = portus_key_and_certificate(first)
    _, other_certificate = portus_key_and_certificate(second)
    with pytest.raises(ConfigError, match="is not the certificate of the key"):
        take_over_key(settings, key, other_certificate)
    assert not (settings.data_dir / "keys" / "portus.key").exists()


def test_the_issuer_is_compared_with_portus(tmp_path: Path, settings: Settings) -> None:
    config = tmp_path / "config.yml"
    config.write_text("machine_fqdn:\n  value: portus.example.org\nemail:\n  from: x@y\n")
    advice = issuer_advice(settings, portus_machine_fqdn(config))
    assert "set machine_fqdn.value: portus.example.org" in advice[0]
    same = make_settings(settings, machine_fqdn={"value": "portus.example.org"})
    assert "as Portus's" in issuer_advice(same, portus_machine_fqdn(config))[0]


def test_portus_settings_that_differ_are_named_secrets_never_shown(
    tmp_path: Path, settings: Settings
) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "delete:\n  enabled: true\n"
        "signup:\n  enabled: true\n"
        "email:\n  smtp:\n    password: hunter2\n"
        "not_a_portus_key_here:\n  enabled: true\n"
    )
    same = make_settings(settings, signup={"enabled": True}, delete={"enabled": False})
    lines = settings_differences(same, read_portus_config(config))
    assert "setting delete.enabled: Portus True, here False" in lines
    assert not any(line.startswith("setting signup.enabled") for line in lines)
    assert "setting email.smtp.password: set in Portus (a secret: set it here by hand)" in lines
    assert not any("hunter2" in line for line in lines)
    assert lines[-1] == "settings Portus had that are not read here: not_a_portus_key_here.enabled"
