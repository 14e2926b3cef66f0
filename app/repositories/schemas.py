from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class NamespaceRef(BaseModel):
    id: int
    name: str


class RepositoryRead(BaseModel):
    id: int
    name: str
    full_name: str
    description: str | None
    namespace: NamespaceRef
    tags_count: int
    created_at: datetime
    updated_at: datetime


class AuthorRef(BaseModel):
    id: int | None
    name: str | None


class TagRead(BaseModel):
    id: int
    name: str
    digest: str
    media_type: str | None
    image_id: str | None
    size: int | None
    author: AuthorRef
    pulled_at: datetime | None
    created_at: datetime
    updated_at: datetime
