"""`portus import-portus`: a Portus 2.4 database (MariaDB and PostgreSQL, made by
tests/fixtures/portus_db.py) comes across whole, and its people log in as before."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.security import is_legacy_hash
from app.main import create_app
from app.models import Activity, ApplicationToken, Base, Namespace, PortusImport, User
from app.upgrade import importer
from app.upgrade.source import SourceError, shown, source_url
from tests.conftest import make_settings
from tests.fixtures import portus_db
from tests.fixtures.database import throwaway_database
from tests.fixtures.jwt import access
from tests.support.auth import basic

REGISTRY = "registry.portus.test:5000"
KINDS = ["mysql", "postgresql"]


@asynccontextmanager
async def target(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An empty, migrated database of ours."""
    async with throwaway_database(tmp_path) as url:
        engine = create_engine(url, pool_size=2)
        try:
            yield engine
        finally:
            await engine.dispose()


@asynccontextmanager
async def filled_portus(kind: str) -> AsyncIterator[tuple[str, portus_db.PortusData]]:
    async with portus_db.portus_database(kind) as url:
        engine = await portus_db.open_portus(url)
        try:
            async with engine.begin() as conn:
                data = await portus_db.fill(conn, REGISTRY)
        finally:
            await engine.dispose()
        yield url, data


async def change_portus(url: str, statement: str) -> None:
    portus = await portus_db.open_portus(url)
    try:
        async with portus.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await portus.dispose()


