"""The permission matrix of Portus 2.4 (registry actions), as pure functions.

Shared by `/v2/token` and the REST API so that both agree to the letter. Inputs are plain facts
(who asks, what the namespace is, what the caller's team role there is, the config flags); nothing
here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.authz.principal import Principal
from app.core.config import Settings
from app.models.enums import Role, Visibility

PULL = "pull"
PUSH = "push"
DELETE = "delete"
ALL = "*"
REPOSITORY_ACTIONS = (PULL, PUSH, DELETE)


@dataclass(frozen=True)
class NamespaceFacts:
    """A namespace as policy sees it. `id=None` means it does not exist (yet)."""

    id: int | None
    visibility: Visibility = Visibility.private
    global_: bool = False
    role: Role | None = None  # the caller's role in the namespace's team


UNKNOWN_NAMESPACE = NamespaceFacts(id=None)


def can_pull(principal: Principal, namespace: NamespaceFacts) -> bool:
    if principal.admin:
        return True
    if namespace.id is None:
        return False
    if namespace.visibility is Visibility.public:
        return True
    if not principal.authenticated:
        return False
    if namespace.visibility is Visibility.protected:
        return True
    return namespace.role is not None


def can_push(principal: Principal, namespace: NamespaceFacts, settings: Settings) -> bool:
    if principal.admin:
        return True
    if not principal.authenticated or namespace.id is None:
        return False
    policy = settings.user_permission.push_images.policy
    if policy == "allow-teams":
        return namespace.role in (Role.owner, Role.contributor)
    if policy == "allow-personal":
        return namespace.id == principal.personal_namespace_id
    return False  # admin-only (and any value the config validation would have refused)


def can_delete(principal: Principal, namespace: NamespaceFacts, settings: Settings) -> bool:
    if not settings.delete.enabled:
        return False
    if principal.admin:
        return True
    if not principal.authenticated or namespace.id is None:
        return False
    if namespace.role is Role.owner:
        return True
    return settings.delete.contributors and namespace.role is Role.contributor


def repository_actions(
    principal: Principal, namespace: NamespaceFacts, requested: set[str], settings: Settings
) -> list[str]:
    """The requested actions that policy allows, in a stable order.

    `*` is answered with `*` when the caller holds every action (pull, push and delete), as
    Portus answers it: registries up to 2.6 ask for `*` to delete, and every registry reads `*`
    as any action. Otherwise it is answered with the actions the caller holds, so a token never
    claims more than was checked. Unknown actions are dropped.
    """
    wanted = set(REPOSITORY_ACTIONS) if ALL in requested else requested & set(REPOSITORY_ACTIONS)
    checks = {
        PULL: lambda: can_pull(principal, namespace),
        PUSH: lambda: can_push(principal, namespace, settings),
        DELETE: lambda: can_delete(principal, namespace, settings),
    }
    held = [action for action in REPOSITORY_ACTIONS if action in wanted and checks[action]()]
    if ALL in requested and len(held) == len(REPOSITORY_ACTIONS):
        return [ALL, *(action for action in held if action in requested)]
    return held


def catalog_actions(principal: Principal, requested: set[str]) -> list[str]:
    """`registry:catalog:*` lists every repository: administrators only."""
    if ALL in requested and principal.admin:
        return [ALL]
    return []


def can_change_visibility(
    principal: Principal, namespace: NamespaceFacts, settings: Settings
) -> bool:
    """Admins; owners when `user_permission.change_visibility` is on (never on the global one)."""
    if principal.admin:
        return True
    return (
        settings.user_permission.change_visibility.enabled
        and namespace.role is Role.owner
        and not namespace.global_
    )


def _owner_may_manage(principal: Principal, namespace: NamespaceFacts, settings: Settings) -> bool:
    return principal.admin or (
        settings.user_permission.manage_namespace.enabled and namespace.role is Role.owner
    )


def can_manage_namespace(
    principal: Principal, namespace: NamespaceFacts, settings: Settings
) -> bool:
    """Name and description (reference §6.2, "namespace update"): admins; owners when
    `user_permission.manage_namespace` is on, in a namespace they may push to (so not under
    `admin-only`, and only their personal namespace under `allow-personal`)."""
    return _owner_may_manage(principal, namespace, settings) and can_push(
        principal, namespace, settings
    )


def can_rename_namespace(
    principal: Principal, namespace: NamespaceFacts, settings: Settings
) -> bool:
    """`can_manage_namespace`, never the global one (its name is the registry's)."""
    return can_manage_namespace(principal, namespace, settings) and not namespace.global_


def can_change_namespace_team(
    principal: Principal, namespace: NamespaceFacts, settings: Settings
) -> bool:
    """Admins; owners when `user_permission.manage_namespace` is on (no push right needed),
    never for the global namespace (it stays with the administrators' team)."""
    return _owner_may_manage(principal, namespace, settings) and not namespace.global_


# --- teams (reference §6.2) ------------------------------------------------------------------
@dataclass(frozen=True)
class TeamFacts:
    hidden: bool
    role: Role | None  # the caller's role in the team


def can_see_team(principal: Principal, team: TeamFacts) -> bool:
    """Show, members: administrators and members. Hidden teams (personal, global) are nobody's
    to see: the system manages them."""
    return not team.hidden and (principal.admin or team.role is not None)


def can_create_team(principal: Principal, settings: Settings) -> bool:
    return principal.admin or settings.user_permission.create_team.enabled


def can_choose_team_owner(principal: Principal) -> bool:
    """`owner_id` on team creation: administrators only (others own the teams they create)."""
    return principal.admin


def can_update_team(principal: Principal, team: TeamFacts, settings: Settings) -> bool:
    if team.hidden:
        return False
    if principal.admin:
        return True
    return settings.user_permission.manage_team.enabled and team.role is Role.owner


def can_delete_team(principal: Principal, team: TeamFacts, settings: Settings) -> bool:
    if not settings.delete.enabled or team.hidden:
        return False
    if principal.admin or team.role is Role.owner:
        return True
    return settings.delete.contributors and team.role is Role.contributor


def can_manage_members(principal: Principal, team: TeamFacts) -> bool:
    return not team.hidden and (principal.admin or team.role is Role.owner)


def can_exclude_from_ldap_sync(principal: Principal, team: TeamFacts) -> bool:
    """`POST /teams/:id/ldap_check`: the team's owners or an administrator."""
    return can_manage_members(principal, team)


# --- namespaces (reference §6.2) -------------------------------------------------------------
def can_create_namespace(principal: Principal, team: TeamFacts, settings: Settings) -> bool:
    """create_namespace (or admin), and push rights on the new namespace: under allow-teams the
    caller owns or contributes to the chosen team; other policies leave it to administrators.
    Never in a hidden team (personal, global): the system manages those."""
    if team.hidden:
        return False
    if principal.admin:
        return True
    if not settings.user_permission.create_namespace.enabled:
        return False
    new_namespace = NamespaceFacts(id=0, role=team.role)
    return can_push(principal, new_namespace, settings)


def can_delete_namespace(
    principal: Principal, namespace: NamespaceFacts, settings: Settings, *, personal: bool
) -> bool:
    if namespace.global_ or personal:
        return False
    return can_delete(principal, namespace, settings)


# Why the REST API refuses a delete (None: it does not). The reason completes
# "Authorization fails: ..."; `delete.enabled` comes first, whoever asks.
DELETE_DISABLED = "deleting is disabled (delete.enabled)"


def tag_delete_refusal(
    principal: Principal, namespace: NamespaceFacts, settings: Settings
) -> str | None:
    """`DELETE /tags/:id`: a tag of the namespace."""
    if not settings.delete.enabled:
        return DELETE_DISABLED
    if not can_delete(principal, namespace, settings):
        return "you may not delete tags in this namespace"
    return None


def repository_delete_refusal(
    principal: Principal, namespace: NamespaceFacts, settings: Settings
) -> str | None:
    """`DELETE /repositories/:id`: a repository of the namespace."""
    if not settings.delete.enabled:
        return DELETE_DISABLED
    if not can_delete(principal, namespace, settings):
        return "you may not delete in this namespace"
    return None


def namespace_delete_refusal(
    principal: Principal, namespace: NamespaceFacts, settings: Settings, *, personal: bool
) -> str | None:
    """`DELETE /namespaces/:id`: never the global namespace nor a personal one."""
    if not settings.delete.enabled:
        return DELETE_DISABLED
    if namespace.global_:
        return "the global namespace cannot be deleted"
    if personal:
        return "a personal namespace cannot be deleted"
    if not can_delete_namespace(principal, namespace, settings, personal=personal):
        return "you may not delete in this namespace"
    return None


# --- repositories ------------------------------------------------------------------------------
def can_update_repository(principal: Principal, namespace: NamespaceFacts) -> bool:
    """The description: administrators and owners of the namespace's team."""
    return principal.admin or namespace.role is Role.owner


def can_comment(principal: Principal, namespace: NamespaceFacts) -> bool:
    return principal.authenticated and can_pull(principal, namespace)


def can_delete_comment(principal: Principal, *, author_id: int | None) -> bool:
    """Its author, or an administrator."""
    return principal.admin or (author_id is not None and author_id == principal.user_id)


# --- webhooks (reference §6.2) -----------------------------------------------------------------
# The global namespace's webhooks (pushes to repositories without a namespace) are for
# administrators only: its team is the hidden team of the administrators, so "owner" means
# nothing more there. Portus hid that namespace from webhook lists instead, which left its events
# without webhooks.
def can_see_webhooks(principal: Principal, namespace: NamespaceFacts) -> bool:
    """List and show (deliveries included): administrators and members of the namespace's team."""
    if principal.admin:
        return True
    return namespace.role is not None and not namespace.global_


def can_create_webhook(principal: Principal, namespace: NamespaceFacts, settings: Settings) -> bool:
    """Create and delete webhooks, add and remove headers: administrators; namespace owners when
    `user_permission.create_webhook` is on."""
    if principal.admin:
        return True
    return (
        settings.user_permission.create_webhook.enabled
        and namespace.role is Role.owner
        and not namespace.global_
    )


def can_manage_webhook(principal: Principal, namespace: NamespaceFacts, settings: Settings) -> bool:
    """Update, toggle, re-send a delivery, rotate the signing secret: administrators; namespace
    owners when `user_permission.manage_webhook` is on."""
    if principal.admin:
        return True
    return (
        settings.user_permission.manage_webhook.enabled
        and namespace.role is Role.owner
        and not namespace.global_
    )


def can_see_webhook_secrets(principal: Principal, namespace: NamespaceFacts) -> bool:
    """Header values (the custom headers, and the request and response headers in the attempt
    log): administrators and the namespace's owners. Every other member sees every value masked:
    whether a header is a credential cannot be told from its name (`X-Hub-Key`, `X-Auth`, ...)."""
    if principal.admin:
        return True
    return namespace.role is Role.owner and not namespace.global_


# --- users and their tokens ---------------------------------------------------------------------
def can_manage_tokens_of(principal: Principal, user_id: int) -> bool:
    """List and revoke a user's application and refresh tokens: the user, or an administrator."""
    return principal.admin or principal.user_id == user_id


def can_create_token_for(principal: Principal, user_id: int) -> bool:
    """Users create their own tokens; administrators anybody's, as Portus 2.4 lets them (its
    API checked no owner at all: anybody could make a token for anybody). The user is told by
    mail and the activity names the administrator."""
    return principal.user_id == user_id or principal.admin


def can_disable_user(principal: Principal, user_id: int) -> bool:
    """Administrators disable anybody; a user may disable themself (the last-administrator rule
    is a fact about the database, checked by the caller)."""
    return principal.admin or principal.user_id == user_id


def can_enable_user(principal: Principal, user_id: int) -> bool:
    """Administrators enable others; a disabled account cannot enable itself."""
    return principal.admin and principal.user_id != user_id


def can_set_admin(principal: Principal, user_id: int) -> bool:
    """Toggle the admin flag: administrators, never on themselves."""
    return principal.admin and principal.user_id != user_id


def can_delete_user(principal: Principal, user_id: int) -> bool:
    """Administrators, never themselves."""
    return principal.admin and principal.user_id != user_id


# --- operations ----------------------------------------------------------------------------------
def can_see_health_details(principal: Principal) -> bool:
    """`/api/v1/health` tells anybody up or down; what failed and why, host names, revisions
    and queue counts map the installation: administrators only."""
    return principal.admin


# --- password reset ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountFacts:
    bot: bool
    enabled: bool
    has_password: bool  # a local password (directory users have none here)
    internal: bool  # the hidden `portus` user


def password_reset_available(settings: Settings) -> bool:
    """Reset links need mail; with LDAP the directory owns passwords (Portus disables recovery)."""
    return settings.email.smtp.enabled and not settings.ldap.enabled


def can_reset_password(account: AccountFacts) -> bool:
    """Anybody holding the mailbox of a local, enabled person: never bots (tokens only), the
    internal user, or accounts without a local password (whose password lives elsewhere)."""
    return account.enabled and account.has_password and not account.bot and not account.internal


# --- what the web UI shows: the caller's rights on each object, computed here only ---------------
# The UI never decides policy: it reads these flags to show or hide actions, and the API still
# refuses. Each flag is the very function the corresponding operation checks.
@dataclass(frozen=True)
class NamespacePermissions:
    role: Role | None  # the caller's role in the namespace's team
    pull: bool
    push: bool
    webhooks: bool  # may see the namespace's webhooks
    visibility: bool  # may change the visibility


@dataclass(frozen=True)
class NamespaceFlags:
    permissions: NamespacePermissions
    updatable: bool  # name and description (`can_manage_namespace`)
    destroyable: bool  # `can_delete_namespace`


def namespace_flags(
    principal: Principal, namespace: NamespaceFacts, settings: Settings, *, personal: bool
) -> NamespaceFlags:
    return NamespaceFlags(
        permissions=NamespacePermissions(
            role=namespace.role,
            pull=can_pull(principal, namespace),
            push=can_push(principal, namespace, settings),
            webhooks=can_see_webhooks(principal, namespace),
            visibility=can_change_visibility(principal, namespace, settings),
        ),
        updatable=can_manage_namespace(principal, namespace, settings),
        destroyable=can_delete_namespace(principal, namespace, settings, personal=personal),
    )


@dataclass(frozen=True)
class RepositoryPermissions:
    role: Role | None  # the caller's role in the namespace's team
    pull: bool
    push: bool


def repository_permissions(
    principal: Principal, namespace: NamespaceFacts, settings: Settings
) -> RepositoryPermissions:
    return RepositoryPermissions(
        role=namespace.role,
        pull=can_pull(principal, namespace),
        push=can_push(principal, namespace, settings),
    )


@dataclass(frozen=True)
class TeamFlags:
    role: Role | None
    updatable: bool
    destroyable: bool


def team_flags(principal: Principal, team: TeamFacts, settings: Settings) -> TeamFlags:
    return TeamFlags(
        role=team.role,
        updatable=can_update_team(principal, team, settings),
        destroyable=can_delete_team(principal, team, settings),
    )


@dataclass(frozen=True)
class WebhookFlags:
    updatable: bool  # update, toggle, re-send (`can_manage_webhook`)
    destroyable: bool  # delete (`can_create_webhook`: the same right creates and deletes)


def webhook_flags(
    principal: Principal, namespace: NamespaceFacts, settings: Settings
) -> WebhookFlags:
    return WebhookFlags(
        updatable=can_manage_webhook(principal, namespace, settings),
        destroyable=can_create_webhook(principal, namespace, settings),
    )


def can_look_up_usernames(principal: Principal, *, owns_a_team: bool) -> bool:
    """The username typeahead (adding team members): administrators, and owners of a team,
    who are the only ones that may add members. Others have no use for a list of accounts."""
    return principal.admin or (principal.authenticated and owns_a_team)


def can_change_registry_hostname(*, repositories: int) -> bool:
    """Tokens, events and deletes all name the registry by its hostname: it is locked once the
    registry holds repositories (administrators only reach the registries at all)."""
    return repositories == 0
