"""Recording the audit trail (Portus activity keys: `repository.push`, `namespace.create`, ...)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Activity


def record(
    session: AsyncSession,
    key: str,
    *,
    trackable_type: str,
    trackable_id: int | None,
    owner_id: int | None,
    recipient_type: str | None = None,
    recipient_id: int | None = None,
    parameters: dict[str, Any] | None = None,
) -> None:
    session.add(
        Activity(
            key=key,
            trackable_type=trackable_type,
            trackable_id=trackable_id,
            owner_id=owner_id,
            recipient_type=recipient_type,
            recipient_id=recipient_id,
            parameters=parameters or {},
        )
    )


_INSERT = insert(cast(Table, Activity.__table__))


async def record_now(
    session: AsyncSession,
    key: str,
    *,
    trackable_type: str,
    trackable_id: int | None,
    owner_id: int | None,
    recipient_type: str | None = None,
    recipient_id: int | None = None,
    parameters: dict[str, Any] | None = None,
) -> None:
    """`record`, written at once by one INSERT rather than at the next flush (hot paths: the
    unit of work costs more CPU than the statement)."""
    await session.execute(
        _INSERT,
        {
            "key": key,
            "trackable_type": trackable_type,
            "trackable_id": trackable_id,
            "owner_id": owner_id,
            "recipient_type": recipient_type,
            "recipient_id": recipient_id,
            "parameters": parameters or {},
        },
    )
