"""Helpers that drive the real registry and client binaries from tests.

Everything here runs external programs (docker-registry, skopeo, podman, docker) in
isolated scratch directories, so tests never use the host's credentials, registries.conf,
policy or image store. Two host paths remain shared because the tools offer no switch:
skopeo's blob-info cache (``/var/lib/containers/cache``, which can trigger cross-repo
mount attempts) and podman's empty ``/run/containers/networks``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx
import pytest
import yaml

COMMAND_TIMEOUT = 60.0
"""Seconds any single client command may take; tiny test images push in well under 1 s."""

REGISTRY_BINARY = "/usr/bin/docker-registry"

_PERMISSIVE_POLICY = '{"default":[{"type":"insecureAcceptAnything"}]}\n'


def require_tool(name: str) -> str:
    """Return the absolute path of ``name``; skip locally but fail in CI when it is missing.

    CI is expected to provide every tool, so a missing binary there is a setup bug.
    """
    found = shutil.which(name)
    if found is None:
        message = f"required tool {name!r} not found on PATH"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return os.path.abspath(found)


def free_port() -> int:
    """Ask the kernel for a currently unused TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _poll_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll ``url`` until any HTTP answer; give up early if ``process`` has exited."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt made"
    # trust_env=False: a proxy from the environment must not intercept loopback polling.
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while True:
            if process is not None and process.poll() is not None:
                raise RuntimeError(
                    f"process exited with code {process.returncode} before {url} answered"
                )
            try:
                client.get(url)
                return
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"{url} gave no HTTP response within {timeout:.1f}s (last error: {last_error})"
                )
            time.sleep(0.05)


def wait_for_http(url: str, timeout: float = 10.0) -> None:
    """Block until ``url`` answers with any HTTP status (services often answer 401 at first)."""
    _poll_http(url, timeout)


