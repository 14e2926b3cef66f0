"""Every table; Alembic imports this module to see the whole metadata."""

from app.core.db import Base
from app.models.activity import Activity
from app.models.enums import (
    DeliveryStatus,
    EventStatus,
    LdapCheck,
    MailStatus,
    Role,
    Visibility,
    WebhookContentType,
    WebhookMethod,
)
from app.models.login_failure import AccountLoginFailure, LoginFailure
from app.models.mail import MailMessage
from app.models.namespace import Namespace
from app.models.oauth import OAuthLogin, OAuthSignup
from app.models.portus_import import PortusImport
from app.models.registry import Registry
from app.models.registry_event import RegistryEvent
from app.models.repository import Repository, RepositoryCountChange
from app.models.setup_step import SetupStep
from app.models.star import Comment, Star
from app.models.tag import Tag
from app.models.task_run import TaskRun
from app.models.team import Team, TeamUser
from app.models.token import ApplicationToken, PasswordResetToken, RefreshToken, WebSession
from app.models.user import User
from app.models.webhook import Webhook, WebhookAttempt, WebhookDelivery, WebhookHeader

__all__ = [
    "AccountLoginFailure",
    "Activity",
    "ApplicationToken",
    "Base",
    "Comment",
    "DeliveryStatus",
    "EventStatus",
    "LdapCheck",
    "LoginFailure",
    "MailMessage",
    "MailStatus",
    "Namespace",
    "OAuthLogin",
    "OAuthSignup",
    "PasswordResetToken",
    "PortusImport",
    "RefreshToken",
    "Registry",
    "RegistryEvent",
    "Repository",
    "RepositoryCountChange",
    "Role",
    "SetupStep",
    "Star",
    "Tag",
    "TaskRun",
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
