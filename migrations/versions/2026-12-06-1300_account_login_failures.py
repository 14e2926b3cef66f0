"""account_login_failures: failed password logins per (account name, client address)

Replaces the account-wide ten-minute lock (an outage anybody could cause by name) with a lock of
the one address that keeps failing against that account.

Revision ID: b7e41c2a9d05
Revises: 5d1c8a7e2f90
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e41c2a9d05"
down_revision: str | None = "5d1c8a7e2f90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_login_failures",
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", "client", name=op.f("pk_account_login_failures")),
    )


def downgrade() -> None:
    op.drop_table("account_login_failures")
