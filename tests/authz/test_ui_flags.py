"""The flags the API shows the web UI (`policy.*_flags`, `repository_permissions`) say exactly
what the operations decide: over the worlds of the reference tables (test_policy_table), each
flag equals the table's answer for the operation it stands for."""

from __future__ import annotations

import pytest

from app.authz import policy
from app.models.enums import Role
from tests.authz.test_policy_table import (
    CALLERS,
    KNOBS,
    NAMESPACES,
    PERSONAL_ID,
    TEAM_CALLERS,
    TEAMS,
    Knobs,
    expected,
    namespace_facts,
    principal,
    reference_namespace,
    reference_team,
    settings_for,
    team_facts,
)

# The UI shows namespaces that exist.
SHOWN = [namespace for namespace in NAMESPACES if namespace != "unknown"]


@pytest.mark.parametrize("knobs", KNOBS, ids=str)
@pytest.mark.parametrize("namespace", SHOWN)
@pytest.mark.parametrize("caller", CALLERS)
def test_namespace_repository_and_webhook_flags(caller: str, namespace: str, knobs: Knobs) -> None:
    who, settings = principal(caller), settings_for(knobs)
    facts = namespace_facts(caller, namespace)
    want = expected("namespace", (caller, namespace), reference_namespace(caller, namespace, knobs))
    flags = policy.namespace_flags(who, facts, settings, personal=facts.id == PERSONAL_ID)
    permissions = flags.permissions
    assert permissions.role is facts.role
    assert permissions.pull == ("pull" in want)
    assert permissions.push == ("push" in want)
    assert permissions.webhooks == ("see_webhooks" in want)
    assert permissions.visibility == ("change_visibility" in want)
    assert flags.updatable == ("update_namespace" in want)
    assert flags.destroyable == ("delete_namespace" in want)

    repository = policy.repository_permissions(who, facts, settings)
    assert (repository.role, repository.pull, repository.push) == (
        facts.role,
        "pull" in want,
        "push" in want,
    )

    webhooks = policy.webhook_flags(who, facts, settings)
    assert webhooks.updatable == ("manage_webhook" in want)
    assert webhooks.destroyable == ("create_webhook" in want)


@pytest.mark.parametrize("knobs", KNOBS, ids=str)
@pytest.mark.parametrize("team", TEAMS)
@pytest.mark.parametrize("caller", TEAM_CALLERS)
def test_team_flags(caller: str, team: str, knobs: Knobs) -> None:
    who, facts, settings = principal(caller), team_facts(caller, team), settings_for(knobs)
    want = expected("team", (caller, team), reference_team(caller, team, knobs))
    flags = policy.team_flags(who, facts, settings)
    assert flags.role is facts.role
    assert flags.updatable == ("update_team" in want)
    assert flags.destroyable == ("delete_team" in want)
    # The username typeahead is for those who may add members to a (visible) team: admins, and
    # its owners.
    if team == "team":
        owns = facts.role is Role.owner
        may_add_members = "manage_members" in want
        assert policy.can_look_up_usernames(who, owns_a_team=owns) == may_add_members


@pytest.mark.parametrize("caller", CALLERS)
def test_the_typeahead_refuses_anonymous_callers(caller: str) -> None:
    who = principal(caller)
    assert policy.can_look_up_usernames(who, owns_a_team=False) == who.admin
    if not who.authenticated:
        assert not policy.can_look_up_usernames(who, owns_a_team=True)


@pytest.mark.parametrize(("repositories", "allowed"), [(0, True), (1, False), (500, False)])
def test_the_registry_hostname_is_locked_by_repositories(repositories: int, allowed: bool) -> None:
    assert policy.can_change_registry_hostname(repositories=repositories) is allowed
