"""A real registry that trusts our signing key but sends us no notifications, and a database
that knows it: what the catalog sync and the garbage collector work on.

Images are pushed straight into the registry as the internal identity (a token signed with our
key, handed to skopeo), so the service learns about them only by asking the registry.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.service import GrantedScope, sign
from app.authz.principal import INTERNAL_USERNAME
from app.cli import registry_config
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker, session_scope
from app.core.keys import SigningKey, load_signing_key
from app.jobs.context import TaskContext, open_task_context
from app.models import Activity, Tag
from tests.e2e.live import FQDN, LiveServer
from tests.fixtures import factories
from tests.fixtures.database import throwaway_database
from tests.support.oci import build_oci_layout
from tests.support.tools import RegistryProcess, Skopeo, free_port


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\nstderr: {result.stderr}"
    return result


@dataclass
class RegistryBench:
    workdir: Path
    settings: Settings
    cli: LiveServer  # not started: runs `portus <command>` with the same settings
    registry: RegistryProcess
    skopeo: Skopeo
    key: SigningKey
    sessionmaker: async_sessionmaker[AsyncSession]
    ctx: TaskContext

    def token(self, repository: str, *actions: str) -> str:
        return sign(
            self.settings,
            self.key,
            subject=INTERNAL_USERNAME,
            audience=self.registry.host,
            access=[GrantedScope("repository", repository, list(actions))],
        ).token

    def ref(self, repository: str, tag: str | None = None) -> str:
        return f"docker://{self.registry.host}/{repository}" + (f":{tag}" if tag else "")

    def push(self, repository: str, tag: str, content: bytes) -> str:
        """Push a one-layer image of `content`; its manifest digest."""
        layout = self.workdir / "layouts" / repository.replace("/", "_") / tag
        digest = build_oci_layout(layout, tag, content)
        ok(
            self.skopeo.run(
                "copy",
                "--dest-tls-verify=false",
                "--dest-registry-token",
                self.token(repository, "pull", "push"),
                f"oci:{layout}:{tag}",
                self.ref(repository, tag),
            )
        )
        return digest

    def registry_tags(self, repository: str) -> list[str]:
        result = ok(
            self.skopeo.run(
                "list-tags",
                "--tls-verify=false",
                "--registry-token",
                self.token(repository, "pull"),
                self.ref(repository),
            )
        )
        return sorted(json.loads(result.stdout)["Tags"])

    def inspect(self, repository: str, tag: str) -> subprocess.CompletedProcess[str]:
        return self.skopeo.run(
            "inspect",
            "--tls-verify=false",
            "--registry-token",
            self.token(repository, "pull"),
            self.ref(repository, tag),
        )

    def pull(self, repository: str, tag: str, dest: Path) -> subprocess.CompletedProcess[str]:
        return self.skopeo.run(
            "copy",
            "--src-tls-verify=false",
            "--src-registry-token",
            self.token(repository, "pull"),
            self.ref(repository, tag),
            f"dir:{dest}",
        )

    def delete(self, repository: str, tag: str) -> None:
        """Delete the manifest `tag` points to, in the registry only."""
        ok(
            self.skopeo.run(
                "delete",
                "--tls-verify=false",
                "--registry-token",
                self.token(repository, "pull", "delete"),
                self.ref(repository, tag),
            )
        )

    async def db_tags(self) -> dict[str, tuple[str, int | None]]:
        """`repository:tag` -> (digest, size) of every tag the database holds."""
        from app.models import Namespace, Repository

        async with session_scope(self.sessionmaker) as session:
            rows = await session.execute(
                select(Namespace.name, Namespace.global_, Repository.name, Tag.name, Tag.digest)
                .add_columns(Tag.size)
                .join(Repository, Repository.namespace_id == Namespace.id)
                .join(Tag, Tag.repository_id == Repository.id)
            )
            return {
                f"{repo if global_ else f'{ns}/{repo}'}:{tag}": (digest, size)
                for ns, global_, repo, tag, digest, size in rows.all()
            }

    async def activity_count(self) -> int:
        async with session_scope(self.sessionmaker) as session:
            return int(await session.scalar(select(func.count(Activity.id))) or 0)


@asynccontextmanager
async def registry_bench(workdir: Path, **settings: Any) -> AsyncIterator[RegistryBench]:
    async with throwaway_database(workdir) as url:
        cli = LiveServer(workdir=workdir, database_url=url)
        base = Settings(
            data_dir=workdir / "data",
            database_url=url,
            public_url=cli.url,
            machine_fqdn={"value": FQDN},
            secret_key_base="e2e-secret-key-base",
            notifications={"secret": "e2e-notifications-secret"},
            **settings,
        )
        registry_port = free_port()
        config = yaml.safe_load(registry_config(base, f"127.0.0.1:{registry_port}"))
        del config["notifications"]  # the service hears nothing: only a sync tells it
        registry = RegistryProcess(workdir / "registry", registry_port, yaml.safe_dump(config))
        engine = create_engine(url, pool_size=2)
        sessionmaker = create_sessionmaker(engine)
        try:
            async with session_scope(sessionmaker) as session:
                await factories.create_registry(session, hostname=registry.host)
            registry.start()
            with Skopeo(workdir / "skopeo") as skopeo:
                async with open_task_context(base, sessionmaker=sessionmaker) as ctx:
                    yield RegistryBench(
                        workdir=workdir,
                        settings=base,
                        cli=cli,
                        registry=registry,
                        skopeo=skopeo,
                        key=load_signing_key(base),
                        sessionmaker=sessionmaker,
                        ctx=ctx,
                    )
        finally:
            registry.stop()
            await engine.dispose()
