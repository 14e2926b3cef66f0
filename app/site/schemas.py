from __future__ import annotations

from pydantic import BaseModel, Field

from app.core.config import PushPolicy


class SignupSettings(BaseModel):
    enabled: bool = Field(
        description="`signup.enabled`, and LDAP off (directory users log in with their directory "
        "password instead)"
    )


class FirstUserSettings(BaseModel):
    users_exist: bool = Field(description="false until somebody has an account")
    admin: bool = Field(description="`first_user_admin.enabled`: the first account is an admin")
    create_admin: bool = Field(
        description='nobody has an account yet and the first becomes an admin: the "Create '
        'admin" form (`POST /api/v1/users/bootstrap`)'
    )


class LdapPublicSettings(BaseModel):
    enabled: bool = Field(description='sign in against LDAP (the button says "LDAP Login")')


class DeletePublicSettings(BaseModel):
    enabled: bool = Field(
        description="`delete.enabled`: namespaces, teams, repositories and tags may be deleted "
        "(by administrators and owners)"
    )
    contributors: bool = Field(description="`delete.contributors`: contributors may delete too")


class UserPermissionSettings(BaseModel):
    change_visibility: bool
    create_team: bool
    manage_team: bool
    create_namespace: bool
    manage_namespace: bool
    create_webhook: bool
    manage_webhook: bool
    push_images: PushPolicy = Field(description="`user_permission.push_images.policy`")


class PaginationPublicSettings(BaseModel):
    per_page: int = Field(description="default `per_page` of the lists")
    max_per_page: int = Field(description="the largest `per_page` a list accepts")
    before_after: int = Field(description="page links shown around the current page")


class OAuthProvider(BaseModel):
    name: str
    label: str
    url: str = Field(
        description="where the sign-in button leads (add `?return_to=/path` to come back there)"
    )


class OAuthPublicSettings(BaseModel):
    local_login: bool = Field(description="the username/password form is shown")
    providers: list[OAuthProvider] = Field(
        description="OAuth / OpenID Connect sign-in buttons, one per enabled provider"
    )


class PublicSettings(BaseModel):
    """What the web UI needs to know before anyone signs in. Nothing secret: no host names,
    keys, passwords or addresses, only switches."""

    version: str
    signup: SignupSettings
    first_user: FirstUserSettings
    ldap: LdapPublicSettings
    anonymous_browsing: bool = Field(description="anonymous visitors may explore public images")
    password_reset: bool = Field(description="the forgotten-password link works (mail, no LDAP)")
    display_name: bool = Field(description="`display_name.enabled`: users may set one")
    gravatar: bool = Field(description="`gravatar.enabled`: avatars come from Gravatar")
    delete: DeletePublicSettings
    user_permission: UserPermissionSettings
    pagination: PaginationPublicSettings
    oauth: OAuthPublicSettings
