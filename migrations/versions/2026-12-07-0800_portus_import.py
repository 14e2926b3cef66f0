"""portus_import: what an import from Portus brings that had no place yet

Users get Portus's `ldap_name` and the sign-in provider's identity (`provider`, `uid`: Portus's
OAuth/OpenID columns, unique together); application tokens get `legacy_hash`, the bcrypt hash of a
token imported from Portus (see app/models/token.py); `portus_imports` records each import.

Revision ID: 7c2f0e4b9a13
Revises: b7e41c2a9d05
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7c2f0e4b9a13"
down_revision: str | None = "b7e41c2a9d05"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEGACY = sa.text("legacy_hash IS NOT NULL")


def upgrade() -> None:
    # Plain ADD COLUMN (no batch rebuild: SQLite would lose the tables' AUTOINCREMENT).
    op.add_column("users", sa.Column("ldap_name", sa.String(length=255), nullable=True))
    op.add_column("users", sa.Column("provider", sa.String(length=255), nullable=True))
    op.add_column("users", sa.Column("uid", sa.String(length=255), nullable=True))
    op.create_index("uq_users_provider_uid", "users", ["provider", "uid"], unique=True)
    op.add_column(
        "application_tokens", sa.Column("legacy_hash", sa.String(length=60), nullable=True)
    )
    op.create_index(
        "ix_application_tokens_legacy_digest",
        "application_tokens",
        ["token_digest"],
        postgresql_where=_LEGACY,
        sqlite_where=_LEGACY,
    )
    op.create_table(
        "portus_imports",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("schema_version", sa.String(length=32), nullable=False),
        sa.Column(
            "summary", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portus_imports")),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("portus_imports")
    op.drop_index("ix_application_tokens_legacy_digest", table_name="application_tokens")
    op.drop_index("uq_users_provider_uid", table_name="users")
    with op.batch_alter_table("application_tokens") as batch:
        batch.drop_column("legacy_hash")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("uid")
        batch.drop_column("provider")
        batch.drop_column("ldap_name")
