"""The LDAP directory behind an async face.

ldap3 is synchronous, so every operation runs on a small thread pool of this directory's own
(never the event loop, nor the default pool that password hashing uses), under ldap3's connect
and receive timeouts (`ldap.timeout`) and an overall deadline of `ldap.timeout` + 0.25 s: an
unreachable or hung directory fails a login within the timeout and holds no request meanwhile.
A thread left behind by the deadline ends at the next socket timeout; work still queued for a
thread when its deadline passes is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from ldap3 import ANONYMOUS, BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from app.core.config import LdapSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEADLINE_GRACE = 0.25  # seconds on top of `ldap.timeout` for the whole operation
# Threads mostly wait on the network; a hung directory holds each for up to `ldap.timeout`.
WORKERS = 16
# The group sync's paged search may take long on a big directory; each answer still has to
# come within `ldap.timeout`.
GROUP_SEARCH_DEADLINE = 120.0
GROUP_FILTER = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
GROUP_PAGE_SIZE = 500
_SUCCESS, _SIZE_LIMIT_EXCEEDED, _NO_SUCH_OBJECT, _INVALID_CREDENTIALS = 0, 4, 32, 49
_TLS_VERSIONS = {
    "tlsv1": ssl.TLSVersion.TLSv1,
    "tlsv1_1": ssl.TLSVersion.TLSv1_1,
    "tlsv1_2": ssl.TLSVersion.TLSv1_2,
    "tlsv1_3": ssl.TLSVersion.TLSv1_3,
    # "negotiate the best": the defaults
    "sslv23": None,
    "tls": None,
    "": None,
}


class DirectoryError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DirectoryUnavailable(DirectoryError):
    """Cannot ask the directory: unreachable, too slow, TLS refused, service bind refused,
    or a configuration the directory rejects (bad base or filter)."""


class InvalidCredentials(DirectoryError):
    """The user exists in the directory, and the password is not theirs."""


@dataclass(frozen=True)
class DirectoryUser:
    dn: str
    username: str  # the `ldap.uid` attribute as stored in the directory
    email: str | None  # guessed (`ldap.guess_email`), or None
    admin: bool  # found under `ldap.admin_base`


@dataclass(frozen=True)
class DirectoryGroup:
    name: str  # cn
    members: frozenset[str]  # user names (`ldap.uid`), lower-cased


def tls_minimum_version(name: str) -> ssl.TLSVersion | None:
    """`ldap.encryption.options.ssl_version` (Portus spells them `TLSv1_2`), as a minimum."""
    key = name.strip().lower().replace(".", "_")
    if key not in _TLS_VERSIONS:
        raise ValueError(
            f"ldap.encryption.options.ssl_version {name!r} is not one of "
            "TLSv1, TLSv1_1, TLSv1_2, TLSv1_3"
        )
    return _TLS_VERSIONS[key]


class _VerifiedTls(Tls):  # type: ignore[misc]
    """TLS with the standard library's own certificate and host name checks.

    ldap3 turns `check_hostname` off and does its own matching with the deprecated
    `ssl.match_hostname`, and only when it also does the handshake; here the context always
    verifies the chain (against `ca_file`, or the system's CAs) and the host name.
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(validate=ssl.CERT_REQUIRED)
        self._context = context

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        connection.socket = self._context.wrap_socket(
            connection.socket,
            server_side=False,
            do_handshake_on_connect=do_handshake,
            server_hostname=connection.server.host,
        )


def _tls_context(settings: LdapSettings) -> ssl.SSLContext:
    options = settings.encryption.options
    context = ssl.create_default_context(cafile=options.ca_file or None)
    if options.ca_file:  # Portus applies ssl_version only together with a CA file
        minimum = tls_minimum_version(options.ssl_version)
        if minimum is not None:
            context.minimum_version = minimum
    return context


def normalized_dn(dn: str) -> tuple[tuple[str, str], ...]:
    return tuple((attr.strip().lower(), value.strip().lower()) for attr, value, _ in parse_dn(dn))


def dn_within(dn: str, base: str) -> bool:
    """`dn` is `base` or below it (compared attribute by attribute, case-insensitively)."""
    entry, suffix = normalized_dn(dn), normalized_dn(base)
    return len(entry) >= len(suffix) and entry[len(entry) - len(suffix) :] == suffix


def email_from_dn(username: str, dn: str) -> str | None:
    """`uid=jo,ou=people,dc=example,dc=org` -> `jo@example.org` (Portus's guess)."""
    parts = [value for attr, value, _ in parse_dn(dn) if attr.strip().lower() == "dc"]
    return f"{username}@{'.'.join(parts)}" if parts else None


class Directory:
    """One configured directory; `close()` when done (the lifespan does)."""

    def __init__(
        self, settings: LdapSettings, *, first_user_admin: bool = True, workers: int = WORKERS
    ) -> None:
        self.settings = settings
        # The very first person to log in becomes an administrator (`first_user_admin`).
        self.first_user_admin = first_user_admin
        method = settings.encryption.method
        self.start_tls = method in ("start_tls", "starttls")
        self.use_ssl = method == "simple_tls"
        self._tls: _VerifiedTls | None = None
        # A CA file that cannot be loaded is reported by every operation (health, logins)
        # rather than stopping the service: local accounts keep working.
        self._tls_problem: str | None = None
        if self.start_tls or self.use_ssl:
            try:
                self._tls = _VerifiedTls(_tls_context(settings))
            except (OSError, ssl.SSLError, ValueError) as exc:
                self._tls_problem = (
                    f"ldap.encryption.options.ca_file {settings.encryption.options.ca_file!r} "
                    f"cannot be used: {exc}"
                )
        scheme = "ldaps" if self.use_ssl else "ldap"
        self.url = f"{scheme}://{settings.hostname}:{settings.port}"
        self.deadline = settings.timeout + DEADLINE_GRACE
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ldap")

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self, what: str, function: Callable[[], T], deadline: float | None = None) -> T:
        loop = asyncio.get_running_loop()
        seconds = deadline or self.deadline
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._executor, function), seconds)
        except TimeoutError as exc:
            raise DirectoryUnavailable(
                f"the LDAP server {self.url} did not answer within {seconds:g} s ({what})"
            ) from exc

    # --- the async operations -------------------------------------------------------------
    async def authenticate(self, username: str, password: str) -> DirectoryUser | None:
        """The directory's entry for `username` if `password` binds as it; None when there is
        no such entry; InvalidCredentials when the password is wrong."""
        if not username or not password:
            # An empty password would be an unauthenticated bind, which "succeeds".
            return None
        return await self._run("login", functools.partial(self._authenticate, username, password))

    async def find(self, username: str) -> DirectoryUser | None:
        return await self._run("user lookup", functools.partial(self._find, username))

    async def check(self) -> None:
        """The service bind (or an anonymous bind) works: raises DirectoryUnavailable if not."""
        await self._run("bind check", self._check)

    async def groups(self) -> list[DirectoryGroup]:
        """Every groupOfNames / groupOfUniqueNames under `ldap.group_base`, with the user names
        of their members."""
        return await self._run(
            "group search", self._groups, max(self.deadline, GROUP_SEARCH_DEADLINE)
        )

    # --- on the pool ----------------------------------------------------------------------
    def _guard(self, function: Callable[[], T]) -> T:
        try:
            return function()
        except LDAPException as exc:
            raise DirectoryUnavailable(f"the LDAP server {self.url} failed: {exc}") from exc

    def _connection(self) -> Connection:
        """Open, TLS as configured, bound as the service account (or anonymously)."""
        if self._tls_problem is not None:
            raise DirectoryUnavailable(self._tls_problem)
        settings = self.settings
        server = Server(
            settings.hostname,
            port=settings.port,
            use_ssl=self.use_ssl,
            tls=self._tls,
            get_info=NONE,
            connect_timeout=settings.timeout,
        )
        auth = settings.authentication
        password = auth.password.get_secret_value()
        if auth.enabled and (not auth.bind_dn or not password):
            raise DirectoryUnavailable(
                "ldap.authentication is enabled without a bind_dn and a password"
            )
        connection = Connection(
            server,
            user=auth.bind_dn if auth.enabled else None,
            password=password if auth.enabled else None,
            authentication=SIMPLE if auth.enabled else ANONYMOUS,
            receive_timeout=settings.timeout,
            auto_referrals=False,
            read_only=True,
            raise_exceptions=False,
        )
        try:
            connection.open()
            if self.start_tls:
                connection.start_tls()
            if not connection.bind():
                who = f"as {auth.bind_dn}" if auth.enabled else "anonymously"
                raise DirectoryUnavailable(
                    f"the LDAP server {self.url} refused to bind {who}: "
                    f"{connection.result.get('description')}"
                )
        except BaseException:
            _dispose(connection)
            raise
        return connection

    def _search_user(self, connection: Connection, base: str, username: str) -> Any | None:
        settings = self.settings
        extra = settings.filter.strip()
        if extra and not extra.startswith("("):
            extra = f"({extra})"
        query = f"(&({settings.uid}={escape_filter_chars(username)}){extra})"
        attributes = [settings.uid]
        if settings.guess_email.enabled and settings.guess_email.attr:
            attributes.append(settings.guess_email.attr)
        connection.search(base, query, SUBTREE, attributes=attributes, size_limit=2)
        code = connection.result.get("result")
        if code == _NO_SUCH_OBJECT:
            return None
        if code == _SIZE_LIMIT_EXCEEDED:
            raise DirectoryUnavailable(f"several LDAP entries under {base} match this user name")
        if code != _SUCCESS:
            raise DirectoryUnavailable(
                f"the LDAP search under {base} failed: {connection.result.get('description')}"
            )
        entries = [r for r in connection.response or [] if r.get("type") == "searchResEntry"]
        if len(entries) > 1:
            raise DirectoryUnavailable(f"several LDAP entries under {base} match this user name")
        return entries[0] if entries else None

    def _lookup(self, connection: Connection, username: str) -> DirectoryUser | None:
        """Under `admin_base` first (its users are administrators), then under `base`."""
        settings = self.settings
        bases: list[tuple[str, bool]] = []
        if settings.admin_base:
            bases.append((settings.admin_base, True))
        bases.append((settings.base, False))
        for base, admin in bases:
            entry = self._search_user(connection, base, username)
            if entry is not None:
                dn = entry["dn"]
                admin = admin or bool(settings.admin_base and dn_within(dn, settings.admin_base))
                return self._user(entry, admin)
        return None

    def _user(self, entry: dict[str, Any], admin: bool) -> DirectoryUser:
        settings = self.settings
        attributes = entry.get("attributes") or {}
        names = _values(attributes, settings.uid)
        dn: str = entry["dn"]
        username = names[0] if names else normalized_dn(dn)[0][1]
        email: str | None = None
        if settings.guess_email.enabled:
            if settings.guess_email.attr:
                found = _values(attributes, settings.guess_email.attr)
                email = found[0] if found else None
            else:
                email = email_from_dn(username, dn)
        return DirectoryUser(dn=dn, username=username, email=email, admin=admin)

    def _authenticate(self, username: str, password: str) -> DirectoryUser | None:
        def work() -> DirectoryUser | None:
            connection = self._connection()
            try:
                found = self._lookup(connection, username)
                if found is None:
                    return None
                try:
                    bound = connection.rebind(user=found.dn, password=password)
                except LDAPException:
                    bound = False
                if bound:
                    return found
                if connection.result.get("result") not in (None, _INVALID_CREDENTIALS):
                    raise DirectoryUnavailable(
                        f"the LDAP server {self.url} refused the bind: "
                        f"{connection.result.get('description')}"
                    )
                raise InvalidCredentials("wrong password for the directory user")
            finally:
                _dispose(connection)

        return self._guard(work)

    def _find(self, username: str) -> DirectoryUser | None:
        def work() -> DirectoryUser | None:
            connection = self._connection()
            try:
                return self._lookup(connection, username)
            finally:
                _dispose(connection)

        return self._guard(work)

    def _check(self) -> None:
        def work() -> None:
            _dispose(self._connection())

        self._guard(work)

    def _groups(self) -> list[DirectoryGroup]:
        def work() -> list[DirectoryGroup]:
            connection = self._connection()
            try:
                entries = connection.extend.standard.paged_search(
                    self.settings.group_base,
                    GROUP_FILTER,
                    SUBTREE,
                    attributes=["cn", "member", "uniqueMember"],
                    paged_size=GROUP_PAGE_SIZE,
                    generator=False,
                )
                code = connection.result.get("result")
                if code not in (_SUCCESS, _NO_SUCH_OBJECT):
                    raise DirectoryUnavailable(
                        f"the LDAP group search under {self.settings.group_base} failed: "
                        f"{connection.result.get('description')}"
                    )
                resolved: dict[str, str | None] = {}
                groups = []
                for entry in entries or []:
                    if entry.get("type") != "searchResEntry":
                        continue
                    attributes = entry.get("attributes") or {}
                    names = _values(attributes, "cn")
                    if not names:
                        continue
                    members = set()
                    for member in [
                        *_values(attributes, "member"),
                        *_values(attributes, "uniqueMember"),
                    ]:
                        name = self._member_name(connection, member, resolved)
                        if name:
                            members.add(name.lower())
                    groups.append(DirectoryGroup(name=names[0], members=frozenset(members)))
                return groups
            finally:
                _dispose(connection)

        return self._guard(work)

    def _member_name(
        self, connection: Connection, member: str, resolved: dict[str, str | None]
    ) -> str | None:
        """A member DN's user name: its first RDN when that is the `uid` attribute, else the
        entry's `uid` attribute (looked up once per DN per pass)."""
        dn = member.split("#", 1)[0] if "#'" in member else member  # uniqueMember's optional uid
        if dn in resolved:
            return resolved[dn]
        name: str | None = None
        try:
            rdns = parse_dn(dn)
        except LDAPException:
            rdns = []
        if rdns and rdns[0][0].strip().lower() == self.settings.uid.lower():
            name = rdns[0][1]
        elif rdns:
            connection.search(dn, "(objectClass=*)", BASE, attributes=[self.settings.uid])
            for entry in connection.response or []:
                if entry.get("type") == "searchResEntry":
                    values = _values(entry.get("attributes") or {}, self.settings.uid)
                    name = values[0] if values else None
        resolved[dn] = name
        return name


def _dispose(connection: Connection) -> None:
    """Unbind, and close the socket even when opening it failed (ldap3 leaves it open)."""
    with contextlib.suppress(LDAPException, OSError):
        connection.unbind()
    sock = getattr(connection, "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()


def _values(attributes: dict[str, Any], name: str) -> list[str]:
    """An attribute's values as strings, whatever the case of its name in the answer."""
    for key, value in attributes.items():
        if key.lower() == name.lower():
            if isinstance(value, list | tuple):
                return [str(v) for v in value]
            return [str(value)] if value not in (None, "") else []
    return []
