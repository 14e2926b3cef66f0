"""search: a byte-ordered B-tree on lower(repositories.name) for prefix matches (PostgreSQL)

Exact and prefix matches are read from it in name order and the read stops at the page size,
however many names share a short prefix (the trigram index finds them all, unordered).
SQLite compares bytes already and scans its (small) table.

Revision ID: 9f3a6d2c8b41
Revises: 6c2d9e4a7f13
Create Date: 2026-11-29 09:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "9f3a6d2c8b41"
down_revision: str | None = "6c2d9e4a7f13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            'CREATE INDEX ix_repositories_name_prefix ON repositories ((lower(name) COLLATE "C"))'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_repositories_name_prefix")
