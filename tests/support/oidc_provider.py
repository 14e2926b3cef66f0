"""A real OpenID Connect provider for the tests: the LemonLDAP::NG portal (Debian's 2.16).

The portal's PSGI app runs under ``plackup`` (Plack's single-process server) on a free
loopback port, from a throwaway directory holding everything it reads and writes: the
``lemonldap-ng.ini`` (found through ``LLNG_DEFAULTCONFFILE``), the ``File`` configuration
backend's ``lmConf-1.json``, the session stores and the log. The configuration makes the
portal an OIDC provider whose issuer is its own URL, signing RS256 with a key generated
here, with the relying parties the test asks for, and users from LLNG's ``Demo`` backend:
``dwho``, ``rtyler`` and ``msmith``, each with their user name as password; or, given an
``LdapBackend``, from an LDAP directory (e.g. the suite's ``tests.support.slapd.Slapd``).

Claims: ``sub`` (the user name), ``email``, ``name``, ``preferred_username`` and ``groups``
(a list: dwho is in ``timelords`` and ``users``), in the ID token as well as from userinfo.

Use (one provider per module or session: it starts in under a second)::

    client = OidcClient("portus", "secret", ("http://127.0.0.1:3000/oauth/callback",))

    @pytest.fixture(scope="module")
    def provider(tmp_path_factory):
        with LemonLdapProvider(tmp_path_factory.mktemp("llng"), clients=[client]) as server:
            yield server  # server.issuer, server.discovery_url

    callback = provider.login(httpx.Client(trust_env=False), authorization_url)  # as dwho

``login`` returns the redirect to the relying party (``...?state=...&code=...``) without
requesting it; ``submit_login`` returns the portal's answer to one form post (the form again,
with message 5, on a wrong password).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import urljoin

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.tools import free_port, require_tool

PORTAL_PSGI = Path("/usr/share/lemonldap-ng/portal/htdocs/index.psgi")
PORTAL_TEMPLATES = Path("/usr/share/lemonldap-ng/portal/templates")

DEMO_USERS: dict[str, dict[str, object]] = {
    "dwho": {
        "name": "Doctor Who",
        "email": "dwho@badwolf.org",
        "groups": ["timelords", "users"],
    },
    "rtyler": {
        "name": "Rose Tyler",
        "email": "rtyler@badwolf.org",
        "groups": ["earthlings", "users"],
    },
    "msmith": {
        "name": "Mickey Smith",
        "email": "msmith@badwolf.org",
        "groups": ["earthlings", "users"],
    },
}
"""LLNG's built-in Demo accounts (password = user name) and the claims the provider gives."""

START_TIMEOUT = 30.0


@dataclass(frozen=True)
class OidcClient:
    """A relying party registered at the provider.

    ``client_secret=None`` makes a public client (no client authentication at the token
    endpoint). With ``require_pkce`` (the default) the provider refuses an authorization
    request without ``code_challenge`` and a token request whose ``code_verifier`` does not
    match it; without it LLNG 2.16 ignores PKCE altogether.
    """

    client_id: str
    client_secret: str | None
    redirect_uris: tuple[str, ...]
    require_pkce: bool = True


@dataclass(frozen=True)
class LdapBackend:
    """Authenticate against an LDAP directory instead of the Demo accounts.

    Users are ``inetOrgPerson`` entries under ``base`` found by ``uid``; their ``cn`` and
    ``mail`` become the ``name`` and ``email`` claims. With ``group_base``, the ``cn`` of
    every ``groupOfNames`` there whose ``member`` is the user's DN becomes ``groups``.
    """

    url: str
    base: str
    bind_dn: str = ""
    bind_password: str = ""
    group_base: str | None = None


