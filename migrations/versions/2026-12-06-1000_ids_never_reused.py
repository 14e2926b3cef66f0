"""ids are never reused: SQLite tables with an integer id get AUTOINCREMENT

Without it SQLite numbers a new row max(id) + 1: delete the newest user, create another, and it
gets the deleted user's id, so the activities that kept that id read as the new user's.
PostgreSQL's sequences never go back; nothing changes there.

SQLite cannot alter a primary key, so each table is rebuilt from its own stored CREATE statement
(not from reflection, which would lose CHECK constraints and triggers), its rows copied with their
ids; that also starts its sqlite_sequence at the highest id present. The tables are found in the
schema rather than listed, so one added by a migration ordered before this one is covered too.
Rebuilding drops tables that others reference: env.py runs SQLite migrations with foreign keys
off (a DROP would otherwise cascade) and checks them before committing.

Revision ID: 40b4026c46dd
Revises: 644322de50cf
Create Date: 2026-12-06 10:00:00
"""

import re
from collections.abc import Callable, Sequence

from alembic import op
from sqlalchemy.engine import Connection

revision: str = "40b4026c46dd"
down_revision: str | None = "644322de50cf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = re.compile(r"PRIMARY KEY \((\w+)\)")
_KEY_AUTOINCREMENT = re.compile(r"PRIMARY KEY \((\w+) AUTOINCREMENT\)")


def _integer_key(bind: Connection, table: str) -> str | None:
    # table_info rows: cid, name, type, notnull, dflt_value, pk (position in the key, 0 if not)
    info = bind.exec_driver_sql(f'PRAGMA table_info("{table}")').all()
    keys = [row for row in info if row[5]]
    if len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER":
        return str(keys[0][1])
    return None


def _rebuild_all(rewrite: Callable[[str, str], str | None]) -> None:
    """Every table whose CREATE statement `rewrite(table, sql)` changes is rebuilt with the new
    statement, its rows, indexes and the schema's triggers kept."""
    bind = op.get_bind()
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "rebuilding SQLite tables needs foreign keys off (see migrations/env.py)"
        )
    schema = bind.exec_driver_sql(
        "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL"
    ).all()
    # Triggers go first and come back last: renaming a table checks every trigger's body, and
    # one may name a table that is dropped at that moment.
    triggers = [(name, sql) for kind, name, _, sql in schema if kind == "trigger"]
    for name, _ in triggers:
        bind.exec_driver_sql(f'DROP TRIGGER "{name}"')
    for kind, table, _, sql in schema:
        if kind != "table" or table.startswith("sqlite_") or table == "alembic_version":
            continue
        rewritten = rewrite(table, sql)
        if rewritten is None:
            continue
        temporary = f"_rebuild_{table}"
        create, count = re.subn(
            rf'^CREATE TABLE ("?){re.escape(table)}\1', f'CREATE TABLE "{temporary}"', rewritten
        )
        if count != 1:
            raise RuntimeError(f"unexpected CREATE statement for {table}: {sql[:80]}")
        indexes = [s for k, _, owner, s in schema if k == "index" and owner == table]
        bind.exec_driver_sql(create)
        # names from sqlite_master, not input
        bind.exec_driver_sql(f'INSERT INTO "{temporary}" SELECT * FROM "{table}"')  # noqa: S608
        bind.exec_driver_sql(f'DROP TABLE "{table}"')
        bind.exec_driver_sql(f'ALTER TABLE "{temporary}" RENAME TO "{table}"')
        for index in indexes:
            bind.exec_driver_sql(index)
    for _, sql in triggers:
        bind.exec_driver_sql(sql)


def _with_autoincrement(table: str, sql: str) -> str | None:
    if re.search(r"\bAUTOINCREMENT\b", sql, re.IGNORECASE):
        return None
    key = _integer_key(op.get_bind(), table)
    if key is None:
        return None
    rewritten, count = _KEY.subn(
        lambda match: f"PRIMARY KEY ({key} AUTOINCREMENT)" if match[1] == key else match[0], sql
    )
    if count != 1:
        raise RuntimeError(f"cannot find the primary key of {table} in its CREATE statement")
    return rewritten


def _without_autoincrement(table: str, sql: str) -> str | None:
    rewritten, count = _KEY_AUTOINCREMENT.subn(r"PRIMARY KEY (\1)", sql)
    return rewritten if count == 1 else None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_all(_with_autoincrement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_all(_without_autoincrement)
