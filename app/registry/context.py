"""What a registry pass (catalog sync, garbage collector) needs: a job's context plus clients
for the stored registries (built by `app.jobs.context`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from app.core.jobs import JobContext
from app.models import Registry
from app.registry.client import RegistryClient


class RegistryJobContext(JobContext, Protocol):
    # A client for a stored registry that authenticates as the internal identity.
    @property
    def client_for(self) -> Callable[[Registry], RegistryClient]: ...