class LoginFailed(AssertionError):
    """The portal did not send the browser back to the relying party."""

    def __init__(self, message: str, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


def require_lemonldap() -> str:
    """``plackup``'s path once the LLNG portal is installed; skip locally, fail in CI."""
    if not PORTAL_PSGI.is_file():
        message = (
            f"LemonLDAP::NG portal not installed ({PORTAL_PSGI} missing): install the"
            " liblemonldap-ng-portal-perl, libplack-perl and lib*-perl packages .ci/test lists"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return require_tool("plackup")


def _rsa_key_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class _FormParser(HTMLParser):
    """Collects the portal's login form: its action and every named input's value."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._current: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._current = {}
            self.forms.append((attributes.get("action", ""), self._current))
        elif tag == "input" and self._current is not None and attributes.get("name"):
            self._current[attributes["name"]] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def login_form(html: str) -> tuple[str, dict[str, str]] | None:
    """The (action, fields) of the page's form with a ``password`` field, if any."""
    parser = _FormParser()
    parser.feed(html)
    for action, fields in parser.forms:
        if "password" in fields:
            return action, fields
    return None


class LemonLdapProvider:
    """The LemonLDAP::NG portal as an OIDC provider on ``http://127.0.0.1:<port>``.

    ``start()`` waits until the discovery document answers; ``stop()`` kills the server's
    whole process group. The key pair is made once per instance, so a restart keeps the
    JWKS.
    """

    def __init__(
        self,
        workdir: Path | None = None,
        port: int | None = None,
        clients: Sequence[OidcClient] = (),
        *,
        ldap: LdapBackend | None = None,
        log_level: str = "notice",
    ) -> None:
        self._owned: tempfile.TemporaryDirectory[str] | None = None
        if workdir is None:
            self._owned = tempfile.TemporaryDirectory(prefix="llng-")
            workdir = Path(self._owned.name)
        self.workdir = workdir
        self.port = port if port is not None else free_port()
        self.clients = tuple(clients)
        self.ldap = ldap
        self.log_level = log_level
        self.key_id = "test-rs256"
        self.private_key_pem, self.public_key_pem = _rsa_key_pair()
        self.log_path = workdir / "portal.log"
        self.start_seconds: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's pid, also its process group's id; None when stopped."""
        return self._process.pid if self._process is not None else None

    def _lm_conf(self) -> dict[str, object]:
        work = self.workdir
        options: dict[str, dict[str, object]] = {}
        exported: dict[str, dict[str, str]] = {}
        for number, client in enumerate(self.clients, start=1):
            rp = f"rp{number}"
            options[rp] = {
                "oidcRPMetaDataOptionsClientID": client.client_id,
                "oidcRPMetaDataOptionsClientSecret": client.client_secret or "",
                "oidcRPMetaDataOptionsPublic": int(client.client_secret is None),
                "oidcRPMetaDataOptionsRedirectUris": " ".join(client.redirect_uris),
                "oidcRPMetaDataOptionsRequirePKCE": int(client.require_pkce),
                "oidcRPMetaDataOptionsIDTokenSignAlg": "RS256",
                "oidcRPMetaDataOptionsIDTokenForceClaims": 1,
                "oidcRPMetaDataOptionsBypassConsent": 1,
                "oidcRPMetaDataOptionsUserIDAttr": "uid",
                "oidcRPMetaDataOptionsDisplayName": client.client_id,
            }
            exported[rp] = {
                "email": "mail",
                "name": "cn",
                "preferred_username": "uid",
                # type string, always an array; the Demo backend joins groups with ";"
                "groups": "groups;string;always",
            }

        def storage(name: str) -> dict[str, str]:
            return {
                "Directory": str(work / name),
                "LockDirectory": str(work / name / "lock"),
                "generateModule": "Lemonldap::NG::Common::Apache::Session::Generate::SHA256",
            }

        return {
            "cfgNum": 1,
            "cfgVersion": "2.16.1",
            "cfgAuthor": "tests",
            "cfgDate": str(int(time.time())),
            **self._users_conf(),
            "exportedVars": {},
            "macros": {},
            "groups": {},
            "whatToTrace": "uid",
            "portal": f"{self.url}/",
            "domain": "127.0.0.1",
            "cookieName": "lemonldap",
            "securedCookie": 0,
            "timeout": 72000,
            "portalSkin": "bootstrap",
            "loginHistoryEnabled": 0,
            "notification": 0,
            "locationRules": {"127.0.0.1": {"default": "accept"}},
            "globalStorage": "Apache::Session::File",
            "globalStorageOptions": storage("sessions"),
            "persistentStorage": "Apache::Session::File",
            "persistentStorageOptions": storage("psessions"),
            "localSessionStorage": "Cache::FileCache",
            "localSessionStorageOptions": {
                "cache_root": str(work / "cache"),
                "cache_depth": 3,
                "default_expires_in": 600,
                "directory_umask": "007",
                "namespace": "lemonldap-ng-sessions",
            },
            "issuerDBOpenIDConnectActivation": 1,
            "oidcServiceMetaDataIssuer": self.issuer,
            "oidcServicePrivateKeySig": self.private_key_pem,
            "oidcServicePublicKeySig": self.public_key_pem,
            "oidcServiceKeyIdSig": self.key_id,
            "oidcServiceAllowAuthorizationCodeFlow": 1,
            "oidcServiceIgnoreScopeForClaims": 1,
            "oidcRPMetaDataOptions": options,
            "oidcRPMetaDataExportedVars": exported,
        }

    def _users_conf(self) -> dict[str, object]:
        """Where users come from: the Demo accounts, or ``self.ldap``."""
        if self.ldap is None:
            return {
                "authentication": "Demo",
                "userDB": "Same",
                "passwordDB": "Demo",
                "registerDB": "Null",
                "demoExportedVars": {"cn": "cn", "mail": "mail", "uid": "uid"},
            }
        ldap = self.ldap
        conf: dict[str, object] = {
            "authentication": "LDAP",
            "userDB": "Same",
            "passwordDB": "LDAP",
            "registerDB": "Null",
            "ldapServer": ldap.url,
            "ldapBase": ldap.base,
            "managerDn": ldap.bind_dn,
            "managerPassword": ldap.bind_password,
            "AuthLDAPFilter": "(&(uid=$user)(objectClass=inetOrgPerson))",
            "ldapExportedVars": {"uid": "uid", "cn": "cn", "mail": "mail"},
            "ldapTimeout": 5,
            "ldapUsePasswordResetAttribute": 0,
        }
        if ldap.group_base is not None:
            conf.update(
                {
                    "ldapGroupBase": ldap.group_base,
                    "ldapGroupObjectClass": "groupOfNames",
                    "ldapGroupAttributeName": "member",
                    "ldapGroupAttributeNameUser": "dn",
                    "ldapGroupAttributeNameSearch": "cn",
                }
            )
        return conf

    def _write_config(self) -> Path:
        conf = self.workdir / "conf"
        for directory in (conf, self.workdir / "cache"):
            directory.mkdir(parents=True, exist_ok=True)
        for name in ("sessions", "psessions"):
            (self.workdir / name / "lock").mkdir(parents=True, exist_ok=True)
        (conf / "lmConf-1.json").write_text(json.dumps(self._lm_conf(), indent=1))
        ini = self.workdir / "lemonldap-ng.ini"
        ini.write_text(
            "\n".join(
                [
                    "[all]",
                    f"logLevel = {self.log_level}",
                    "checkTime = 600",
                    "[configuration]",
                    "type = File",
                    f"dirName = {conf}",
                    "[portal]",
                    "staticPrefix = /static",
                    f"templateDir = {PORTAL_TEMPLATES}",
                    "languages = en",
                    "",
                ]
            )
        )
        return ini

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Write the configuration, start the portal and wait for its discovery document."""
        if self.running:
            return
        plackup = require_lemonldap()
        began = time.monotonic()
        ini = self._write_config()
        env = dict(os.environ)
        env["LLNG_DEFAULTCONFFILE"] = str(ini)
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                plackup,
                "-E",
                "deployment",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--app",
                str(PORTAL_PSGI),
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        try:
            self._wait_ready(timeout)
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n--- portal log ---\n{self._log_excerpt()}") from exc
        self.start_seconds = time.monotonic() - began

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no attempt made"
        with httpx.Client(trust_env=False, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    code = None if self._process is None else self._process.returncode
                    raise RuntimeError(f"LemonLDAP::NG portal exited with code {code}")
                try:
                    response = client.get(self.discovery_url)
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code == 200:
                        return
                    if response.status_code >= 500:
                        # the portal is up but could not load its configuration (the log
                        # says why: "Initialization failed", a missing Perl module, ...)
                        raise RuntimeError(
                            f"{self.discovery_url} answered HTTP {response.status_code}"
                        )
                    last = f"HTTP {response.status_code}"
                time.sleep(0.05)
        raise RuntimeError(f"{self.discovery_url} not ready within {timeout:.0f}s ({last})")

    def stop(self) -> None:
        """SIGTERM the server's process group, SIGKILL after 5 s; safe to call twice."""
        process, self._process = self._process, None
        if process is not None:
            _kill_group(process)
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Stop, and remove the working directory if this instance made it."""
        self.stop()
        if self._owned is not None:
            self._owned.cleanup()
            self._owned = None

    def _log_excerpt(self, limit: int = 6000) -> str:
        """The log's head (where a failed start names its cause) and its tail."""
        text = self.log_text()
        if len(text) <= limit:
            return text
        return f"{text[: limit // 2]}\n[...]\n{text[-limit // 2 :]}"

    def log_text(self) -> str:
        if self._log is not None:
            self._log.flush()
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def submit_login(
        self, client: httpx.Client, authorization_url: str, username: str, password: str
    ) -> httpx.Response:
        """Open ``authorization_url`` and post the portal's login form; return the answer.

        Redirects inside the portal are followed; the answer is either the redirect to the
        relying party (3xx with ``Location``) or a page (the login form again on failure).
        """
        response = self._follow(client, client.get(authorization_url, follow_redirects=False))
        form = login_form(response.text)
        if form is None:
            raise LoginFailed(
                f"no login form at {response.url} (HTTP {response.status_code})", response
            )
        action, fields = form
        fields.update({"user": username, "password": password})
        target = urljoin(str(response.url), action) if action else str(response.url)
        return self._follow(client, client.post(target, data=fields, follow_redirects=False))

    def login(
        self,
        client: httpx.Client,
        authorization_url: str,
        username: str = "dwho",
        password: str | None = None,
    ) -> str:
        """Log ``username`` in and return the callback URL.

        ``password`` defaults to the user name: the Demo accounts' password.

        The callback (a registered redirect URI with ``code`` and ``state``) is returned,
        never requested. ``client`` keeps the portal's cookie, so a second authorization in
        the same client skips the form and goes straight back.

        After a *failed* login, use a fresh client: LLNG 2.16 keeps the abandoned
        authorization request in its ``lemonldappdata`` cookie, and the next login in that
        client completes the abandoned request (its state, nonce and code challenge), not
        the new one.
        """
        response = self._follow(client, client.get(authorization_url, follow_redirects=False))
        if not self._is_portal(response):
            return str(response.headers["location"])
        response = self.submit_login(
            client,
            str(response.url),
            username,
            username if password is None else password,
        )
        if self._is_portal(response):
            raise LoginFailed(
                f"login as {username!r} did not return to the relying party"
                f" (HTTP {response.status_code} at {response.url})",
                response,
            )
        return str(response.headers["location"])

    def _is_portal(self, response: httpx.Response) -> bool:
        """True unless the answer redirects away from the portal (to a relying party)."""
        if not response.is_redirect:
            return True
        target = urljoin(str(response.url), response.headers["location"])
        return target.startswith(f"{self.url}/")

    def _follow(self, client: httpx.Client, response: httpx.Response) -> httpx.Response:
        """Follow redirects while they stay on the portal (at most 10)."""
        for _ in range(10):
            if not response.is_redirect or not self._is_portal(response):
                return response
            target = urljoin(str(response.url), response.headers["location"])
            response = client.get(target, follow_redirects=False)
        raise LoginFailed(f"too many redirects inside the portal ({response.url})", response)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process's group, SIGKILL after 5 s, then SIGKILL whatever is left.

    ``start_new_session=True`` made the process the leader of its own group, so the group's
    id is its pid, and every child it started (a forking ``plackup -s`` server's workers)
    is in that group.
    """
    group = process.pid
    _signal_group(group, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _signal_group(group, signal.SIGKILL)
        process.wait(timeout=5)
    _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, sig)
