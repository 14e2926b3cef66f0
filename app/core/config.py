"""Settings: Portus 2.4's `config.yml` key tree, from YAML and `PORTUS_*` environment variables.

Precedence (highest first): keyword arguments (tests), `PORTUS_<KEY_PATH>` environment variables,
the YAML file named by `PORTUS_CONFIG` (default `./config.yml`), built-in defaults.

A relative path read from the YAML file (`data_dir`, `key_path`, ...; see `PATH_KEYS`) is relative
to the file's folder, and so is the default `data_dir` when a file is read; a relative path from
a variable or a keyword argument is relative to the working folder. Either way `data_dir` ends up
absolute, so every command finds the same data whatever folder it runs in.

pydantic-settings' own nested env parsing cannot read Portus names such as
`PORTUS_DELETE_GARBAGE_COLLECTOR_OLDER_THAN` (the delimiter `_` also appears inside key names), so a
custom source walks the model's field paths and builds each variable name from the path.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

logger = logging.getLogger(__name__)

ENV_PREFIX = "PORTUS_"
# Variables that configure how settings are found, or the tooling, rather than a key of the tree.
NON_KEY_VARIABLES = {"PORTUS_CONFIG", "PORTUS_LOCAL_CONFIG_PATH"}
# PORTUS_BUILD_UI is setup.py's (npm or not when building the package).
NON_KEY_PREFIXES = ("PORTUS_TEST_", "PORTUS_BENCH_", "PORTUS_BUILD_")


# Keys that hold a file or folder path.
PATH_KEYS: tuple[tuple[str, ...], ...] = (
    ("data_dir",),
    ("key_path",),
    ("certificate_path",),
    ("ui", "directory"),
    ("email", "smtp", "ca_path"),
    ("email", "smtp", "ca_file"),
    ("ldap", "encryption", "options", "ca_file"),
)
# Top-level keys of distribution's own config.yml that Portus's tree does not have: a file with
# any of them is the registry's configuration, read by mistake (both are called config.yml).
REGISTRY_CONFIG_KEYS = ("version", "storage", "http")


class ConfigError(Exception):
    """A configuration value that prevents start-up. The message names the key and the problem."""


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Enabled(_Node):
    enabled: bool = False


class EnabledTrue(_Node):
    enabled: bool = True


# --- email ---------------------------------------------------------------------------------------
class SmtpSettings(_Node):
    enabled: bool = False
    address: str = "smtp.example.com"
    port: int = Field(587, ge=1, le=65535)
    domain: str = "example.com"
    ssl_tls: Literal["", "ssl", "tls"] = ""
    enable_starttls_auto: bool = False
    openssl_verify_mode: Literal["none", "peer"] = "none"
    ca_path: str = ""
    ca_file: str = ""
    user_name: str = ""
    password: SecretStr = SecretStr("")
    authentication: Literal["login", "plain", "cram_md5"] = "login"


class EmailSettings(_Node):
    from_: str = Field("portus@example.com", alias="from")
    name: str = "Portus"
    reply_to: str = ""
    smtp: SmtpSettings = SmtpSettings()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- delete --------------------------------------------------------------------------------------
class GarbageCollectorSettings(_Node):
    enabled: bool = False
    older_than: int = Field(30, ge=0, description="days since the last push and the last pull")
    keep_latest: int = Field(5, ge=0, description="newest tags kept in each repository")
    tag: str = Field("", description="regular expression (searched); empty: every tag")
    # New key: seconds between two passes (Portus: 60), across all processes.
    interval: int = Field(60, ge=1)

    @field_validator("tag")
    @classmethod
    def _tag_is_a_regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class DeleteSettings(_Node):
    enabled: bool = True
    contributors: bool = False
    garbage_collector: GarbageCollectorSettings = GarbageCollectorSettings()


# --- ldap ----------------------------------------------------------------------------------------
LDAP_SSL_VERSIONS = ("TLSv1", "TLSv1_1", "TLSv1_2", "TLSv1_3", "SSLv23", "TLS")


class LdapEncryptionOptions(_Node):
    ca_file: str = ""
    # The lowest TLS version accepted; SSLv23/TLS: the library's default.
    ssl_version: str = "TLSv1_2"

    @field_validator("ssl_version")
    @classmethod
    def _known_version(cls, value: str) -> str:
        if value and value.lower() not in {v.lower() for v in LDAP_SSL_VERSIONS}:
            raise ValueError(f"must be one of {', '.join(LDAP_SSL_VERSIONS)} (got {value!r})")
        return value


class LdapEncryption(_Node):
    method: Literal["", "simple_tls", "start_tls", "starttls"] = ""
    options: LdapEncryptionOptions = LdapEncryptionOptions()


class LdapAuthentication(_Node):
    enabled: bool = False
    bind_dn: str = ""
    password: SecretStr = SecretStr("")


class LdapGroupSync(_Node):
    enabled: bool = True
    default_role: Literal["viewer", "contributor", "owner"] = "viewer"


class LdapGuessEmail(_Node):
    enabled: bool = False
    attr: str = ""


class LdapSettings(_Node):
    enabled: bool = False
    hostname: str = "ldap_hostname"
    port: int = Field(389, ge=1, le=65535)
    timeout: int = Field(5, ge=1)
    encryption: LdapEncryption = LdapEncryption()
    base: str = ""
    admin_base: str = ""
    group_base: str = ""
    filter: str = ""
    uid: str = "uid"
    authentication: LdapAuthentication = LdapAuthentication()
    group_sync: LdapGroupSync = LdapGroupSync()
    guess_email: LdapGuessEmail = LdapGuessEmail()


# --- oauth (keys kept for compatibility with Portus config files) --------------------------------
def _refuse_incomplete(section: str, node: Any, **required: str | SecretStr) -> None:
    """An enabled sign-in provider needs its client's credentials (and the like)."""
    if not node.enabled:
        return
    missing = [
        key
        for key, value in required.items()
        if not (value.get_secret_value() if isinstance(value, SecretStr) else value)
    ]
    if missing:
        raise ValueError(f"oauth.{section} needs {', '.join(missing)} when enabled")