@asynccontextmanager
async def api(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The service on the imported database."""
    app = create_app(
        make_settings(settings, database_url=str(engine.url.render_as_string(hide_password=False))),
        sessionmaker=create_sessionmaker(engine),
        run_background=False,
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portus.test") as c:
            yield c


async def counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            name: int(await conn.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in Base.metadata.tables.items()
        }


async def token_for(client: httpx.AsyncClient, username: str, secret: str, scope: str) -> Any:
    response = await client.get(
        "/v2/token",
        params={"service": REGISTRY, "scope": scope},
        headers=basic(username, secret),
    )
    return response


def granted(response: httpx.Response) -> list[str]:
    """The actions of the token's one access entry (none: [])."""
    found = list(access(response.json()["token"]).values())
    return sorted(found[0]) if found else []


@pytest.mark.parametrize("kind", KINDS)
async def test_everything_comes_across(kind: str, tmp_path: Path, settings: Settings) -> None:
    async with filled_portus(kind) as (url, data), target(tmp_path) as engine:
        summary = await importer.import_portus(settings, engine, url)
        imported = {k: v for k, v in summary.imported.items() if v}
        assert imported == data.counts
        assert summary.skipped["users"] == {"Portus's own service user (not a person)": 1}
        for table, orphans in data.orphans.items():
            reasons = summary.skipped[table]
            assert sum(n for r, n in reasons.items() if r.startswith("orphan")) == orphans, table
        stored = await counts(engine)
        for table, expected in data.counts.items():
            assert stored[table] == expected, table
        assert stored["webhook_attempts"] == 2
        assert stored["portus_imports"] == 1

        async with engine.connect() as conn:
            alice = (await conn.execute(select(User).where(User.username == "alice"))).one()
            assert alice.display_name == "Alice" and is_legacy_hash(alice.encrypted_password)
            ldap = (await conn.execute(select(User).where(User.username == "ldapuser"))).one()
            assert ldap.email is None and ldap.encrypted_password is None
            assert ldap.ldap_name == "uid=ldapuser,ou=people,dc=example,dc=org"
            oauth = (await conn.execute(select(User).where(User.username == "oauthuser"))).one()
            assert (oauth.provider, oauth.uid) == ("github", "4242")
            locked = (await conn.execute(select(User).where(User.username == "locked"))).one()
            assert locked.failed_attempts == 5 and locked.locked_at is not None
            params: dict[int, dict[str, Any]] = dict(
                (
                    await conn.execute(
                        select(Activity.id, Activity.parameters).order_by(Activity.id)
                    )
                ).all()
            )
            assert {"namespace_id", "namespace_name"} <= set(next(iter(params.values())))
            assert {"visibility": "visibility_public"} in params.values()
            # A YAML tag that would run code is read as nothing at all.
            assert summary.adjusted["activities"] == {
                "parameters dropped: not YAML: could not determine a constructor for the tag "
                "'tag:yaml.org,2002:python/object/apply:os.system'": 1
            }
            global_ns = (
                await conn.execute(select(Namespace).where(Namespace.global_.is_(True)))
            ).one()
            assert global_ns.name == "portus_global_namespace_1"
            tokens = (
                await conn.execute(
                    select(ApplicationToken.legacy_hash, ApplicationToken.token_digest)
                )
            ).all()
            assert len(tokens) == 3
            assert all(legacy and digest == "" for legacy, digest in tokens)

        async with api(settings, engine) as client:
            # The API shows the same people, teams, roles, namespaces, repositories and tags.
            admin = basic("admin", data.passwords["admin"])
            users = (await client.get("/api/v1/users", headers=admin)).json()
            assert sorted(u["username"] for u in users) == sorted(
                [
                    "admin",
                    "alice",
                    "bob",
                    "carol",
                    "ldapuser",
                    "oauthuser",
                    "disabled",
                    "locked",
                    "ci-bot",
                ]
            )
            teams = (await client.get("/api/v1/teams", headers=admin)).json()
            devs = next(t for t in teams if t["name"] == "devs")
            members = (
                await client.get(f"/api/v1/teams/{devs['id']}/members", headers=admin)
            ).json()
            roles = {
                m["username"] if "username" in m else m["user"]["username"]: m["role"]
                for m in members
            }
            assert roles == {
                "alice": "owner",
                "bob": "contributor",
                "carol": "viewer",
                "ci-bot": "contributor",
            }
            repos = (await client.get("/api/v1/repositories", headers=admin)).json()
            web = next(r for r in repos if r["full_name"] == "apps/web")
            tags = (
                await client.get(f"/api/v1/repositories/{web['id']}/tags", headers=admin)
            ).json()
            assert sorted(t["name"] for t in tags) == ["1.0", "latest"]
            assert {t["digest"] for t in tags} == {"sha256:" + "a" * 64}  # separate rows


@pytest.mark.parametrize("kind", KINDS)
async def test_old_passwords_and_tokens_get_portus_access(
    kind: str, tmp_path: Path, settings: Settings
) -> None:
    """/v2/token with an old password and an old application token grants what Portus's
    policy gave, for a few users and namespaces; the password is rehashed."""
    async with filled_portus(kind) as (url, data), target(tmp_path) as engine:
        await importer.import_portus(settings, engine, url)
        async with api(settings, engine) as client:
            expected = {
                # user, namespace/repo: actions (Portus 2.4's permission matrix)
                ("alice", "apps/web"): ["delete", "pull", "push"],  # owner of devs
                ("bob", "apps/web"): ["pull", "push"],  # contributor
                ("carol", "apps/web"): ["pull"],  # viewer
                ("carol", "bob/app"): [],  # another's personal namespace
                ("bob", "bob/app"): ["delete", "pull", "push"],
                ("carol", "opensource/lib"): ["pull"],  # public
            }
            for (username, repository), actions in expected.items():
                response = await token_for(
                    client,
                    username,
                    data.passwords[username],
                    f"repository:{repository}:pull,push,delete",
                )
                assert response.status_code == 200, (username, response.text)
                assert granted(response) == actions, (username, repository)
            async with engine.connect() as conn:
                rehashed = await conn.scalar(
                    select(User.encrypted_password).where(User.username == "bob")
                )
            assert rehashed is not None and rehashed.startswith("$argon2id$")

            # Old application tokens: a person's and a bot's.
            pipeline = data.tokens["ci-bot/pipeline"]
            response = await token_for(client, "ci-bot", pipeline, "repository:apps/web:pull,push")
            assert granted(response) == ["pull", "push"]
            jenkins = data.tokens["alice/jenkins"]
            response = await token_for(client, "alice", jenkins, "repository:apps/api:pull")
            assert granted(response) == ["pull"]
            # Disabled stays disabled; an unknown secret stays refused.
            disabled = await token_for(
                client, "disabled", data.passwords["disabled"], "repository:apps/web:pull"
            )
            assert disabled.status_code == 401
            assert (
                await token_for(client, "alice", "nope", "registry:catalog:*")
            ).status_code == 401


async def test_dry_run_writes_nothing_and_a_second_import_refuses(
    tmp_path: Path, settings: Settings
) -> None:
    async with filled_portus("mysql") as (url, data), target(tmp_path) as engine:
        before = await counts(engine)
        dry = await importer.import_portus(settings, None, url)
        assert dry.dry_run and {k: v for k, v in dry.imported.items() if v} == data.counts
        assert await counts(engine) == before

        await importer.import_portus(settings, engine, url)
        after = await counts(engine)
        with pytest.raises(importer.ImportRefused, match="already imported from mysql://"):
            await importer.import_portus(settings, engine, url)
        with pytest.raises(importer.ImportRefused, match="not empty"):
            await importer.import_portus(settings, engine, url, force=True)
        assert await counts(engine) == after
        async with engine.connect() as conn:
            source = await conn.scalar(select(PortusImport.source))
        assert source == url  # recorded as given (the test's server has no password)


async def test_an_unknown_schema_version_is_refused_naming_it(
    tmp_path: Path, settings: Settings
) -> None:
    async with filled_portus("postgresql") as (url, _), target(tmp_path) as engine:
        await change_portus(url, "INSERT INTO schema_migrations VALUES ('20190101000000')")
        with pytest.raises(SourceError, match="unknown Portus schema version 20190101000000"):
            await importer.import_portus(settings, engine, url)
        assert (await counts(engine))["users"] == 0


async def test_a_name_too_long_for_us_is_skipped_with_its_reason(
    tmp_path: Path, settings: Settings
) -> None:
    async with filled_portus("mysql") as (url, _), target(tmp_path) as engine:
        await change_portus(url, "UPDATE tags SET name = REPEAT('x', 200) WHERE id = 1")
        summary = await importer.import_portus(settings, engine, url)
        assert summary.skipped["tags"]["name longer than 128 characters"] == 1
        assert summary.examples["tags: name longer than 128 characters"] == ["id 1"]


async def test_an_import_that_fails_midway_leaves_nothing(
    tmp_path: Path, settings: Settings
) -> None:
    """One transaction: users and teams were written when the failure came, and are gone."""

    class Interrupted(Exception):
        pass

    def progress(table: str, total: int) -> Any:
        if table == "tags":
            raise Interrupted()
        return None

    async with filled_portus("mysql") as (url, _), target(tmp_path) as engine:
        before = await counts(engine)
        with pytest.raises(Interrupted):
            await importer.import_portus(settings, engine, url, progress=progress)
        assert await counts(engine) == before
        assert (await importer.import_portus(settings, engine, url)).imported["tags"] == 5


def test_the_recorded_source_hides_its_password() -> None:
    assert shown(source_url("mysql://portus:s3cret@db:3306/portus")) == (
        "mysql://portus:***@db:3306/portus"
    )


async def test_retiring_the_legacy_tokens(tmp_path: Path, settings: Settings) -> None:
    async with filled_portus("postgresql") as (url, data), target(tmp_path) as engine:
        await importer.import_portus(settings, engine, url)
        async with api(settings, engine) as client:
            bot = await token_for(
                client, "ci-bot", data.tokens["ci-bot/pipeline"], "repository:apps/web:pull"
            )
            assert bot.status_code == 200
            # Passwords with Portus hashes: admin, alice, bob, carol, disabled, locked.
            assert await importer.retire_legacy_tokens(engine) == (3, 6)
            bot = await token_for(
                client, "ci-bot", data.tokens["ci-bot/pipeline"], "repository:apps/web:pull"
            )
            assert bot.status_code == 401
