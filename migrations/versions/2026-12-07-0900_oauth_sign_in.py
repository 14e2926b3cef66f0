"""oauth_sign_in: sign-ins with OpenID Connect / OAuth providers in flight, and first sign-ins
waiting for a username

Revision ID: 3b8d1f6a2c47
Revises: 7c2f0e4b9a13
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b8d1f6a2c47"
down_revision: str | None = "7c2f0e4b9a13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "oauth_logins",
        sa.Column("id", _ID, nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("browser_digest", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("return_to", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_logins")),
        sa.UniqueConstraint("state", name=op.f("uq_oauth_logins_state")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_oauth_logins_expires_at"), "oauth_logins", ["expires_at"])
    op.create_table(
        "oauth_signups",
        sa.Column("id", _ID, nullable=False),
        sa.Column("lookup", sa.String(length=32), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("suggested_username", sa.String(length=255), nullable=False),
        sa.Column("return_to", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_signups")),
        sa.UniqueConstraint("lookup", name=op.f("uq_oauth_signups_lookup")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_oauth_signups_expires_at"), "oauth_signups", ["expires_at"])


def downgrade() -> None:
    op.drop_table("oauth_signups")
    op.drop_table("oauth_logins")
