"""The installation's public settings: the switches of `config.yml` that decide what the web UI
offers (sign-up, LDAP, deleting, what users may do), and whether anybody has an account yet."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz import policy
from app.core.config import Settings
from app.core.pagination import MAX_PER_PAGE
from app.core.version import VERSION
from app.oauth.providers import enabled_providers
from app.site.schemas import (
    DeletePublicSettings,
    FirstUserSettings,
    LdapPublicSettings,
    OAuthProvider,
    OAuthPublicSettings,
    PaginationPublicSettings,
    PublicSettings,
    SignupSettings,
    UserPermissionSettings,
)
from app.users import service as users


async def public_settings(session: AsyncSession, settings: Settings) -> PublicSettings:
    users_exist = await users.any_user_exists(session)
    permissions = settings.user_permission
    return PublicSettings(
        version=VERSION,
        # The same conditions as `POST /users/signup` checks.
        signup=SignupSettings(enabled=settings.signup.enabled and not settings.ldap.enabled),
        first_user=FirstUserSettings(
            users_exist=users_exist,
            admin=settings.first_user_admin.enabled,
            create_admin=not users_exist and settings.first_user_admin.enabled,
        ),
        ldap=LdapPublicSettings(enabled=settings.ldap.enabled),
        anonymous_browsing=settings.anonymous_browsing.enabled,
        password_reset=policy.password_reset_available(settings),
        display_name=settings.display_name.enabled,
        gravatar=settings.gravatar.enabled,
        delete=DeletePublicSettings(
            enabled=settings.delete.enabled, contributors=settings.delete.contributors
        ),
        user_permission=UserPermissionSettings(
            change_visibility=permissions.change_visibility.enabled,
            create_team=permissions.create_team.enabled,
            manage_team=permissions.manage_team.enabled,
            create_namespace=permissions.create_namespace.enabled,
            manage_namespace=permissions.manage_namespace.enabled,
            create_webhook=permissions.create_webhook.enabled,
            manage_webhook=permissions.manage_webhook.enabled,
            push_images=permissions.push_images.policy,
        ),
        pagination=PaginationPublicSettings(
            per_page=settings.pagination.per_page,
            max_per_page=MAX_PER_PAGE,
            before_after=settings.pagination.before_after,
        ),
        oauth=OAuthPublicSettings(
            local_login=settings.oauth.local_login.enabled,
            providers=[
                OAuthProvider(
                    name=provider.name,
                    label=provider.label,
                    url=f"/api/v1/oauth/{provider.name}/start",
                )
                for provider in enabled_providers(settings).values()
            ],
        ),
    )
