"""Per-installation secrets: configured, or generated once into the data directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr


def instance_secret(data_dir: Path, name: str, configured: SecretStr) -> str:
    """The configured value, else the one kept in `<data_dir>/<name>` (created on first use).

    Several replicas must share it: configure it (or share the data directory) in production.
    """
    value = configured.get_secret_value()
    if value:
        return value
    path = data_dir / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
