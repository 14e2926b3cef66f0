from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.dependencies import AdminUser, CurrentUser, Public
from app.core.config import Settings
from app.core.db import DbSession
from app.core.errors import FeatureDisabled
from app.core.openapi import error_responses
from app.core.pagination import Pagination, set_page_headers
from app.core.params import ResourceId, Text
from app.core.state import SettingsDep, State
from app.mail import notices
from app.models import User
from app.users import password_reset, service
from app.users.schemas import (
    AdminUpdate,
    ApplicationTokenCreate,
    ApplicationTokenCreated,
    ApplicationTokenRead,
    BootstrapCreate,
    EnabledUpdate,
    PasswordReset,
    PasswordResetRequest,
    PasswordResetRequested,
    RefreshTokenRead,
    UserCreate,
    UserCreated,
    UserDetail,
    UserRead,
    UserUpdate,
    avatars,
)

router = APIRouter(prefix="/users", tags=["users"])


def _detail(settings: Settings, user: User, counts: tuple[int, int]) -> UserDetail:
    read = UserRead.model_validate(user, context=avatars(settings))
    namespaces, teams = counts
    return UserDetail(**read.model_dump(), namespaces_count=namespaces, teams_count=teams)


ERRORS = error_responses(401, 403, 404, 422)


@router.post(
    "/bootstrap",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Public],
    responses=error_responses((400, "Users already exist"), (405, "Disabled"), 422),
)
async def bootstrap_admin(
    body: BootstrapCreate, session: DbSession, state: State
) -> ApplicationTokenCreated:
    """Create the first administrator and return an application token for the API."""
    if not state.settings.first_user_admin.enabled:
        raise FeatureDisabled("first_user_admin is disabled: create administrators another way")
    fields = body.user
    await service.refuse_directory_name(state.ldap, fields.username)
    _, token, plain = await service.bootstrap(
        session,
        state.digester,
        service.NewUser(
            username=fields.username,
            email=fields.email,
            password=fields.password,
            display_name=fields.display_name,
        ),
    )
    return ApplicationTokenCreated(id=token.id, application=token.application, plain_token=plain)


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Public],
    responses=error_responses(
        (405, "Sign-up is disabled (signup.enabled, or LDAP on), or nobody is set up yet"), 422
    ),
)
async def sign_up(body: BootstrapCreate, session: DbSession, state: State) -> UserRead:
    """Create one's own account (`signup.enabled`; never with LDAP, whose users log in with
    their directory password). A plain user with a personal namespace; log in with
    `POST /api/v1/session` next."""
    settings = state.settings
    if not settings.signup.enabled or settings.ldap.enabled:
        raise FeatureDisabled("sign-up is disabled: ask an administrator for an account")
    if await service.count_users(session) == 0:
        raise FeatureDisabled("no administrator yet: POST /api/v1/users/bootstrap first")
    fields = body.user
    user = await service.create_user(
        session,
        service.NewUser(
            username=fields.username,
            email=fields.email,
            password=fields.password,
            display_name=fields.display_name,
        ),
        actor_id=None,
    )
    return UserRead.model_validate(user, context=avatars(settings))


# Declared before `PUT /users/{user_id}`, which would otherwise take `password_reset` for an id.
@router.post(
    "/password_reset",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Public],
    responses=error_responses((405, "No mail, or LDAP is on"), 422),
)
async def request_password_reset(
    body: PasswordResetRequest, session: DbSession, state: State
) -> PasswordResetRequested:
    """Mails a single-use reset link (valid 6 hours) if a person's local account has this
    address. The answer is the same whether it does or not."""
    await password_reset.request_reset(session, state.settings, state.digester, body.email)
    return PasswordResetRequested(
        message="If this address belongs to an account, a mail with a reset link is on its way"
    )


@router.put(
    "/password_reset",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[Public],
    responses=error_responses((405, "LDAP is on"), (422, "Invalid or used token, bad password")),
)
async def reset_password(body: PasswordReset, session: DbSession, state: State) -> None:
    """Sets the password with the token from the mail, once; every session and identity token
    of the user ends."""
    await password_reset.reset_password(
        session, state.settings, state.digester, body.token, body.password
    )


@router.get("", responses=ERRORS)
async def list_users(
    request: Request,
    response: Response,
    session: DbSession,
    settings: SettingsDep,
    _admin: AdminUser,
    pagination: Pagination,
) -> list[UserDetail]:
    """Every user (administrators), with how many namespaces and teams each belongs to."""
    total, users = await service.list_users(
        session,
        offset=pagination.offset,
        limit=pagination.limit,
        order=pagination.order_by(service.USER_SORT),
    )
    set_page_headers(request, response, pagination, total)
    counts = await service.membership_counts(session, [user.id for user in users])
    # A user deleted since the page was read (a GET reads without a transaction) is left out.
    return [_detail(settings, user, counts[user.id]) for user in users if user.id in counts]


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def create_user(
    body: UserCreate, session: DbSession, state: State, admin: AdminUser
) -> UserCreated:
    """A user, or a bot (`bot: true`): a bot gets no personal namespace and no password login,
    and its first application token ("default") is returned this once."""
    fields = body.user
    await service.refuse_directory_name(state.ldap, fields.username)
    user = await service.create_user(
        session,
        service.NewUser(
            username=fields.username,
            email=fields.email,
            password=fields.password,
            bot=fields.bot,
            display_name=fields.display_name,
        ),
        actor_id=admin.user_id,
    )
    notices.welcome(session, state.settings, user)
    created = UserCreated.model_validate(user, context=avatars(state.settings))
    if user.bot:
        token, plain = await service.create_application_token(
            session, state.digester, user, "default", actor_id=admin.user_id
        )
        created.application_token = ApplicationTokenCreated(
            id=token.id, application=token.application, plain_token=plain
        )
    return created


