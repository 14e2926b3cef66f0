"""The Portus database being imported: MariaDB/MySQL (Portus's usual deployment) or PostgreSQL,
read in one consistent snapshot (one REPEATABLE READ transaction), table by table in batches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

# schema_migrations' newest version → the Portus release whose schema it is.
KNOWN_SCHEMAS = {"20181213101302": "Portus 2.4"}
BATCH = 5000

_DRIVERS = {
    "mysql": "mysql+aiomysql",
    "mariadb": "mysql+aiomysql",
    "mysql2": "mysql+aiomysql",  # Portus's own name for the adapter
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}

# The columns the import reads, per table: a Portus database without one of them is not one
# this import understands.
COLUMNS: dict[str, tuple[str, ...]] = {
    "registries": ("id", "name", "hostname", "use_ssl", "external_hostname", "created_at"),
    "teams": ("id", "name", "hidden", "description", "created_at", "updated_at"),
    "namespaces": (
        "id",
        "name",
        "team_id",
        "registry_id",
        "global",
        "description",
        "visibility",
        "created_at",
        "updated_at",
    ),
    "users": (
        "id",
        "username",
        "email",
        "encrypted_password",
        "admin",
        "enabled",
        "bot",
        "display_name",
        "ldap_name",
        "provider",
        "uid",
        "failed_attempts",
        "locked_at",
        "namespace_id",
        "created_at",
        "updated_at",
    ),
    "team_users": ("id", "team_id", "user_id", "role", "created_at", "updated_at"),
    "repositories": ("id", "name", "namespace_id", "marked", "created_at", "updated_at"),
    "tags": (
        "id",
        "name",
        "repository_id",
        "user_id",
        "username",
        "digest",
        "image_id",
        "marked",
        "scanned",
        "created_at",
        "updated_at",
    ),
    "stars": ("id", "user_id", "repository_id", "created_at"),
    "comments": ("id", "body", "repository_id", "user_id", "created_at", "updated_at"),
    "webhooks": (
        "id",
        "namespace_id",
        "url",
        "username",
        "password",
        "request_method",
        "content_type",
        "enabled",
        "name",
        "created_at",
        "updated_at",
    ),
    "webhook_headers": ("id", "webhook_id", "name", "value", "created_at"),
    "webhook_deliveries": (
        "id",
        "webhook_id",
        "uuid",
        "status",
        "request_header",
        "request_body",
        "response_header",
        "response_body",
        "created_at",
        "updated_at",
    ),
    "activities": (
        "id",
        "trackable_id",
        "trackable_type",
        "owner_id",
        "owner_type",
        "key",
        "parameters",
        "recipient_id",
        "recipient_type",
        "created_at",
    ),
    "application_tokens": ("id", "application", "token_hash", "user_id"),
}


class SourceError(Exception):
    """The Portus database cannot be read as one: the message says why, in one line."""


def source_url(url: str) -> URL:
    """The SQLAlchemy URL (with an async driver) of a `mysql://…` or `postgresql://…` URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise SourceError(f"--from: not a database URL: {url!r}") from exc
    scheme = parsed.drivername.split("+", 1)[0]
    if scheme not in _DRIVERS:
        raise SourceError(
            f"--from: a mysql://, mariadb:// or postgresql:// URL is needed, not {scheme}://"
        )
    parsed = parsed.set(drivername=_DRIVERS[scheme])
    if parsed.drivername.startswith("mysql"):
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def shown(url: URL) -> str:
    """The URL as the user gave it, without its password (what is printed and recorded)."""
    scheme = url.drivername.split("+", 1)[0]
    return url.set(drivername=scheme, query={}).render_as_string(hide_password=True)


def _column_names(sync: Connection, table: str) -> set[str]:
    return {column["name"] for column in inspect(sync).get_columns(table)}


class PortusSource:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.mysql = conn.dialect.name == "mysql"

    async def schema_version(self) -> str:
        tables = set(await self.conn.run_sync(lambda sync: inspect(sync).get_table_names()))
        if "schema_migrations" not in tables:
            raise SourceError("this is no Portus database: it has no schema_migrations table")
        version = await self.conn.scalar(text("SELECT max(version) FROM schema_migrations"))
        if version not in KNOWN_SCHEMAS:
            known = ", ".join(f"{v} ({name})" for v, name in KNOWN_SCHEMAS.items())
            raise SourceError(
                f"unknown Portus schema version {version}: this import reads {known}; "
                "upgrade Portus to 2.4.3 first"
            )
        missing = []
        for table, columns in COLUMNS.items():
            if table not in tables:
                missing.append(table)
                continue
            present = await self.conn.run_sync(_column_names, table)
            missing += [f"{table}.{c}" for c in columns if c not in present]
        if missing:
            raise SourceError(f"the Portus database lacks {', '.join(missing)}")
        return str(version)

    async def count(self, table: str) -> int:
        return int(await self.conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608 (known names)

    async def rows(self, table: str) -> AsyncIterator[list[Mapping[str, Any]]]:
        """The table's rows in id order, `BATCH` at a time, streamed (not all in memory)."""
        quote = "`" if self.mysql else '"'
        columns = ", ".join(f"{quote}{c}{quote}" for c in COLUMNS[table])
        result = await self.conn.stream(
            text(f"SELECT {columns} FROM {table} ORDER BY id")  # noqa: S608 (known names)
        )
        async for partition in result.mappings().partitions(BATCH):
            yield [dict(row) for row in partition]


@asynccontextmanager
async def open_source(url: URL) -> AsyncIterator[PortusSource]:
    """A read-only snapshot of the Portus database for the whole import."""
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    try:
        try:
            conn = await engine.connect()
        except (DBAPIError, OSError, NoSuchModuleError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise SourceError(
                f"cannot connect to the Portus database {shown(url)}: {reason}"
            ) from exc
        try:
            await conn.execution_options(isolation_level="REPEATABLE READ")
            async with conn.begin():
                yield PortusSource(conn)
        finally:
            await conn.close()
    finally:
        await engine.dispose()
