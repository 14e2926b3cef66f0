"""Why the REST API refuses a delete: `delete.enabled` first, then what may never be deleted,
then the caller's role (the rule of `test_token_matrix.may_delete`)."""

from __future__ import annotations

import pytest

from app.authz import policy
from app.authz.principal import ANONYMOUS, Principal, PrincipalKind
from app.core.config import Settings
from app.models import Role
from tests.conftest import make_settings

ADMIN = Principal(PrincipalKind.user, user_id=1, username="root", admin=True)
USER = Principal(PrincipalKind.user, user_id=2, username="alice")
NOT_ALLOWED = "you may not delete in this namespace"


def facts(role: Role | None = None, *, global_: bool = False) -> policy.NamespaceFacts:
    return policy.NamespaceFacts(id=7, global_=global_, role=role)


def flags(settings: Settings, *, enabled: bool = True, contributors: bool = False) -> Settings:
    return make_settings(settings, delete={"enabled": enabled, "contributors": contributors})


class TestRepositoryDeleteRefusal:
    @pytest.mark.parametrize(
        ("principal", "role", "contributors", "expected"),
        [
            (ADMIN, None, False, None),
            (USER, Role.owner, False, None),
            (USER, Role.contributor, True, None),
            (USER, Role.contributor, False, NOT_ALLOWED),
            (USER, Role.viewer, True, NOT_ALLOWED),
            (USER, None, True, NOT_ALLOWED),
            (ANONYMOUS, None, True, NOT_ALLOWED),
        ],
    )
    def test_by_role(
        self,
        settings: Settings,
        principal: Principal,
        role: Role | None,
        contributors: bool,
        expected: str | None,
    ) -> None:
        config = flags(settings, contributors=contributors)
        assert policy.repository_delete_refusal(principal, facts(role), config) == expected

    @pytest.mark.parametrize("principal", [ADMIN, USER])
    def test_disabled_comes_first(self, settings: Settings, principal: Principal) -> None:
        config = flags(settings, enabled=False)
        refusal = policy.repository_delete_refusal(principal, facts(Role.owner), config)
        assert refusal == policy.DELETE_DISABLED == "deleting is disabled (delete.enabled)"


class TestTagDeleteRefusal:
    def test_names_tags(self, settings: Settings) -> None:
        config = flags(settings)
        assert policy.tag_delete_refusal(USER, facts(Role.owner), config) is None
        assert (
            policy.tag_delete_refusal(USER, facts(Role.viewer), config)
            == "you may not delete tags in this namespace"
        )
        disabled = flags(settings, enabled=False)
        assert policy.tag_delete_refusal(ADMIN, facts(), disabled) == policy.DELETE_DISABLED


class TestNamespaceDeleteRefusal:
    @pytest.mark.parametrize(
        ("principal", "role", "global_", "personal", "expected"),
        [
            (ADMIN, None, False, False, None),
            (USER, Role.owner, False, False, None),
            (ADMIN, None, True, False, "the global namespace cannot be deleted"),
            (ADMIN, None, False, True, "a personal namespace cannot be deleted"),
            (USER, Role.owner, False, True, "a personal namespace cannot be deleted"),
            (USER, Role.viewer, True, False, "the global namespace cannot be deleted"),
            (USER, Role.viewer, False, False, NOT_ALLOWED),
        ],
    )
    def test_cases(
        self,
        settings: Settings,
        principal: Principal,
        role: Role | None,
        global_: bool,
        personal: bool,
        expected: str | None,
    ) -> None:
        refusal = policy.namespace_delete_refusal(
            principal, facts(role, global_=global_), flags(settings), personal=personal
        )
        assert refusal == expected

    def test_disabled_comes_first(self, settings: Settings) -> None:
        refusal = policy.namespace_delete_refusal(
            ADMIN, facts(global_=True), flags(settings, enabled=False), personal=True
        )
        assert refusal == policy.DELETE_DISABLED
