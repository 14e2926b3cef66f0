"""What of a Portus installation lives outside its database: the key that signs the registry's
tokens (`PORTUS_KEY_PATH`) and the token issuer (`machine_fqdn`). Both must stay as they were,
or the registry, whose `rootcertbundle` and `issuer` name them, refuses our tokens."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.core.config import ConfigError, Settings, iter_key_paths
from app.core.files import private_directory
from app.core.keys import create_private_file, load_private_key


def _public(path: Path) -> bytes:
    return (
        load_private_key(path)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def _certificate_of(certificate: Path | None, wanted: bytes) -> bytes | None:
    """The PEM certificate, when it is one of the key (the registry's rootcertbundle)."""
    if certificate is None or not certificate.exists():
        return None
    data = certificate.read_bytes()
    try:
        public = x509.load_pem_x509_certificate(data).public_key()
    except ValueError as exc:
        raise ConfigError(f"--certificate: {certificate} is no PEM certificate") from exc
    spki = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if spki != wanted:
        raise ConfigError(f"--certificate: {certificate} is not the certificate of the key")
    return data


def take_over_key(settings: Settings, portus_key: Path, certificate: Path | None) -> list[str]:
    """Portus's signing key and its certificate become ours: copied to
    `<data_dir>/keys/portus.key` and `portus.crt` (files that were there are kept beside
    them), unless `key_path` is configured. The certificate matters too: tokens carry it
    (`x5c`), and the registry checks it against its rootcertbundle. Lines to print."""
    wanted = _public(portus_key)  # ConfigError when it is no usable key
    certificate_pem = _certificate_of(certificate, wanted)
    if settings.key_path:
        if _public(Path(settings.key_path)) == wanted:
            return [f"signing key: key_path already is Portus's key ({settings.key_path})"]
        return [
            f"signing key: key_path names another key ({settings.key_path}): set it to "
            f"{portus_key}, or the registry refuses our tokens"
        ]
    keys_dir = settings.data_dir / "keys"
    private_directory(keys_dir)
    ours = keys_dir / "portus.key"
    lines = []
    if ours.exists() and _public(ours) == wanted and certificate_pem is None:
        return [f"signing key: {ours} already is Portus's key"]
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    for path in (ours, keys_dir / "portus.crt"):
        if path.exists():
            aside = path.with_name(f"{path.name}.before-import-{stamp}")
            path.rename(aside)
            lines.append(f"signing key: kept the previous {path.name} as {aside}")
    create_private_file(ours, portus_key.read_bytes())
    lines.append(f"signing key: Portus's {portus_key} is now {ours}")
    ours_crt = keys_dir / "portus.crt"
    if certificate_pem is not None:
        create_private_file(ours_crt, certificate_pem)
        ours_crt.chmod(0o644)
        lines.append(f"certificate: Portus's {certificate} is now {ours_crt}")
    else:
        lines.append(
            f"certificate: none given (--certificate): {ours_crt} is made from the key at start; "
            "put it in the registry's rootcertbundle"
        )
    return lines


def read_portus_config(config_path: Path) -> dict[str, Any]:
    """Portus's config.yml (or config-local.yml) as a mapping."""
    try:
        loaded: Any = yaml.safe_load(config_path.read_text())
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {config_path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"--config: {config_path} is not YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise ConfigError(f"--config: {config_path} is no YAML mapping")
    return loaded


def _leaves(
    tree: dict[str, Any], prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for key, value in tree.items():
        path = (*prefix, str(key))
        if isinstance(value, dict) and value:
            found += _leaves(value, path)
        else:
            found.append((path, value))
    return found


_SECRET_WORDS = ("password", "secret", "token", "key_base")


def settings_differences(settings: Settings, portus: dict[str, Any]) -> list[str]:
    """Portus's settings that differ from ours (same key names), and those we do not read:
    what to carry over into our config by hand. Secret values are never printed."""
    known = set(iter_key_paths(type(settings)))
    ours = settings.model_dump(by_alias=True, mode="json")
    lines, unknown = [], []
    for path, value in _leaves(portus):
        if path not in known:
            unknown.append(".".join(path))
            continue
        current: Any = ours
        for part in path:
            current = current.get(part) if isinstance(current, dict) else None
        name = ".".join(path)
        if any(word in name for word in _SECRET_WORDS):
            if value not in (None, ""):
                lines.append(f"setting {name}: set in Portus (a secret: set it here by hand)")
            continue
        if str(value).lower() != str(current).lower():
            lines.append(f"setting {name}: Portus {value!r}, here {current!r}")
    if unknown:
        lines.append(f"settings Portus had that are not read here: {', '.join(unknown)}")
    return lines


def portus_machine_fqdn(config_path: Path) -> str | None:
    """`machine_fqdn.value` of a Portus config.yml (None when it does not set one)."""
    loaded = read_portus_config(config_path)
    section = loaded.get("machine_fqdn")
    value = section.get("value") if isinstance(section, dict) else None
    return str(value) if value else None


def issuer_advice(settings: Settings, portus_fqdn: str | None) -> list[str]:
    ours = settings.machine_fqdn.value
    if portus_fqdn is None:
        return [f"token issuer: Portus's config sets no machine_fqdn; ours is {ours!r}"]
    if portus_fqdn == ours:
        return [f"token issuer: {ours!r}, as Portus's (the registry's auth.token.issuer)"]
    return [
        f"token issuer: Portus used machine_fqdn {portus_fqdn!r}, ours is {ours!r}: set "
        f"machine_fqdn.value: {portus_fqdn} in our config (or PORTUS_MACHINE_FQDN_VALUE), or "
        "the registry refuses our tokens"
    ]


__all__ = ["issuer_advice", "portus_machine_fqdn", "take_over_key"]
