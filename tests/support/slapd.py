"""A real OpenLDAP server (slapd) for the tests, and the certificates it serves.

slapd.conf style, loaded offline with slapadd, run in the foreground on free loopback ports
(plain LDAP with StartTLS, and LDAPS), in a scratch directory removed afterwards.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from cryptography.hazmat.primitives import serialization

from tests.support.tls import CertificateAuthority
from tests.support.tools import free_port, require_tool

SUFFIX = "dc=example,dc=org"
PEOPLE = f"ou=people,{SUFFIX}"
ADMINS = f"ou=admins,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
SERVICE_DN = f"cn=reader,{SUFFIX}"
SERVICE_PASSWORD = "reader-secret"

# username -> (password, mail, base)
USERS: dict[str, tuple[str, str, str]] = {
    "alice": ("alice-dir-pw", "alice.mail@corp.example", PEOPLE),
    "bob": ("bob-dir-pw", "bob.mail@corp.example", PEOPLE),
    "carol": ("carol-dir-pw", "carol.mail@corp.example", PEOPLE),
    "erin": ("erin-dir-pw", "erin.mail@corp.example", PEOPLE),
    "dave": ("dave-dir-pw", "dave.mail@corp.example", ADMINS),
}
# groupOfNames "developers": alice, bob, dave; groupOfUniqueNames "qa": bob, carol.
GROUP_OF_NAMES = ("developers", ("alice", "bob", "dave"))
GROUP_OF_UNIQUE_NAMES = ("qa", ("bob", "carol"))


def user_dn(username: str) -> str:
    return f"uid={username},{USERS[username][2]}"


def _ldif() -> str:
    blocks = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example",
        f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
        f"cn: reader\nuserPassword: {SERVICE_PASSWORD}",
    ]
    for ou in ("people", "admins", "groups"):
        blocks.append(f"dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}")
    for name, (password, mail, _) in USERS.items():
        blocks.append(
            f"dn: {user_dn(name)}\nobjectClass: inetOrgPerson\nuid: {name}\ncn: {name.title()}\n"
            f"sn: {name.title()}\nmail: {mail}\nuserPassword: {password}"
        )
    for (group, members), (object_class, attribute) in (
        (GROUP_OF_NAMES, ("groupOfNames", "member")),
        (GROUP_OF_UNIQUE_NAMES, ("groupOfUniqueNames", "uniqueMember")),
    ):
        blocks.append(
            f"dn: cn={group},{GROUPS}\nobjectClass: {object_class}\ncn: {group}\n"
            + "\n".join(f"{attribute}: {user_dn(m)}" for m in members)
        )
    return "\n\n".join(blocks) + "\n"


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_ca(directory: Path, name: str) -> Path:
    """A CA's certificate file, `<name>.pem` (a CA that signs nothing the server presents)."""
    return CertificateAuthority(name).write(directory / f"{name}.pem")


def make_certificates(directory: Path) -> Certificates:
    """A CA and a server certificate for 127.0.0.1 / localhost signed by it."""
    ca = CertificateAuthority("test-ldap-ca")
    # slapd (OpenSSL or GnuTLS builds) reads the traditional key format.
    issued = ca.issue(directory, key_format=serialization.PrivateFormat.TraditionalOpenSSL)
    return Certificates(
        ca_file=ca.write(directory / "test-ldap-ca.pem"),
        cert_file=issued.cert_file,
        key_file=issued.key_file,
    )


class Slapd:
    """slapd with the test directory: `port` speaks LDAP (and StartTLS), `ldaps_port` LDAPS."""

    def __init__(self, workdir: Path | None = None) -> None:
        self._owned: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._owned = tempfile.TemporaryDirectory(prefix="slapd-")
            workdir = Path(self._owned.name)
        self.workdir = workdir
        self.port = free_port()
        self.ldaps_port = free_port()
        self.certificates = make_certificates(workdir / "tls")
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        certs = self.certificates
        config = self.workdir / "slapd.conf"
        config.write_text(
            "\n".join(
                [
                    "include /etc/ldap/schema/core.schema",
                    "include /etc/ldap/schema/cosine.schema",
                    "include /etc/ldap/schema/inetorgperson.schema",
                    f"pidfile {self.workdir / 'slapd.pid'}",
                    f"argsfile {self.workdir / 'slapd.args'}",
                    "modulepath /usr/lib/ldap",
                    "moduleload back_mdb",
                    f"TLSCACertificateFile {certs.ca_file}",
                    f"TLSCertificateFile {certs.cert_file}",
                    f"TLSCertificateKeyFile {certs.key_file}",
                    "database mdb",
                    "maxsize 10485760",
                    f'suffix "{SUFFIX}"',
                    f'rootdn "cn=admin,{SUFFIX}"',
                    "rootpw admin-root-pw",
                    f"directory {data}",
                    "index objectClass eq",
                    "index uid eq",
                    "access to attrs=userPassword",
                    "    by self write",
                    "    by anonymous auth",
                    "    by * none",
                    "access to *",
                    "    by * read",
                    "",
                ]
            )
        )
        return config

    def start(self) -> None:
        slapd = require_tool("slapd")
        slapadd = require_tool("slapadd")
        config = self._config()
        ldif = self.workdir / "directory.ldif"
        ldif.write_text(_ldif())
        loaded = subprocess.run(
            [slapadd, "-q", "-f", str(config), "-l", str(ldif)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr
        self._log = (self.workdir / "slapd.log").open("ab")
        # Also on 127.0.0.2 (loopback too): an address the certificate does not name.
        urls = (
            f"ldap://127.0.0.1:{self.port}/ ldaps://127.0.0.1:{self.ldaps_port}/"
            f" ldaps://127.0.0.2:{self.ldaps_port}/"
        )
        self._process = subprocess.Popen(
            [slapd, "-f", str(config), "-h", urls, "-d", "stats"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        for port in (self.port, self.ldaps_port):
            while True:
                if self._process.poll() is not None:
                    raise RuntimeError(f"slapd exited: {self.log_text()[-2000:]}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"slapd did not listen: {self.log_text()[-2000:]}"
                        ) from exc
                    time.sleep(0.05)

    def log_text(self) -> str:
        path = self.workdir / "slapd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._owned is not None:
            self._owned.cleanup()
            self._owned = None

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


class SilentServer:
    """A TCP server that accepts connections and never answers: a hung directory."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._held.append(connection)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopped.set()
        self._thread.join(5)
        self._listener.close()
        for connection in self._held:
            connection.close()
