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
    # The current names of what the activity is about and of its recipient (a repository's
    # full name, a tag as `namespace/repository:tag`); null once deleted.
    trackable_name: str | None = None
    recipient_type: str | None
    recipient_id: int | None
    recipient_name: str | None = None
    parameters: dict[str, Any]
    created_at: datetime