TYPEAHEAD_MAX = 25


# Declared before `GET /users/{id_or_email}`, which would otherwise take `typeahead` for an email.
@router.get(
    "/typeahead",
    summary="Usernames starting with a prefix",
    responses=error_responses(401, (403, "Neither an administrator nor a team owner"), 422),
)
async def username_typeahead(
    q: Annotated[Text, Query(min_length=1, max_length=255, description="prefix, any case")],
    session: DbSession,
    principal: CurrentUser,
    limit: Annotated[int, Query(ge=1, le=TYPEAHEAD_MAX)] = 10,
) -> list[str]:
    """For adding team members: usernames of enabled accounts that start with `q`, in order.
    Administrators and team owners only; nothing but the usernames."""
    return await service.username_typeahead(session, principal, q, limit=limit)


@router.get("/{id_or_email}", responses=ERRORS)
async def get_user(
    id_or_email: Text, session: DbSession, settings: SettingsDep, _admin: AdminUser
) -> UserDetail:
    """By numeric id or by email."""
    user = await service.get_user(session, id_or_email)
    counts = await service.membership_counts(session, [user.id])
    return _detail(settings, user, counts.get(user.id, (0, 0)))


@router.put("/{user_id}", responses=ERRORS)
async def update_user(
    user_id: ResourceId, body: UserUpdate, session: DbSession, state: State, admin: AdminUser
) -> UserRead:
    """A new password also ends the user's browser sessions and identity-token (docker login)
    logins, and the user is told by mail."""
    fields = body.user
    if fields.username is not None and state.ldap is not None:
        current = await service.get_user(session, str(user_id))
        if fields.username != current.username:
            await service.refuse_directory_name(state.ldap, fields.username)
    user = await service.update_user(
        session,
        admin,
        user_id,
        username=fields.username,
        email=fields.email,
        password=fields.password,
        display_name=fields.display_name,
    )
    if fields.password is not None:
        notices.password_changed(session, state.settings, user, "admin")
    return UserRead.model_validate(user, context=avatars(state.settings))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def delete_user(user_id: ResourceId, session: DbSession, admin: AdminUser) -> None:
    """Activities and tags stay (anonymised); memberships and tokens go."""
    await service.delete_user(session, admin, user_id)


@router.put("/{user_id}/enabled", responses=ERRORS)
async def set_user_enabled(
    user_id: ResourceId,
    body: EnabledUpdate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> UserRead:
    """Administrators (de)activate anybody; users may disable themselves (not the last admin)."""
    user = await service.set_enabled(session, principal, user_id, enabled=body.enabled)
    return UserRead.model_validate(user, context=avatars(settings))


@router.put("/{user_id}/admin", responses=ERRORS)
async def set_user_admin(
    user_id: ResourceId,
    body: AdminUpdate,
    session: DbSession,
    settings: SettingsDep,
    admin: AdminUser,
) -> UserRead:
    """Never on oneself."""
    user = await service.set_admin(session, admin, user_id, admin=body.admin)
    return UserRead.model_validate(user, context=avatars(settings))


@router.get("/{user_id}/application_tokens", responses=ERRORS)
async def list_application_tokens(
    user_id: ResourceId, session: DbSession, principal: CurrentUser
) -> list[ApplicationTokenRead]:
    """The owner's or, for an administrator, anybody's tokens (names only)."""
    tokens = await service.list_tokens(session, principal, user_id)
    return [ApplicationTokenRead.model_validate(token) for token in tokens]


@router.post("/{user_id}/application_tokens", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def create_application_token(
    user_id: ResourceId,
    body: ApplicationTokenCreate,
    session: DbSession,
    state: State,
    principal: CurrentUser,
) -> ApplicationTokenCreated:
    """The owner for themself, or an administrator for anybody (as in Portus 2.4): the activity
    names who did it, and the user is told by mail (when mail is on)."""
    user, token, plain = await service.issue_application_token(
        session, state.digester, principal, user_id, body.application
    )
    by = principal.username if principal.user_id != user.id else None
    notices.application_token(session, state.settings, user, token.application, created=True, by=by)
    return ApplicationTokenCreated(id=token.id, application=token.application, plain_token=plain)


@router.delete(
    "/application_tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS
)
async def delete_application_token(
    token_id: ResourceId, session: DbSession, state: State, principal: CurrentUser
) -> None:
    token = await service.delete_token(session, principal, token_id)
    owner = await service.find_user(session, token.user_id)
    if owner is not None:
        by = principal.username if principal.user_id != owner.id else None
        notices.application_token(
            session, state.settings, owner, token.application, created=False, by=by
        )


@router.get("/{user_id}/refresh_tokens", responses=ERRORS)
async def list_refresh_tokens(
    user_id: ResourceId, session: DbSession, principal: CurrentUser
) -> list[RefreshTokenRead]:
    """The identity-token logins (docker login, ...) of a user: the owner or an administrator."""
    tokens = await service.list_refresh_tokens(session, principal, user_id)
    return [RefreshTokenRead.model_validate(token) for token in tokens]


@router.delete(
    "/{user_id}/refresh_tokens", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS
)
async def revoke_refresh_tokens(
    user_id: ResourceId, session: DbSession, principal: CurrentUser
) -> None:
    """Revoke every identity token of the user (log docker out everywhere)."""
    await service.revoke_refresh_tokens(session, principal, user_id)


@router.delete(
    "/{user_id}/refresh_tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERRORS,
)
async def revoke_refresh_token(
    user_id: ResourceId, token_id: ResourceId, session: DbSession, principal: CurrentUser
) -> None:
    await service.revoke_refresh_tokens(session, principal, user_id, token_id)
