"""webhooks: last_claimed_at (the sender's round-robin); deliveries by (status, created_at)

The sender serves the webhook whose turn is oldest first, so that one flooded webhook cannot
hold back every other namespace's deliveries; the index lets retention find old delivered and
failed deliveries without reading the whole table.

Revision ID: 5d1c8a7e2f90
Revises: 644322de50cf
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1c8a7e2f90"
down_revision: str | None = "644322de50cf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("last_claimed_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_status_created_at",
        "webhook_deliveries",
        ["status", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_status_created_at", table_name="webhook_deliveries")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("last_claimed_at")
