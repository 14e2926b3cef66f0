from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, UtcDateTime, utcnow


class TaskRun(Base):
    """One pass of a periodic background task (sync, garbage collector, ...), by whichever
    process ran it: the shared record of when each task last ran and how it went."""

    __tablename__ = "task_runs"
    __table_args__ = (Index("ix_task_runs_task_id", "task", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    worker: Mapped[str] = mapped_column(String(255))  # host:pid
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    summary: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
