"""namespaces.repositories_count, kept by triggers through repository_count_changes

Revision ID: 8d1f4a6c2e37
Revises: 5b7e2c91a0d4
Create Date: 2026-11-29 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d1f4a6c2e37"
down_revision: str | None = "5b7e2c91a0d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION portus_count_repository_changes() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO repository_count_changes (namespace_id, delta) VALUES (NEW.namespace_id, 1);
        END IF;
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            INSERT INTO repository_count_changes (namespace_id, delta) VALUES (OLD.namespace_id, -1);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER repositories_counted AFTER INSERT OR DELETE ON repositories
    FOR EACH ROW EXECUTE FUNCTION portus_count_repository_changes()
    """,
    """
    CREATE TRIGGER repositories_moved_counted AFTER UPDATE OF namespace_id ON repositories
    FOR EACH ROW WHEN (OLD.namespace_id IS DISTINCT FROM NEW.namespace_id)
    EXECUTE FUNCTION portus_count_repository_changes()
    """,
]

SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER repositories_inserted_counted AFTER INSERT ON repositories BEGIN
        INSERT INTO repository_count_changes (namespace_id, delta) VALUES (NEW.namespace_id, 1);
    END
    """,
    """
    CREATE TRIGGER repositories_deleted_counted AFTER DELETE ON repositories BEGIN
        INSERT INTO repository_count_changes (namespace_id, delta) VALUES (OLD.namespace_id, -1);
    END
    """,
    """
    CREATE TRIGGER repositories_moved_counted AFTER UPDATE OF namespace_id ON repositories
    WHEN OLD.namespace_id IS NOT NEW.namespace_id BEGIN
        INSERT INTO repository_count_changes (namespace_id, delta) VALUES (OLD.namespace_id, -1);
        INSERT INTO repository_count_changes (namespace_id, delta) VALUES (NEW.namespace_id, 1);
    END
    """,
]


def upgrade() -> None:
    op.create_table(
        "repository_count_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("namespace_id", sa.BigInteger(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repository_count_changes")),
    )
    op.create_index(
        op.f("ix_repository_count_changes_namespace_id"),
        "repository_count_changes",
        ["namespace_id"],
        unique=False,
    )
    with op.batch_alter_table("namespaces", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("repositories_count", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.execute(
        "UPDATE namespaces SET repositories_count = "
        "(SELECT count(*) FROM repositories WHERE repositories.namespace_id = namespaces.id)"
    )
    dialect = op.get_bind().dialect.name
    for statement in POSTGRESQL_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS repositories_moved_counted ON repositories")
        op.execute("DROP TRIGGER IF EXISTS repositories_counted ON repositories")
        op.execute("DROP FUNCTION IF EXISTS portus_count_repository_changes()")
    else:
        for name in ("inserted", "deleted", "moved"):
            op.execute(f"DROP TRIGGER IF EXISTS repositories_{name}_counted")
    with op.batch_alter_table("namespaces", schema=None) as batch_op:
        batch_op.drop_column("repositories_count")
    op.drop_index(
        op.f("ix_repository_count_changes_namespace_id"), table_name="repository_count_changes"
    )
    op.drop_table("repository_count_changes")
