"""LDAP group sync state: teams.ldap_group_checked/checked_at, users.ldap_group_checked

Revision ID: 6c2d9e4a7f13
Revises: 6c4b9e2f7a15
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6c2d9e4a7f13"
down_revision: str | None = "6c4b9e2f7a15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ldap_group_checked", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ldap_group_checked", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("ldap_group_checked")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_column("checked_at")
        batch_op.drop_column("ldap_group_checked")
