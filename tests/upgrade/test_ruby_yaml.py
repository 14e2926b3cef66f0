"""public_activity's parameters, as Psych wrote them, read without loading any Ruby object."""

from __future__ import annotations

import pytest

from app.upgrade.ruby_yaml import UnreadableParameters, parse_parameters


def test_symbol_keys_and_values_become_strings() -> None:
    text = "---\n:namespace_id: 5\n:namespace_name: web\n:visibility: :visibility_public\n"
    assert parse_parameters(text) == {
        "namespace_id": 5,
        "namespace_name": "web",
        "visibility": "visibility_public",
    }


def test_a_quoted_string_keeps_its_colon() -> None:
    assert parse_parameters('---\n:note: ":not a symbol"\n') == {"note": ":not a symbol"}


def test_ruby_tags_give_their_plain_data() -> None:
    text = (
        "--- !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
        "team: devs\n"
        "obj: !ruby/object:Namespace\n  attributes:\n    id: 3\n"
        "when: 2018-01-02 10:00:00.000000000 Z\n"
        "bin: !binary |-\n  aGVsbG8=\n"
    )
    assert parse_parameters(text) == {
        "team": "devs",
        "obj": {"attributes": {"id": 3}},
        "when": "2018-01-02T10:00:00+00:00",
        "bin": "hello",
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("--- !!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
        ("--- [1, 2]\n", "a list, not a hash"),
        ("---\n:a: [unclosed\n", "not YAML"),
        ("x: " + "y" * 70_000, "longer than"),
        (
            "a: &a [1,2,3,4,5,6,7,8,9]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
            "more than 10000 values",
        ),
    ],
)
def test_unreadable_parameters_are_refused(text: str, reason: str) -> None:
    with pytest.raises(UnreadableParameters, match=reason):
        parse_parameters(text)


def test_no_parameters_is_an_empty_hash() -> None:
    assert parse_parameters(None) == {} and parse_parameters("--- \n") == {}
