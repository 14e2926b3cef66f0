from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ActivityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    key: str
    trackable_type: str
    trackable_id: int | None
    owner_id: int | None
    owner_name: str | None = None
    recipient_type: str | None
    recipient_id: int | None
    parameters: dict[str, Any]
    created_at: datetime
