"""`app.authz.policy`, pure and without a database, against tables written from the reference
(`/work/shared/reference/portus-2.4.md`: §6 "Permissions matrix", §2.1 special objects, §5 API
rules, §7 bots and tokens), not from the code. Each expectation quotes the rule it transcribes.

Where this implementation departs from Portus on purpose, the departure is a `Deviation` below
(saying where it is documented), and the tables expect our rule in exactly those cells;
`test_every_deviation_departs` fails when one no longer departs from the reference. Everything
else follows the reference to the letter.

Worlds: who asks (an administrator, the internal `portus` identity, a team's owner, contributor
or viewer, a bot contributor, a logged-in stranger, nobody) x what (a private, protected or public
team namespace, the owner's personal namespace, the global namespace public or protected, a
namespace that does not exist) x the settings (push_images.policy, delete.enabled,
delete.contributors, every user_permission flag on or off).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from app.authz import policy
from app.authz.policy import UNKNOWN_NAMESPACE, AccountFacts, NamespaceFacts, TeamFacts
from app.authz.principal import ANONYMOUS, INTERNAL, Principal, PrincipalKind
from app.core.config import Settings
from app.models.enums import Role, Visibility

POLICIES = ("allow-teams", "allow-personal", "admin-only")
FLAGS = (
    "change_visibility",
    "create_team",
    "manage_team",
    "create_namespace",
    "manage_namespace",
    "create_webhook",
    "manage_webhook",
)


@dataclass(frozen=True)
class Knobs:
    push: str = "allow-teams"
    delete_enabled: bool = True
    delete_contributors: bool = False
    flags: bool = True  # every user_permission.<FLAGS>.enabled

    def __str__(self) -> str:
        delete = "delete" if self.delete_enabled else "no-delete"
        contributors = "+contributors" if self.delete_contributors else ""
        return f"{self.push}/{delete}{contributors}/{'flags' if self.flags else 'no-flags'}"


KNOBS = [
    Knobs(push, enabled, contributors, flags)
    for push, enabled, contributors, flags in itertools.product(
        POLICIES, (True, False), (False, True), (True, False)
    )
]


@cache
def settings_for(knobs: Knobs) -> Settings:
    flag = {"enabled": knobs.flags}
    return Settings(
        secret_key_base="policy-table",
        delete={"enabled": knobs.delete_enabled, "contributors": knobs.delete_contributors},
        user_permission={"push_images": {"policy": knobs.push}, **dict.fromkeys(FLAGS, flag)},
    )


@dataclass(frozen=True)
class Deviation:
    """A cell where we decide otherwise than Portus, on purpose."""

    table: str
    action: str
    applies: Callable[..., bool]  # called with the table's world
    ours: bool
    why: str


# --- who asks -------------------------------------------------------------------------------------
CALLERS = ("admin", "internal", "owner", "contributor", "viewer", "bot", "other", "anonymous")
# Roles in the team of the team namespaces. A bot is a user like any other (§7): here a
# contributor.
TEAM_ROLE = {
    "owner": Role.owner,
    "contributor": Role.contributor,
    "viewer": Role.viewer,
    "bot": Role.contributor,
}
GLOBAL_ID, TEAM_NAMESPACE_ID, PERSONAL_ID = 1, 3, 7  # PERSONAL_ID: the owner's personal namespace


def principal(caller: str) -> Principal:
    user = PrincipalKind.user
    return {
        "admin": Principal(user, user_id=1, username="root", admin=True, personal_namespace_id=5),
        "internal": INTERNAL,
        "owner": Principal(user, user_id=2, username="olive", personal_namespace_id=PERSONAL_ID),
        "contributor": Principal(user, user_id=3, username="carl", personal_namespace_id=8),
        "viewer": Principal(user, user_id=4, username="vera", personal_namespace_id=9),
        # Bots get no personal namespace (§2.1, §7).
        "bot": Principal(user, user_id=6, username="ci-bot", bot=True),
        "other": Principal(user, user_id=5, username="stranger", personal_namespace_id=10),
        "anonymous": ANONYMOUS,
    }[caller]


def is_admin(caller: str) -> bool:
    """The `portus` user is an administrator (§2.1: created by the seed as admin)."""
    return caller in ("admin", "internal")


# --- namespaces -----------------------------------------------------------------------------------
NAMESPACES = (
    "private",
    "protected",
    "public",
    "personal",
    "global",
    "global-protected",  # the global namespace is public by default; an admin may protect it
    "unknown",
)


def namespace_facts(caller: str, namespace: str) -> NamespaceFacts:
    if namespace == "unknown":
        return UNKNOWN_NAMESPACE
    if namespace.startswith("global"):
        # Its hidden team's owners are the administrators (§2.1), nobody else.
        visibility = Visibility.protected if namespace.endswith("protected") else Visibility.public
        role = Role.owner if caller == "admin" else None
        return NamespaceFacts(GLOBAL_ID, visibility, global_=True, role=role)
    if namespace == "personal":
        # Private, its hidden team's only member (owner) is the user (§2.1).
        role = Role.owner if caller == "owner" else None
        return NamespaceFacts(PERSONAL_ID, Visibility.private, role=role)
    return NamespaceFacts(TEAM_NAMESPACE_ID, Visibility[namespace], role=TEAM_ROLE.get(caller))


REGISTRY_ACTIONS = ("pull", "push", "delete")


def reference_namespace(caller: str, namespace: str, knobs: Knobs) -> dict[str, bool]:
    admin, logged_in = is_admin(caller), caller != "anonymous"
    role = namespace_facts(caller, namespace).role
    owner, contributor, member = role is Role.owner, role is Role.contributor, role is not None
    global_ = namespace.startswith("global")

    # §6.1 pull: "portus user always; public: anyone incl. anonymous; protected: any logged-in
    # user; private: admin or any team member (viewer+); global namespace: any logged-in (and it
    # is public by default); unknown namespace: admin only"
    if admin:
        pull = True
    elif namespace == "unknown":
        pull = False
    elif namespace in ("public", "global"):
        pull = True
    elif not logged_in:
        pull = False
    elif namespace in ("protected", "global-protected"):
        pull = True
    else:
        pull = member
    # §6.1 push: "must be logged in; admin always. allow-teams: owner or contributor of the
    # namespace's team (so a user pushes to their personal namespace; global namespace =
    # admins). allow-personal: only the user's own personal namespace. admin-only: nobody else."
    if not logged_in:
        push = False
    elif admin:
        push = True
    elif knobs.push == "allow-teams":
        push = owner or contributor
    elif knobs.push == "allow-personal":
        push = namespace == "personal" and caller == "owner"
    else:
        push = False
    # §6.1 delete: "delete.enabled && (admin or owner or (delete.contributors and contributor))"
    delete = knobs.delete_enabled and (
        admin or owner or (knobs.delete_contributors and contributor)
    )
    cells = {"pull": pull, "push": push, "delete": delete}
    if namespace == "unknown":
        return cells  # the API's operations all start from an existing namespace

    flag = knobs.flags
    cells |= {
        # "namespace change visibility: admin or (change_visibility and owner and not global)"
        "change_visibility": admin or (flag and owner and not global_),
        # "namespace update (name/description): (admin or (manage_namespace and owner)) and push?"
        "update_namespace": (admin or (flag and owner)) and push,
        "rename_namespace": (admin or (flag and owner)) and push,
        # "namespace change team: admin or (manage_namespace and owner)"
        "change_namespace_team": admin or (flag and owner),
        # "namespace delete: delete.enabled and not global and not personal and (admin or owner
        # or contributors-flag and contributor)"
        "delete_namespace": delete and not global_ and namespace != "personal",
        # "repository update (description): admin or owner"
        "update_repository": admin or owner,
        # "comment create: admin or public or protected or team member" (comments are UI JSON
        # endpoints, §5, behind a login)
        "comment": logged_in
        and (admin or member or namespace in ("public", "protected", "global", "global-protected")),
        # "webhook list/show: admin or team member"
        "see_webhooks": admin or member,
        # "webhook create/delete (and headers): admin or (create_webhook and namespace owner)"
        "create_webhook": admin or (flag and owner),
        # "webhook update/toggle, retrigger delivery: admin or (manage_webhook and namespace owner)"
        "manage_webhook": admin or (flag and owner),
        # Portus has no rule (it even returns the webhook password); see DEVIATIONS.
        "see_webhook_secrets": admin or member,
    }
    return cells


NAMESPACE_CHECKS: dict[str, Callable[[Principal, NamespaceFacts, Settings], bool]] = {
    "pull": lambda p, n, s: policy.can_pull(p, n),
    "push": policy.can_push,
    "delete": policy.can_delete,
    "change_visibility": policy.can_change_visibility,
    "update_namespace": policy.can_manage_namespace,
    "rename_namespace": policy.can_rename_namespace,
    "change_namespace_team": policy.can_change_namespace_team,
    "delete_namespace": lambda p, n, s: policy.can_delete_namespace(
        p, n, s, personal=n.id == PERSONAL_ID
    ),
    "update_repository": lambda p, n, s: policy.can_update_repository(p, n),
    "comment": lambda p, n, s: policy.can_comment(p, n),
    "see_webhooks": lambda p, n, s: policy.can_see_webhooks(p, n),
    "create_webhook": policy.can_create_webhook,
    "manage_webhook": policy.can_manage_webhook,
    "see_webhook_secrets": lambda p, n, s: policy.can_see_webhook_secrets(p, n),
}


# --- teams ----------------------------------------------------------------------------------------
TEAM_CALLERS = ("admin", "owner", "contributor", "viewer", "other")
# A visible team (the caller's role as in TEAM_ROLE), and a hidden one (a personal team, owned
# by "owner"; or the global team, owned by the administrators: §2.1).
TEAMS = ("team", "hidden")


def team_facts(caller: str, team: str) -> TeamFacts:
    if team == "hidden":
        return TeamFacts(hidden=True, role=Role.owner if caller in ("admin", "owner") else None)
    return TeamFacts(hidden=False, role=TEAM_ROLE.get(caller))


def reference_team(caller: str, team: str, knobs: Knobs) -> dict[str, bool]:
    admin = caller == "admin"
    facts = team_facts(caller, team)
    owner, contributor = facts.role is Role.owner, facts.role is Role.contributor
    member, hidden, flag = facts.role is not None, facts.hidden, knobs.flags
    # "namespace create: (create_namespace or admin) and push? on the new namespace (so the user
    # must be owner/contributor of the chosen non-hidden team under allow-teams)"; §5: the team
    # "must be non-hidden". A new namespace is nobody's personal one: under allow-personal and
    # admin-only only administrators may push to it.
    push_on_new = admin or (knobs.push == "allow-teams" and (owner or contributor))
    return {
        # "team show/members: admin or member"
        "see_team": admin or member,
        # "team create: create_team or admin; setting owner_id is admin only"
        "create_team": admin or flag,
        "choose_team_owner": admin,
        # "team update: (manage_team or admin) and not hidden and (admin or owner)"
        "update_team": (flag or admin) and not hidden and (admin or owner),
        # "team delete: delete.enabled and not hidden and (admin or owner or
        # contributors-flag and contributor)" (Portus's raise for non-owners is not kept)
        "delete_team": knobs.delete_enabled
        and not hidden
        and (admin or owner or (knobs.delete_contributors and contributor)),
        # "add/remove/change member: admin or team owner"
        "manage_members": admin or owner,
        # §5 "POST /api/v1/teams/:id/ldap_check: owner/admin"
        "exclude_from_ldap_sync": admin or owner,
        "create_namespace": (flag or admin) and push_on_new and not hidden,
    }


TEAM_CHECKS: dict[str, Callable[[Principal, TeamFacts, Settings], bool]] = {
    "see_team": lambda p, t, s: policy.can_see_team(p, t),
    "create_team": lambda p, t, s: policy.can_create_team(p, s),
    "choose_team_owner": lambda p, t, s: policy.can_choose_team_owner(p),
    "update_team": policy.can_update_team,
    "delete_team": policy.can_delete_team,
    "manage_members": lambda p, t, s: policy.can_manage_members(p, t),
    "exclude_from_ldap_sync": lambda p, t, s: policy.can_exclude_from_ldap_sync(p, t),
    "create_namespace": policy.can_create_namespace,
}


# --- users and their tokens ----------------------------------------------------------------------
USER_CALLERS = ("admin", "person")
TARGETS = ("self", "person", "bot", "admin")  # whose tokens / which account
CALLER_ID = {"admin": 1, "person": 2}
TARGET_ID = {"person": 3, "bot": 4, "admin": 5}


def target_id(caller: str, target: str) -> int:
    return CALLER_ID[caller] if target == "self" else TARGET_ID[target]


def reference_user(caller: str, target: str) -> dict[str, bool]:
    admin, own = caller == "admin", target == "self"
    return {
        # "app token delete: owner of the token, or an admin for a bot's token" (list: "U
        # (quirk: no owner check)")
        "manage_tokens_of": own or (admin and target == "bot"),
        # "POST /api/v1/users/:id/application_tokens: U (quirk: no owner check)"
        "create_token_for": True,
        # "enable/disable user: admin on others. A user may disable themself unless they are
        # the last admin" (the last-admin rule is a count, not policy)
        "enable_user": admin and not own,
        "disable_user": admin or own,
        # "toggle admin: admin, not on self"
        "set_admin": admin and not own,
        # "DELETE /api/v1/users/:id: A"
        "delete_user": admin,
    }


USER_CHECKS: dict[str, Callable[[Principal, int, bool], bool]] = {
    "manage_tokens_of": lambda p, u, bot: policy.can_manage_tokens_of(p, u),
    "create_token_for": lambda p, u, bot: policy.can_create_token_for(p, u),
    "enable_user": lambda p, u, bot: policy.can_enable_user(p, u),
    "disable_user": lambda p, u, bot: policy.can_disable_user(p, u),
    "set_admin": lambda p, u, bot: policy.can_set_admin(p, u),
    "delete_user": lambda p, u, bot: policy.can_delete_user(p, u),
}


def user_principal(caller: str) -> Principal:
    return Principal(
        PrincipalKind.user, user_id=CALLER_ID[caller], username=caller, admin=caller == "admin"
    )


# --- where we depart from Portus on purpose ------------------------------------------------------
DEVIATIONS = [
    Deviation(
        "namespace",
        "rename_namespace",
        lambda caller, namespace: namespace.startswith("global"),
        False,
        "The global namespace keeps its name and team, administrators included: repositories "
        "without a namespace live in it (policy.can_rename_namespace / "
        "can_change_namespace_team; not in the README).",
    ),
    Deviation(
        "namespace",
        "change_namespace_team",
        lambda caller, namespace: namespace.startswith("global"),
        False,
        "As rename_namespace: the global namespace stays with the administrators' team.",
    ),
    Deviation(
        "namespace",
        "see_webhook_secrets",
        lambda caller, namespace: namespace_facts(caller, namespace).role not in (None, Role.owner),
        False,
        "Portus shows everything (even the password) to every member; README, Security model: "
        "header values for the namespace's owners and administrators only.",
    ),
    Deviation(
        "team",
        "see_team",
        lambda caller, team: team == "hidden",
        False,
        "Hidden teams (personal, global) are the system's: 404 for everybody (teams.load; "
        "Portus lists only non-hidden teams, §6.2 team list).",
    ),
    Deviation(
        "team",
        "manage_members",
        lambda caller, team: team == "hidden",
        False,
        "Hidden teams' members are managed by the system (the admin toggle, personal "
        "namespaces: §2.1).",
    ),
    Deviation(
        "team",
        "exclude_from_ldap_sync",
        lambda caller, team: team == "hidden",
        False,
        "The group sync never touches hidden teams (README, LDAP).",
    ),
    Deviation(
        "user",
        "manage_tokens_of",
        lambda caller, target: caller == "admin",
        True,
        "README, REST API: administrators may list and revoke anyone's tokens (Portus: only a "
        "bot's token).",
    ),
    Deviation(
        "user",
        "create_token_for",
        lambda caller, target: not (target == "self" or caller == "admin"),
        False,
        "README, Differences from Portus: users create their own tokens and administrators "
        "anybody's (Portus 2.4 allows that too); Portus's missing owner check would let anybody "
        "log in as anybody.",
    ),
    Deviation(
        "user",
        "delete_user",
        lambda caller, target: target == "self",
        False,
        "Administrators cannot delete themselves (users.service.delete_user's 403; not in the "
        "README).",
    ),
]


def expected(table: str, world: tuple[Any, ...], cells: dict[str, bool]) -> set[str]:
    for deviation in DEVIATIONS:
        if deviation.table == table and deviation.action in cells and deviation.applies(*world):
            cells[deviation.action] = deviation.ours
    return {action for action, allowed in cells.items() if allowed}


# --- the tables -----------------------------------------------------------------------------------
@pytest.mark.parametrize("knobs", KNOBS, ids=str)
@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("caller", CALLERS)
def test_namespace_table(caller: str, namespace: str, knobs: Knobs) -> None:
    who, settings = principal(caller), settings_for(knobs)
    facts = namespace_facts(caller, namespace)
    cells = reference_namespace(caller, namespace, knobs)
    want = expected("namespace", (caller, namespace), cells)
    got = {action for action in cells if NAMESPACE_CHECKS[action](who, facts, settings)}
    assert got == want, f"policy allows {sorted(got - want)}, refuses {sorted(want - got)}"
    # `*` in a token request: `*` when every registry action is held (as Portus answers it),
    # else the actions held, in a stable order.
    granted = policy.repository_actions(who, facts, {"*"}, settings)
    held = [action for action in REGISTRY_ACTIONS if action in want]
    assert granted == (["*"] if len(held) == len(REGISTRY_ACTIONS) else held)


@pytest.mark.parametrize("knobs", KNOBS, ids=str)
@pytest.mark.parametrize("team", TEAMS)
@pytest.mark.parametrize("caller", TEAM_CALLERS)
def test_team_table(caller: str, team: str, knobs: Knobs) -> None:
    who, facts, settings = principal(caller), team_facts(caller, team), settings_for(knobs)
    cells = reference_team(caller, team, knobs)
    want = expected("team", (caller, team), cells)
    got = {action for action in cells if TEAM_CHECKS[action](who, facts, settings)}
    assert got == want, f"policy allows {sorted(got - want)}, refuses {sorted(want - got)}"


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("caller", USER_CALLERS)
def test_user_table(caller: str, target: str) -> None:
    who, user_id = user_principal(caller), target_id(caller, target)
    cells = reference_user(caller, target)
    want = expected("user", (caller, target), cells)
    got = {action for action in cells if USER_CHECKS[action](who, user_id, target == "bot")}
    assert got == want, f"policy allows {sorted(got - want)}, refuses {sorted(want - got)}"


def test_every_deviation_departs() -> None:
    """Each listed deviation changes at least one cell of its table (else it is stale)."""
    worlds: dict[str, list[tuple[tuple[Any, ...], dict[str, bool]]]] = {
        "namespace": [
            ((c, n), reference_namespace(c, n, k))
            for c, n, k in itertools.product(CALLERS, NAMESPACES, KNOBS)
        ],
        "team": [
            ((c, t), reference_team(c, t, k))
            for c, t, k in itertools.product(TEAM_CALLERS, TEAMS, KNOBS)
        ],
        "user": [
            ((c, t), reference_user(c, t)) for c, t in itertools.product(USER_CALLERS, TARGETS)
        ],
    }
    for deviation in DEVIATIONS:
        assert any(
            deviation.action in cells
            and deviation.applies(*world)
            and cells[deviation.action] != deviation.ours
            for world, cells in worlds[deviation.table]
        ), f"{deviation.table}.{deviation.action} no longer departs from the reference"


# --- the rest -------------------------------------------------------------------------------------
@pytest.mark.parametrize("caller", CALLERS)
def test_catalog_is_for_administrators(caller: str) -> None:
    """§6.1 "registry:catalog:*: admin only" (the portus user is one)."""
    who = principal(caller)
    assert policy.catalog_actions(who, {"*"}) == (["*"] if is_admin(caller) else [])
    assert policy.catalog_actions(who, {"pull"}) == []


@pytest.mark.parametrize(
    ("caller", "author_id", "allowed"),
    [("admin", 2, True), ("owner", 2, True), ("contributor", 2, False), ("owner", None, False)],
)
def test_comment_delete(caller: str, author_id: int | None, allowed: bool) -> None:
    """§6.2 "Comment delete: admin or author" (the author of a deleted user's comment is gone)."""
    assert policy.can_delete_comment(principal(caller), author_id=author_id) is allowed


@pytest.mark.parametrize("caller", CALLERS)
def test_health_details(caller: str) -> None:
    """§5 has `/api/v1/health` answer everybody in full. Deviation (README, Security model):
    the details map the installation, so only administrators get them."""
    assert policy.can_see_health_details(principal(caller)) is is_admin(caller)


@pytest.mark.parametrize(
    ("smtp", "ldap", "available"),
    [(True, False, True), (True, True, False), (False, False, False), (False, True, False)],
)
def test_password_reset_available(smtp: bool, ldap: bool, available: bool) -> None:
    """§1.1 "ldap.enabled: disables signup and password recovery". Deviation (README, Mail):
    no sendmail fallback, so without SMTP there is no reset mail either."""
    settings = Settings(
        secret_key_base="policy-table",
        email={"smtp": {"enabled": smtp}},
        ldap={"enabled": ldap, "hostname": "ldap.test"},
    )
    assert policy.password_reset_available(settings) is available


@pytest.mark.parametrize(
    ("account", "allowed"),
    [
        (AccountFacts(bot=False, enabled=True, has_password=True, internal=False), True),
        # §2.1: the hidden portus user "cannot be edited, disabled or password-reset"
        (AccountFacts(bot=False, enabled=True, has_password=True, internal=True), False),
        # Deviations (README, Password reset: "an enabled, non-bot account with a local
        # password"): bots log in with tokens; a disabled account stays shut; a directory
        # user's password is the directory's.
        (AccountFacts(bot=True, enabled=True, has_password=True, internal=False), False),
        (AccountFacts(bot=False, enabled=False, has_password=True, internal=False), False),
        (AccountFacts(bot=False, enabled=True, has_password=False, internal=False), False),
    ],
)
def test_password_reset_accounts(account: AccountFacts, allowed: bool) -> None:
    assert policy.can_reset_password(account) is allowed


def test_the_internal_identity_is_an_administrator() -> None:
    """One administrator concept: policy asks `admin`, which the internal identity always has."""
    assert INTERNAL.admin
    with pytest.raises(ValueError, match="internal identity"):
        Principal(PrincipalKind.internal, username="portus")
    with pytest.raises(ValueError, match="anonymous"):
        Principal(PrincipalKind.anonymous, admin=True)
