from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from tests.fixtures.database import ROOT, throwaway_database


def _config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    return config


async def test_models_and_migrations_agree(database_url: str) -> None:
    """`alembic check`: autogenerate finds nothing to add to the migrated database."""
    await asyncio.to_thread(command.check, _config(database_url))


async def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    async with throwaway_database(tmp_path) as url:
        config = _config(url)
        await asyncio.to_thread(command.downgrade, config, "base")
        await asyncio.to_thread(command.upgrade, config, "head")
        await asyncio.to_thread(command.check, config)