class GoogleOAuthOptions(_Node):
    hd: str = Field(
        "",
        description="a Google Workspace domain: only its accounts may sign in (the ID token's hd)",
    )


class GoogleOAuth(_Node):
    """Sign in with Google (an OAuth client of type "Web application"; its redirect URI:
    `<public_url>/api/v1/oauth/google_oauth2/callback`), as OpenID Connect. `domain` (of the
    verified e-mail address) and `options.hd` restrict who may."""

    enabled: bool = False
    id: str = Field("", description="the client id")
    secret: SecretStr = SecretStr("")
    domain: str = ""
    options: GoogleOAuthOptions = GoogleOAuthOptions()
    issuer: str = Field(
        "https://accounts.google.com",
        description="beyond Portus: Google's OpenID Connect issuer (tests point it elsewhere)",
    )

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> GoogleOAuth:
        _refuse_incomplete("google_oauth2", self, id=self.id, secret=self.secret)
        return self


class OpenIdSettings(_Node):
    """OpenID 2.0, which no provider serves any more: the key is read (Portus config files have
    it), and enabling it is refused."""

    enabled: bool = False
    identifier: str = ""
    domain: str = ""

    @model_validator(mode="after")
    def _not_enabled(self) -> OpenIdSettings:
        if self.enabled:
            raise ValueError(
                "oauth.open_id is OpenID 2.0, which no provider serves any more: use "
                "oauth.openid_connect (issuer, identifier, secret) instead"
            )
        return self


