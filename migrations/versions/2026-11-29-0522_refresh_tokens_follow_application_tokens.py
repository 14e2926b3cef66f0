"""refresh tokens die with their application token

Revision ID: 9d5662be06a2
Revises: 2e5e3a85dff6
Create Date: 2026-11-29 05:22:59.544540
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d5662be06a2"
down_revision: str | None = "2e5e3a85dff6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # batch: SQLite cannot add a foreign key with ALTER TABLE (it copies the table instead).
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(
            sa.Column(
                "application_token_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                nullable=True,
            )
        )
        batch.create_index(
            op.f("ix_refresh_tokens_application_token_id"), ["application_token_id"], unique=False
        )
        batch.create_foreign_key(
            op.f("fk_refresh_tokens_application_token_id_application_tokens"),
            "application_tokens",
            ["application_token_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_constraint(
            op.f("fk_refresh_tokens_application_token_id_application_tokens"), type_="foreignkey"
        )
        batch.drop_index(op.f("ix_refresh_tokens_application_token_id"))
        batch.drop_column("application_token_id")
