"""Every table; Alembic imports this module to see the whole metadata."""

from app.core.db import Base
from app.models.activity import Activity
from app.models.enums import (
    DeliveryStatus,
    EventStatus,
    Role,
    Visibility,
    WebhookContentType,
    WebhookMethod,
)
from app.models.namespace import Namespace
from app.models.registry import Registry
from app.models.registry_event import RegistryEvent
from app.models.repository import Repository
from app.models.setup_step import SetupStep
from app.models.star import Comment, Star
from app.models.tag import Tag
from app.models.team import Team, TeamUser
from app.models.token import ApplicationToken, RefreshToken, WebSession
from app.models.user import User
from app.models.webhook import Webhook, WebhookAttempt, WebhookDelivery, WebhookHeader

__all__ = [
    "Activity",
    "ApplicationToken",
    "Base",
    "Comment",
    "DeliveryStatus",
    "EventStatus",
    "Namespace",
    "RefreshToken",
    "Registry",
    "RegistryEvent",
    "Repository",
    "Role",
    "SetupStep",
    "Star",
    "Tag",
    "Team",
    "TeamUser",
    "User",
    "Visibility",
    "WebSession",
    "Webhook",
    "WebhookAttempt",
    "WebhookContentType",
    "WebhookDelivery",
    "WebhookHeader",
    "WebhookMethod",
]
