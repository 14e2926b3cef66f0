"""oauth_signup_groups: a first sign-in waiting for a username keeps the provider's groups, which
join the new account to their teams

Revision ID: 5e9a2c7d1b38
Revises: 3b8d1f6a2c47
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e9a2c7d1b38"
down_revision: str | None = "3b8d1f6a2c47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_signups") as batch:
        batch.add_column(sa.Column("groups", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("oauth_signups") as batch:
        batch.drop_column("groups")
