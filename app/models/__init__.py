"""Every table; Alembic imports this module to see the whole metadata."""

from app.core.db import Base
from app.models.activity import Activity
from app.models.enums import EventStatus, LdapCheck, Role, Visibility
from app.models.namespace import Namespace
from app.models.registry import Registry
from app.models.registry_event import RegistryEvent
from app.models.repository import Repository, RepositoryCountChange
from app.models.setup_step import SetupStep
from app.models.star import Comment, Star
from app.models.tag import Tag
from app.models.task_run import TaskRun
from app.models.team import Team, TeamUser
from app.models.token import ApplicationToken, RefreshToken, WebSession
from app.models.user import User

__all__ = [
    "Activity",
    "ApplicationToken",
    "Base",
    "Comment",
    "EventStatus",
    "LdapCheck",
    "Namespace",
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
]
