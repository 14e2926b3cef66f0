from __future__ import annotations

import pytest

from app.auth.errors import TokenRequestError
from app.auth.scope import parse_scope, parse_scopes


class TestParseScope:
    def test_repository(self) -> None:
        scope = parse_scope("repository:alice/hello:pull,push")
        assert (scope.type, scope.name, scope.actions) == (
            "repository",
            "alice/hello",
            frozenset({"pull", "push"}),
        )
        assert scope.namespace_name == "alice"

    def test_global_namespace_has_no_namespace_part(self) -> None:
        assert parse_scope("repository:busybox:pull").namespace_name is None

    def test_nested_repository_names(self) -> None:
        assert parse_scope("repository:team/app/web:pull").namespace_name == "team"

    def test_class_suffix_is_the_same_type(self) -> None:
        assert parse_scope("repository(plugin):alice/p:pull").type == "repository"

    def test_star_action(self) -> None:
        assert parse_scope("repository:a/b:*").actions == frozenset({"*"})

    def test_catalog(self) -> None:
        scope = parse_scope("registry:catalog:*")
        assert (scope.type, scope.name) == ("registry", "catalog")

    @pytest.mark.parametrize(
        "text",
        [
            "repository",
            "repository:alice",
            ":alice/b:pull",
            "repository::pull",
            "repository:Alice/Hello:pull",
            "repository:alice//b:pull",
            "REPO:alice/b:pull",
            "repository:alice/b:pu$h",
        ],
    )
    def test_malformed(self, text: str) -> None:
        with pytest.raises(TokenRequestError, match="malformed scope"):
            parse_scope(text)


def test_scopes_are_split_on_spaces_and_merged() -> None:
    scopes = parse_scopes(["repository:a/b:pull repository:c/d:push", "repository:a/b:push"])
    merged = {(s.type, s.name): s.actions for s in scopes}
    assert merged == {
        ("repository", "a/b"): frozenset({"pull", "push"}),
        ("repository", "c/d"): frozenset({"push"}),
    }


def test_near_miss_names_are_refused_in_linear_time() -> None:
    """A name that almost matches must not make the regex backtrack exponentially (it runs
    before authentication, on the event loop)."""
    import time

    started = time.perf_counter()
    for length in (30, 200, 5000):
        with pytest.raises(TokenRequestError):
            parse_scope(f"repository:{'a' * length}!:pull")
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("name", ["a--b__c.d/e", "team/app-web/v2", "a" * 255])
def test_valid_names(name: str) -> None:
    assert parse_scope(f"repository:{name}:pull").name == name


def test_names_over_255_characters_are_refused() -> None:
    with pytest.raises(TokenRequestError):
        parse_scope(f"repository:{'a' * 256}:pull")
