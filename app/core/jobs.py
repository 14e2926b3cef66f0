"""What a background pass needs, as the passes see it.

The passes live in their domains (mail, webhooks, LDAP group sync) and in `app.registry`; the
context they are given is built by the composition root (`app.jobs.context.TaskContext`),
which also carries the registry clients. A Protocol keeps the domains below that root.
"""

from __future__ import annotations

from typing import Protocol

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings


class JobContext(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...

    # For the registry and the like, trusted and often on localhost. Webhooks are sent with a
    # client of their own that vets addresses (app.webhooks.client, opened by the sender).
    @property
    def http(self) -> httpx.AsyncClient: ...
