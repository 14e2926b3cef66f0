"""SQL-side visibility filters, so that list endpoints cannot forget the policy."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, true

from app.authz.principal import Principal
from app.models import Namespace, Team, TeamUser, Visibility


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
