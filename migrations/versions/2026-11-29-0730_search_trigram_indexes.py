"""search: trigram indexes for repository and namespace names (PostgreSQL only)

Search matches names anywhere (`LIKE '%term%'`), which a B-tree cannot serve; pg_trgm's GIN
indexes can, so a search costs the matches, not the catalogue. SQLite scans (the embedded default
is small). pg_trgm is a trusted extension since PostgreSQL 13: the database's owner may create it.
If it cannot be created, the migration goes on without the indexes and search still works, by a
scan. The indexes are left out of `alembic check` (migrations/env.py): models cannot declare them
for both backends.

Revision ID: 5b7e2c91a0d4
Revises: edccebce8ef6
Create Date: 2026-11-29 07:30:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b7e2c91a0d4"
down_revision: str | None = "edccebce8ef6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

TRIGRAM_INDEXES = {
    "ix_repositories_name_trgm": "repositories",
    "ix_namespaces_name_trgm": "namespaces",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        logger.warning("pg_trgm is not available (%s): search will scan instead", exc.orig)
        return
    for name, table in TRIGRAM_INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} USING gin (lower(name) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
