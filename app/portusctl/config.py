"""Named servers (profiles) that `portusctl login` writes and every command can use.

The file is `$PORTUSCTL_CONFIG`, else `$XDG_CONFIG_HOME/portusctl/config.json`, else
`~/.config/portusctl/config.json`. It holds application tokens, so it is written with mode
0600 in a 0700 directory, atomically (a temporary file renamed over it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError


class Profile(BaseModel):
    server: str
    user: str
    token: str
    token_id: int | None = Field(None, description="set when `login` created the token")


class ConfigFile(BaseModel):
    current: str | None = None
    profiles: dict[str, Profile] = Field(default_factory=dict)


class ConfigError(Exception):
    pass


def config_path() -> Path:
    explicit = os.environ.get("PORTUSCTL_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "portusctl" / "config.json"


def load(path: Path | None = None) -> ConfigFile:
    path = path or config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return ConfigFile()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return ConfigFile.model_validate_json(text)
    except ValidationError:
        raise ConfigError(f"{path} is not a portusctl configuration file") from None


def save(config: ConfigFile, path: Path | None = None) -> Path:
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(config.model_dump(mode="json"), indent=2) + "\n")
        os.chmod(temporary, 0o600)  # whatever the umask
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def selected(config: ConfigFile, name: str | None) -> tuple[str, Profile] | None:
    """The profile called `name`, else the current one; None when there is none."""
    if name is not None:
        if name not in config.profiles:
            raise ConfigError(f"there is no profile '{name}' (see `portusctl profiles`)")
        return name, config.profiles[name]
    if config.current and config.current in config.profiles:
        return config.current, config.profiles[config.current]
    return None
