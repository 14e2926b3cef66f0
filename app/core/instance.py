"""Per-installation secrets: configured, or generated once into the data directory."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import SecretStr

from app.core.files import private_file
from app.core.keys import create_private_file


def instance_secret(data_dir: Path, name: str, configured: SecretStr) -> str:
    """The configured value, else the one kept in `<data_dir>/<name>` (created on first use).

    Several replicas must share it: configure it (or share the data directory) in production.
    """
    value = configured.get_secret_value()
    if value:
        return value
    path = data_dir / name
    if not path.exists():
        create_private_file(path, secrets.token_urlsafe(32).encode())
    private_file(path)
    return path.read_text().strip()