def _run(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    input_text: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command capturing text output; callers inspect ``returncode`` themselves."""
    return subprocess.run(
        list(argv),
        env=dict(env),
        input=input_text,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
        cwd=cwd,
    )


class _ScratchDir:
    """Owns a working directory: either given by the caller or a temp dir removed on close."""

    def __init__(self, workdir: Path | None, prefix: str) -> None:
        self._owned: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._owned = tempfile.TemporaryDirectory(prefix=prefix)
            workdir = Path(self._owned.name)
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir

    def close(self) -> None:
        if self._owned is not None:
            self._owned.cleanup()
            self._owned = None


def _isolated_env(base: Path) -> dict[str, str]:
    """Environment that points every containers/image and docker lookup into ``base``.

    Without this, skopeo/podman would read ``/run/containers/0/auth.json``,
    ``~/.docker/config.json`` or host registries.conf and tests would depend on the host.
    """
    config_home = base / "xdg-config"
    docker_dir = base / "docker"
    for directory in (config_home, docker_dir):
        directory.mkdir(parents=True, exist_ok=True)
    registries_conf = base / "registries.conf"
    if not registries_conf.exists():
        registries_conf.write_text("# isolated for tests: no search registries, no mirrors\n")
    auth_file = base / "auth.json"
    if not auth_file.exists():
        # podman refuses an --authfile/REGISTRY_AUTH_FILE path that does not exist yet.
        auth_file.write_text('{"auths":{}}\n')
    env = dict(os.environ)
    env.update(
        {
            "REGISTRY_AUTH_FILE": str(auth_file),
            "DOCKER_CONFIG": str(docker_dir),
            "XDG_CONFIG_HOME": str(config_home),
            "CONTAINERS_REGISTRIES_CONF": str(registries_conf),
            "TMPDIR": str(base / "tmp"),
        }
    )
    (base / "tmp").mkdir(parents=True, exist_ok=True)
    return env


class RegistryProcess:
    """A real distribution registry (``docker-registry serve``) on a loopback port.

    ``auth_yaml`` carries the ``auth:``/``notifications:`` sections generated by the code
    under test; everything else is a fixed config proven to work (see reference §2).
    """

    def __init__(
        self,
        workdir: Path,
        port: int,
        auth_yaml: str,
        *,
        delete_enabled: bool = True,
    ) -> None:
        self.workdir = workdir
        self.port = port
        self.auth_yaml = auth_yaml
        self.delete_enabled = delete_enabled
        self.config_path = workdir / "config.yml"
        self.log_path = workdir / "registry.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def host(self) -> str:
        """``host:port`` as clients put it in image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def build_config(self) -> dict[str, object]:
        """The config as a dict; the caller's top-level sections replace the defaults."""
        config: dict[str, object] = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "fields": {"service": "registry"}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.workdir / "data")},
                "delete": {"enabled": self.delete_enabled},
                "cache": {"blobdescriptor": "inmemory"},
            },
            "http": {
                "addr": self.host,
                "secret": secrets.token_hex(16),
                "headers": {"X-Content-Type-Options": ["nosniff"]},
            },
            "health": {"storagedriver": {"enabled": False}},
        }
        extra = yaml.safe_load(self.auth_yaml) if self.auth_yaml.strip() else None
        if extra is None:
            extra = {}
        if not isinstance(extra, dict):
            raise ValueError(f"auth_yaml must be a YAML mapping, got {type(extra).__name__}")
        for key, value in extra.items():
            config[str(key)] = value
        return config

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.build_config(), sort_keys=False, default_flow_style=False)
        self.config_path.write_text(text)
        return self.config_path

    def start(self, timeout: float = 10.0) -> None:
        """Start the registry and wait until ``/v2/`` answers (any status: auth gives 401)."""
        if self.running:
            return
        binary = REGISTRY_BINARY if os.access(REGISTRY_BINARY, os.X_OK) else None
        if binary is None:
            binary = require_tool("docker-registry")
        self.write_config()
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [binary, "serve", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )
        try:
            _poll_http(f"{self.url}/v2/", timeout, self._process)
        except RuntimeError as exc:
            self.stop()
            log = self.log_text()
            raise RuntimeError(f"registry did not start: {exc}\n--- log ---\n{log}") from exc

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self) -> None:
        """Stop and start again, e.g. after changing the key bundle (read only at startup)."""
        self.stop()
        self.start()

    def log_text(self) -> str:
        """Everything the registry logged so far (token rejection reasons appear here)."""
        if self._log_file is not None:
            self._log_file.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class Skopeo:
    """skopeo with a private auth file, policy and temp dir; plain-http registries allowed.

    ``creds`` is ``"user:password"``, or ``None`` for an anonymous request (``--no-creds``),
    so no stored credentials ever leak into a test.
    """

    def __init__(self, workdir: Path | None = None) -> None:
        self.binary = require_tool("skopeo")
        self._scratch = _ScratchDir(workdir, "skopeo-")
        self.workdir = self._scratch.workdir
        self.env = _isolated_env(self.workdir)
        self.auth_file = Path(self.env["REGISTRY_AUTH_FILE"])
        self.policy_file = self.workdir / "policy.json"
        self.policy_file.write_text(_PERMISSIVE_POLICY)

    def _global(self) -> list[str]:
        return [
            self.binary,
            "--policy",
            str(self.policy_file),
            "--tmpdir",
            self.env["TMPDIR"],
        ]

    @staticmethod
    def _creds(creds: str | None, prefix: str = "") -> list[str]:
        if creds is None:
            return [f"--{prefix}no-creds"]
        return [f"--{prefix}creds", creds]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Any skopeo subcommand with the isolated environment; no flags added."""
        return _run([*self._global(), *args], self.env)

    def copy(
        self,
        src: str,
        dest: str,
        *,
        src_creds: str | None = None,
        dest_creds: str | None = None,
        extra: Iterable[str] = (),
    ) -> subprocess.CompletedProcess[str]:
        """``skopeo copy``; tls flags are harmless for non-registry transports (oci:, dir:)."""
        args = [
            "copy",
            "--authfile",
            str(self.auth_file),
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            *self._creds(src_creds, "src-"),
            *self._creds(dest_creds, "dest-"),
            *extra,
            src,
            dest,
        ]
        return self.run(*args)

    def _registry_cmd(
        self, command: str, ref: str, creds: str | None, *flags: str
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            command,
            "--authfile",
            str(self.auth_file),
            "--tls-verify=false",
            *self._creds(creds),
            *flags,
            ref,
        )

    def inspect(
        self, ref: str, *, creds: str | None = None, raw: bool = False
    ) -> subprocess.CompletedProcess[str]:
        return self._registry_cmd("inspect", ref, creds, *(["--raw"] if raw else []))

    def list_tags(self, ref: str, *, creds: str | None = None) -> subprocess.CompletedProcess[str]:
        """``ref`` is ``docker://host/repo`` without a tag; stdout is JSON with ``Tags``."""
        return self._registry_cmd("list-tags", ref, creds)

    def delete(self, ref: str, *, creds: str | None = None) -> subprocess.CompletedProcess[str]:
        """Deletes the manifest the tag points to (skopeo resolves tag -> digest itself)."""
        return self._registry_cmd("delete", ref, creds)

    def close(self) -> None:
        self._scratch.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Podman:
    """Rootful podman on private vfs storage, so no daemon, overlay or host images are used."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.binary = require_tool("podman")
        self._scratch = _ScratchDir(workdir, "podman-")
        self.workdir = self._scratch.workdir
        self.env = _isolated_env(self.workdir)
        self.auth_file = Path(self.env["REGISTRY_AUTH_FILE"])
        self.policy_file = self.workdir / "policy.json"
        self.policy_file.write_text(_PERMISSIVE_POLICY)
        self.env["CONTAINERS_POLICY_JSON"] = str(self.policy_file)

    def _global(self) -> list[str]:
        return [
            self.binary,
            "--root",
            str(self.workdir / "root"),
            "--runroot",
            str(self.workdir / "run"),
            "--tmpdir",
            str(self.workdir / "libpod-tmp"),
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
        ]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Any podman subcommand with the isolated storage and environment."""
        return _run([*self._global(), *args], self.env)

    def login(self, host: str, user: str, password: str) -> subprocess.CompletedProcess[str]:
        """Password goes via stdin so it never shows in the process list."""
        return _run(
            [
                *self._global(),
                "login",
                "--tls-verify=false",
                "--authfile",
                str(self.auth_file),
                "-u",
                user,
                "--password-stdin",
                host,
            ],
            self.env,
            input_text=password + "\n",
        )

    def logout(self, host: str) -> subprocess.CompletedProcess[str]:
        return self.run("logout", "--authfile", str(self.auth_file), host)

    def pull(self, ref: str, *, creds: str | None = None) -> subprocess.CompletedProcess[str]:
        """Pull ``ref`` (``host/repo:tag`` or e.g. ``oci:dir:tag``); stdout is the image id."""
        args = ["pull", "-q", "--tls-verify=false", "--authfile", str(self.auth_file)]
        if creds is not None:
            args += ["--creds", creds]
        return self.run(*args, ref)

    def tag(self, src: str, dest: str) -> subprocess.CompletedProcess[str]:
        return self.run("tag", src, dest)

    def push(
        self,
        ref: str,
        *,
        format: str | None = None,
        dest: str | None = None,
        creds: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Push local image ``ref`` to ``dest`` (default: the same name); ``format`` e.g. v2s2."""
        args = ["push", "--tls-verify=false", "--authfile", str(self.auth_file)]
        if format is not None:
            args += ["--format", format]
        if creds is not None:
            args += ["--creds", creds]
        args.append(ref)
        if dest is not None:
            args.append(dest)
        return self.run(*args)

    def close(self) -> None:
        self._scratch.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def docker_login(
    config_dir: Path, host: str, user: str, password: str
) -> subprocess.CompletedProcess[str]:
    """``docker login`` needs no engine; it exercises docker's token flow and writes config.json."""
    binary = require_tool("docker")
    config_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.pop("DOCKER_HOST", None)
    env["DOCKER_CONFIG"] = str(config_dir)
    return _run(
        [binary, "--config", str(config_dir), "login", "-u", user, "--password-stdin", host],
        env,
        input_text=password + "\n",
    )
