"""webhooks: last_claimed_at and in_flight_until (the sender's turns); two delivery indexes

The sender serves the webhook whose turn is oldest first and keeps one request in flight per
webhook, so that one flooded webhook cannot hold back every other namespace's deliveries. It
finds each webhook's oldest due delivery with one probe of (webhook_id, status,
next_attempt_at, id); retention finds old delivered and failed ones by (status, created_at).

Revision ID: 5d1c8a7e2f90
Revises: 40b4026c46dd
Create Date: 2026-12-06 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1c8a7e2f90"
down_revision: str | None = "40b4026c46dd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("last_claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("in_flight_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_webhook_status_due",
        "webhook_deliveries",
        ["webhook_id", "status", "next_attempt_at", "id"],
    )
    op.create_index(
        "ix_webhook_deliveries_status_created_at",
        "webhook_deliveries",
        ["status", "created_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_status_created_at", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_webhook_status_due", table_name="webhook_deliveries")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("in_flight_until")
        batch.drop_column("last_claimed_at")
