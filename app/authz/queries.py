"""SQL-side visibility filters, so that list endpoints cannot forget the policy."""

from __future__ import annotations

from sqlalchemy import ColumnElement, null, or_, select, true, type_coerce

from app.authz.principal import Principal
from app.models import Namespace, Role, Team, TeamUser, Visibility


def readable_namespaces(principal: Principal) -> ColumnElement[bool]:
    """The namespaces whose repositories `principal` may pull (policy.can_pull, in SQL)."""
    if principal.admin:
        return true()
    if not principal.authenticated:
        return Namespace.visibility == Visibility.public
    member_teams = select(TeamUser.team_id).where(TeamUser.user_id == principal.user_id)
    return or_(
        Namespace.visibility.in_([Visibility.public, Visibility.protected]),
        Namespace.team_id.in_(member_teams),
    )


def visible_teams(principal: Principal) -> ColumnElement[bool]:
    """The teams `principal` may see (policy.can_see_team, in SQL): never a hidden one;
    administrators every other one, others their own."""
    visible: ColumnElement[bool] = Team.hidden.is_(False)
    if principal.admin:
        return visible
    return visible & Team.id.in_(
        select(TeamUser.team_id).where(TeamUser.user_id == principal.user_id)
    )


def role_in_namespace(principal: Principal) -> ColumnElement[Role | None]:
    """The caller's role in the team of the namespace of the row (a correlated subquery on
    `Namespace`; NULL for a non-member, always for an anonymous caller): the `role` fact of
    `policy.NamespaceFacts`, for a whole page of rows in the page's own query."""
    if principal.user_id is None:
        return type_coerce(null(), TeamUser.role.type)
    return (
        select(TeamUser.role)
        .where(TeamUser.team_id == Namespace.team_id, TeamUser.user_id == principal.user_id)
        .correlate(Namespace)
        .scalar_subquery()
    )


def role_in_team(principal: Principal) -> ColumnElement[Role | None]:
    """The caller's role in the team of the row (a correlated subquery on `Team`): the `role`
    fact of `policy.TeamFacts`."""
    if principal.user_id is None:
        return type_coerce(null(), TeamUser.role.type)
    return (
        select(TeamUser.role)
        .where(TeamUser.team_id == Team.id, TeamUser.user_id == principal.user_id)
        .correlate(Team)
        .scalar_subquery()
    )