class OpenIdConnectSettings(_Node):
    """Any OpenID Connect provider, from its discovery document (`<issuer>/.well-known/
    openid-configuration`). The redirect URI to register there: `<public_url>/api/v1/oauth/
    openid_connect/callback`."""

    enabled: bool = False
    issuer: str = ""
    identifier: str = Field("", description="the client id")
    secret: SecretStr = SecretStr("")
    label: str = Field(
        "OpenID Connect", description="beyond Portus: the sign-in button's provider name"
    )
    groups_claim: str = Field(
        "",
        description="beyond Portus: the ID token claim listing the person's groups (e.g. "
        "groups); at each sign-in they join the teams of those names. Empty: off",
    )
    groups_role: Literal["viewer", "contributor", "owner"] = Field(
        "viewer", description="their role in a team they join that way"
    )
    groups_filter: str = Field(
        "",
        description="a regular expression: only groups it matches whole are used (e.g. "
        "registry-.*); empty: all",
    )

    @field_validator("groups_filter")
    @classmethod
    def _a_regular_expression(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"groups_filter is not a regular expression: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> OpenIdConnectSettings:
        _refuse_incomplete(
            "openid_connect",
            self,
            issuer=self.issuer,
            identifier=self.identifier,
            secret=self.secret,
        )
        if self.enabled and not self.issuer.startswith(("https://", "http://")):
            raise ValueError("oauth.openid_connect.issuer must be an http(s) URL")
        return self


class GithubOAuth(_Node):
    """Sign in with GitHub (an OAuth app; its callback URL: `<public_url>/api/v1/oauth/github/
    callback`). `organization`, `team` (of that organization) and `domain` (of the primary
    e-mail address) restrict who may."""

    enabled: bool = False
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    organization: str = ""
    team: str = ""
    domain: str = ""
    server: str = Field(
        "", description="beyond Portus: a GitHub Enterprise URL (empty: github.com)"
    )

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> GithubOAuth:
        _refuse_incomplete(
            "github", self, client_id=self.client_id, client_secret=self.client_secret
        )
        return self


class GitlabOAuth(_Node):
    enabled: bool = False
    application_id: str = ""
    secret: SecretStr = SecretStr("")
    group: str = ""
    domain: str = ""
    server: str = ""

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> GitlabOAuth:
        _refuse_incomplete("gitlab", self, application_id=self.application_id, secret=self.secret)
        return self


class BitbucketOptions(_Node):
    team: str = Field(
        "", description="a workspace (Bitbucket's teams became workspaces): only its members"
    )


class BitbucketOAuth(_Node):
    """Sign in with Bitbucket Cloud (an OAuth consumer with the Account and Email read
    permissions; its callback URL: `<public_url>/api/v1/oauth/bitbucket/callback`)."""

    enabled: bool = False
    key: str = ""
    secret: SecretStr = SecretStr("")
    domain: str = ""
    options: BitbucketOptions = BitbucketOptions()
    server: str = Field(
        "https://bitbucket.org",
        description="beyond Portus: where the OAuth endpoints are (tests point it elsewhere)",
    )
    api: str = Field(
        "https://api.bitbucket.org/2.0",
        description="beyond Portus: Bitbucket's REST API 2.0 (tests point it elsewhere)",
    )

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> BitbucketOAuth:
        _refuse_incomplete("bitbucket", self, key=self.key, secret=self.secret)
        return self


class OAuthSettings(_Node):
    local_login: EnabledTrue = EnabledTrue()
    google_oauth2: GoogleOAuth = GoogleOAuth()
    open_id: OpenIdSettings = OpenIdSettings()
    openid_connect: OpenIdConnectSettings = OpenIdConnectSettings()
    github: GithubOAuth = GithubOAuth()
    gitlab: GitlabOAuth = GitlabOAuth()
    bitbucket: BitbucketOAuth = BitbucketOAuth()


# --- registry ------------------------------------------------------------------------------------
class JwtExpiration(_Node):
    value: int = Field(15, ge=1, description="minutes")


class CatalogPage(_Node):
    value: int = Field(100, ge=1)


class RegistryTimeout(_Node):
    value: float = Field(2, gt=0, description="seconds")


class RegistryReadTimeout(_Node):
    value: float = Field(120, gt=0, description="seconds")


class RegistrySettings(_Node):
    jwt_expiration_time: JwtExpiration = JwtExpiration()
    catalog_page: CatalogPage = CatalogPage()
    timeout: RegistryTimeout = RegistryTimeout()
    read_timeout: RegistryReadTimeout = RegistryReadTimeout()


class MachineFqdn(_Node):
    value: str = Field("portus.test.lan", min_length=1)


# --- user permissions ----------------------------------------------------------------------------
PushPolicy = Literal["allow-teams", "allow-personal", "admin-only"]


class PushImages(_Node):
    policy: PushPolicy = "allow-teams"


class UserPermissionSettings(_Node):
    change_visibility: EnabledTrue = EnabledTrue()
    create_team: EnabledTrue = EnabledTrue()
    manage_team: EnabledTrue = EnabledTrue()
    create_namespace: EnabledTrue = EnabledTrue()
    manage_namespace: EnabledTrue = EnabledTrue()
    create_webhook: EnabledTrue = EnabledTrue()
    manage_webhook: EnabledTrue = EnabledTrue()
    push_images: PushImages = PushImages()


# --- security scanners (keys only) ---------------------------------------------------------------
class ClairSettings(_Node):
    server: str = ""
    health_port: int = 6061
    timeout: int = 900


class ServerOnly(_Node):
    server: str = ""


class SecuritySettings(_Node):
    clair: ClairSettings = ClairSettings()
    zypper: ServerOnly = ServerOnly()
    dummy: ServerOnly = ServerOnly()


# --- background ----------------------------------------------------------------------------------
class SyncSettings(_Node):
    enabled: bool = True
    strategy: Literal["initial", "on-start", "update", "update-delete"] = "initial"
    # New key: seconds between two passes of `update` and `update-delete` (Portus: 20), across
    # all processes; `initial` and `on-start` run once when a process starts.
    interval: int = Field(20, ge=1)


class BackgroundSettings(_Node):
    # New key. true: `portus serve` runs the background tasks itself (the single-machine
    # default); false: they run in `portus worker` processes (any number, PostgreSQL only).
    in_process: bool = True
    registry: EnabledTrue = EnabledTrue()
    sync: SyncSettings = SyncSettings()


class PaginationSettings(_Node):
    per_page: int = Field(10, ge=1, le=1000)
    before_after: int = Field(2, ge=0)


# --- keys new in this implementation -------------------------------------------------------------
class NotificationSettings(_Node):
    # The registry sends it as `Authorization: Bearer <secret>` (see `portus registry-config`).
    # Empty: generated once and kept in the data directory.
    secret: SecretStr = SecretStr("")


class LoginRateLimitSettings(_Node):
    # Password attempts and failed /v2/token authentications counted per client address; past
    # `attempts` in `window` seconds, that client's password logins answer 429 until the window
    # ends. Per account: `account_attempts` wrong passwords from one address lock that address
    # (only) out of that account for `window`; from `delay_after` wrong passwords on (from any
    # address), the account's password logins wait `delay_base` seconds, doubling per further
    # failure up to `delay_max` (a 429 with Retry-After), except from the account's known
    # addresses (a right password from there within `known_days`), so that a stranger who keeps
    # guessing cannot keep the owner out. Application and refresh tokens are never refused by
    # any of it (guessing one is hopeless).
    enabled: bool = True
    attempts: int = Field(20, ge=1)
    window: int = Field(300, ge=1)
    account_attempts: int = Field(5, ge=1)
    delay_after: int = Field(5, ge=1)
    delay_base: int = Field(1, ge=1, description="seconds")
    delay_max: int = Field(30, ge=1, description="seconds")
    known_days: int = Field(30, ge=0, description="days (0: no address is known)")


class PasswordCheckSettings(_Node):
    # argon2 runs at most `concurrency` at a time (0: half the CPUs, at least one; argon2 uses
    # several threads per hash) on threads of lower CPU priority than the request loop; up to
    # `queue` more wait their turn, and past that a password login answers 503 with Retry-After.
    concurrency: int = Field(0, ge=0, le=256)
    queue: int = Field(32, ge=0, le=10_000)


class RequestLimitsSettings(_Node):
    """Largest request body accepted, in bytes, per route class; larger ones get a 413 (read no
    further than the limit, so a burst of huge bodies cannot exhaust memory)."""

    # The REST API, /v2/token and everything else: JSON of a few fields (a description of up to
    # 65,535 characters is the largest, ~400 KB when every character is escaped).
    api: int = Field(1024 * 1024, ge=1024)
    # The registry's notifications: envelopes of up to `threshold` events of ~1 KB each.
    events: int = Field(16 * 1024 * 1024, ge=1024)


class WebhookSettings(_Node):
    """Outgoing namespace webhooks: how long one request may take, and how failures are retried
    (attempt n waits `backoff_base * 2**(n-1)` seconds, at most `backoff_max`)."""

    timeout: float = Field(10, gt=0, le=600, description="seconds per request")
    max_attempts: int = Field(6, ge=1, le=100)
    backoff_base: float = Field(10, gt=0, description="seconds")
    backoff_max: float = Field(3600, gt=0, description="seconds")
    # Off: a webhook whose host resolves to a loopback, private, link-local or otherwise
    # non-public address is not sent to (as GitLab does), so that namespace owners cannot make
    # the service probe its own network and read the answers in the delivery log.
    allow_local_network: bool = False
    # One namespace must not stall the others: the sender takes turns between webhooks (one
    # request in flight per webhook), sends up to `concurrency` at once per process, and a
    # namespace has at most `max_per_namespace` webhooks.
    concurrency: int = Field(8, ge=1, le=256, description="requests in flight per process")
    max_per_namespace: int = Field(10, ge=1, le=1000)
    # Deliveries (with their attempt logs) are deleted this many days after they were created.
    keep_delivered_days: int = Field(30, ge=1)
    keep_failed_days: int = Field(90, ge=1)


class UiSettings(_Node):
    """The web UI `portus serve` serves at `/` (`app.core.resources.ui_directory`)."""

    enabled: bool = True
    directory: str = Field("", description="the build (index.html, assets/); empty: found")


class MetricsSettings(_Node):
    """Prometheus metrics at `/metrics`: off by default; when on, a scraper must send
    `Authorization: Bearer <token>` (compared in constant time)."""

    enabled: bool = False
    token: SecretStr = SecretStr("")

    @model_validator(mode="after")
    def _token_when_enabled(self) -> MetricsSettings:
        if self.enabled and len(self.token.get_secret_value()) < 16:
            raise ValueError("metrics.token must be set (16 characters or more) to enable metrics")
        return self


class LoggingSettings(_Node):
    # text: one human-readable line per record; json: one JSON object per line, with the
    # request id of the request that logged it.
    format: Literal["text", "json"] = "text"


class Settings(BaseSettings):
    """The whole configuration tree. Portus keys first, then the keys this implementation adds."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    email: EmailSettings = EmailSettings()
    gravatar: EnabledTrue = EnabledTrue()
    delete: DeleteSettings = DeleteSettings()
    ldap: LdapSettings = LdapSettings()
    oauth: OAuthSettings = OAuthSettings()
    first_user_admin: EnabledTrue = EnabledTrue()
    signup: EnabledTrue = EnabledTrue()
    check_ssl_usage: EnabledTrue = EnabledTrue()
    registry: RegistrySettings = RegistrySettings()
    machine_fqdn: MachineFqdn = MachineFqdn()
    display_name: Enabled = Enabled()
    user_permission: UserPermissionSettings = UserPermissionSettings()
    security: SecuritySettings = SecuritySettings()
    anonymous_browsing: EnabledTrue = EnabledTrue()
    background: BackgroundSettings = BackgroundSettings()
    pagination: PaginationSettings = PaginationSettings()

    # New keys.
    login_rate_limit: LoginRateLimitSettings = LoginRateLimitSettings()
    password_checks: PasswordCheckSettings = PasswordCheckSettings()
    database_url: str = Field("", description="SQLAlchemy URL; empty: SQLite file in data_dir")
    data_dir: Path = Path("data")
    ui: UiSettings = UiSettings()
    key_path: str = Field(
        "", description="PEM private key signing registry tokens; empty: generated"
    )
    certificate_path: str = Field("", description="PEM certificate of key_path; empty: generated")
    secret_key_base: SecretStr = SecretStr("")
    public_url: str = Field("http://127.0.0.1:3000", description="URL users and the registry use")
    notifications: NotificationSettings = NotificationSettings()
    webhooks: WebhookSettings = WebhookSettings()
    request_limits: RequestLimitsSettings = RequestLimitsSettings()
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("data_dir")
    @classmethod
    def _data_dir_is_absolute(cls, value: Path) -> Path:
        # Relative to the working folder here; the YAML source has already made a relative value
        # of its file relative to the file's folder.
        return Path(os.path.abspath(value.expanduser()))

    @property
    def jwt_expiration_seconds(self) -> int:
        # The token spec's floor is 60 s: clients raise anything smaller anyway.
        return max(60, self.registry.jwt_expiration_time.value * 60)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'portus.sqlite3').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, PortusEnvSource(settings_cls), YamlFileSource(settings_cls))


# --- sources -------------------------------------------------------------------------------------
def _field_name(name: str, field: FieldInfo) -> str:
    return field.alias or name


def iter_key_paths(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every leaf key of the tree as a path of YAML key names."""
    for name, field in model.model_fields.items():
        path = (*prefix, _field_name(name, field))
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from iter_key_paths(annotation, path)
        else:
            yield path


def env_name(path: tuple[str, ...]) -> str:
    return ENV_PREFIX + "_".join(part.upper() for part in path)


def _set_path(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = target
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


class PortusEnvSource(PydanticBaseSettingsSource):
    """`PORTUS_<KEY_PATH>` variables, the way Portus (cconfig) names them."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None):
        super().__init__(settings_cls)
        self.environ = os.environ if environ is None else environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ builds the whole tree at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        known: set[str] = set()
        for path in iter_key_paths(self.settings_cls):
            name = env_name(path)
            known.add(name)
            if name in self.environ:
                _set_path(values, path, self.environ[name])
        unknown = sorted(
            name
            for name in self.environ
            if name.startswith(ENV_PREFIX)
            and name not in known
            and name not in NON_KEY_VARIABLES
            and not name.startswith(NON_KEY_PREFIXES)
        )
        if unknown:
            logger.warning("ignoring environment variables that name no config key: %s", unknown)
        return values


def config_file() -> tuple[Path, bool]:
    """The YAML file the settings come from (`PORTUS_CONFIG`, else `./config.yml`), absolute, and
    whether `PORTUS_CONFIG` named it."""
    explicit = os.environ.get("PORTUS_CONFIG")
    return Path(os.path.abspath(explicit or "config.yml")), bool(explicit)


def _get_path(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


class YamlFileSource(PydanticBaseSettingsSource):
    """The YAML file at `PORTUS_CONFIG` (default `./config.yml`); absent means defaults."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError

    def __call__(self) -> dict[str, Any]:
        path, explicit = config_file()
        if not path.exists():
            if explicit:
                raise ConfigError(f"PORTUS_CONFIG: file {path} does not exist")
            return {}
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
        registry_keys = [key for key in REGISTRY_CONFIG_KEYS if key in data]
        if registry_keys:
            raise ConfigError(
                f"config error: {path} looks like the registry's own configuration (top-level "
                f"{', '.join(registry_keys)}), not Portus's; Portus reads ./config.yml of the "
                "working folder: run portus in a folder of its own, or name Portus's file with "
                "PORTUS_CONFIG=/path/to/portus-config.yml"
            )
        for key in PATH_KEYS:
            value = _get_path(data, key)
            if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
                _set_path(data, key, str(path.parent / value))
        if "data_dir" not in data:
            data["data_dir"] = str(path.parent / "data")
        return data


def _is_secret(path: tuple[str, ...]) -> bool:
    model: type[BaseModel] = Settings
    for part in path:
        fields = {_field_name(name, field): field for name, field in model.model_fields.items()}
        annotation = fields[part].annotation if part in fields else None
        if annotation is SecretStr:
            return True
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        model = annotation
    return False


def describe_validation_error(
    exc: ValidationError,
    environ: Mapping[str, str] | None = None,
    file: tuple[Path, Mapping[str, Any]] | None = None,
) -> str:
    """One line per problem, naming the key path the way it is written in config.yml, and where
    the value came from: the environment variable, or the YAML `file` (its path and contents)."""
    environ = os.environ if environ is None else environ
    leaves = set(iter_key_paths(Settings))
    lines = []
    for error in exc.errors():
        path = tuple(str(part) for part in error["loc"])
        key = ".".join(path)
        # The variables of this key, or of the keys under it for a check of several keys.
        variables = [
            (leaf, env_name(leaf))
            for leaf in sorted(leaves)
            if path and leaf[: len(path)] == path and env_name(leaf) in environ
        ]
        if variables:
            named = ", ".join(
                f"{name}={'********' if _is_secret(leaf) else environ[name]}"
                for leaf, name in variables
            )
            lines.append(f"config error: {named}: {key}: {error['msg']}")
            continue
        got = error.get("input")
        hidden = isinstance(got, dict) or got is None or _is_secret(path)
        shown = "" if hidden else f" (got {got!r})"
        where = f"{file[0]}: " if file and _get_path(file[1], path) is not None else ""
        lines.append(f"config error: {where}{key}: {error['msg']}{shown}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one clear `ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        path, _ = config_file()
        file = (path, YamlFileSource(Settings)()) if path.exists() else None
        raise ConfigError(describe_validation_error(exc, file=file)) from exc
