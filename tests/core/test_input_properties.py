"""Parsers of untrusted input answer a value or the application's 4xx error, nothing else."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.auth.errors import TokenRequestError
from app.auth.scope import Scope, parse_scope, parse_scopes
from app.core.errors import AppError, BadRequest, Invalid
from app.core.pagination import PageParams, decode_cursor
from app.core.text import JsonRefused, load_json, text_problem
from app.models import Repository
from app.registry.events.service import parse_envelope

# Every code point, lone surrogates and NUL included (hypothesis leaves surrogates out unless
# asked: the category list names them).
ANY_TEXT = st.text(st.characters(codec=None, categories=None, exclude_categories=()), max_size=40)
WEIRD_TEXT = st.one_of(
    ANY_TEXT,
    st.sampled_from(["\ud800", "\udfff", "a\x00b", "\u202e", "\ud83d\ude00", "x" * 300]),
)
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
JSON_VALUES = st.recursive(
    st.one_of(NUMBERS, WEIRD_TEXT),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(WEIRD_TEXT, children, max_size=4)
    ),
    max_leaves=20,
)
# Raw documents: valid JSON (surrogates escaped), hand-made edge cases and byte soup.
SPECIAL_DOCUMENTS = st.sampled_from(
    [
        b"[" * 100_000,
        b'{"events": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"9" * 5000,
        b"1e999",
        b"-Infinity",
        b"NaN",
        b'"\\ud800"',
        b'{"\\udfff": 1}',
        b'{"events": [{"id": "\\ud800", "action": "push", "target": {"repository": "a"}}]}',
        b'{"events": [{"id": "x", "action": "push", "target": {"repository": "\\ud800"}}]}',
        b"\xff\xfe\x00",
        b"",
    ]
)
DOCUMENTS = st.one_of(
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    JSON_VALUES.map(lambda value: json.dumps({"events": [value]}).encode()),
    SPECIAL_DOCUMENTS,
    st.binary(max_size=64),
)
E = TypeVar("E", bound=Exception)


def attempt(call: Callable[[], Any], expected: type[E]) -> tuple[Any, E | None]:
    """`call`'s value, or the `expected` error it raised (any other error fails the test)."""
    try:
        return call(), None
    except expected as exc:
        return None, exc


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def storable(value: Any) -> bool:
    """Every string of `value` (keys too) encodes, as the database drivers will encode it."""
    if isinstance(value, str):
        return text_problem(value) is None
    if isinstance(value, dict):
        return all(storable(k) and storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(storable(item) for item in value)
    return True


class TestLoadJson:
    @PROPERTY
    @given(DOCUMENTS)
    def test_a_document_is_parsed_storable_or_refused(self, raw: bytes) -> None:
        value, error = attempt(lambda: load_json(raw), JsonRefused)
        assert error is not None or storable(value)

    def test_deep_nesting_is_refused_without_recursing(self) -> None:
        for raw in (b"[" * 100_000, b"[" * 100 + b"]" * 100):
            with pytest.raises(JsonRefused, match="nested deeper"):
                load_json(raw)


class TestCursorDecoder:
    KEYS = PageParams(page=1, per_page=10, all=False, sort_attr="name").sort_keys(
        {"id": Repository.id, "name": Repository.name, "created_at": Repository.created_at}
    )

    @PROPERTY
    @given(
        st.one_of(
            ANY_TEXT,
            DOCUMENTS.map(lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()),
            st.tuples(WEIRD_TEXT, NUMBERS).map(
                lambda v: base64.urlsafe_b64encode(
                    json.dumps({"s": "name", "o": "asc", "v": list(v)}).encode()
                ).decode()
            ),
        )
    )
    def test_a_cursor_decodes_to_storable_values_or_is_a_422(self, cursor: str) -> None:
        values, error = attempt(lambda: decode_cursor(cursor, self.KEYS), Invalid)
        if error is not None:
            assert error.status_code == 422
            assert list(error.message) == ["after"]
            return
        assert len(values) == 2
        assert isinstance(values[0], str) and text_problem(values[0]) is None
        assert type(values[1]) is int

    def test_the_lone_surrogate_of_the_report_is_a_422(self) -> None:
        raw = json.dumps({"s": "name", "o": "asc", "v": ["\ud800", 1]}).encode()
        cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        with pytest.raises(Invalid):
            decode_cursor(cursor, self.KEYS)


class TestEventParser:
    @PROPERTY
    @given(DOCUMENTS)
    def test_an_envelope_parses_to_storable_events_or_is_a_400(self, raw: bytes) -> None:
        events, error = attempt(lambda: parse_envelope(raw), BadRequest)
        if error is not None:
            assert error.status_code == 400
            assert isinstance(error.message, str)
            json.dumps(error.message).encode()  # the answer itself can be sent
            return
        assert all(isinstance(event.id, str) and event.id for event in events)
        assert storable([event.payload for event in events])


class TestScopeParser:
    @PROPERTY
    @given(
        st.one_of(
            WEIRD_TEXT,
            st.tuples(WEIRD_TEXT, WEIRD_TEXT, WEIRD_TEXT).map(":".join),
            st.tuples(st.sampled_from(["repository", "registry"]), WEIRD_TEXT, WEIRD_TEXT).map(
                ":".join
            ),
        )
    )
    def test_a_scope_parses_or_is_a_token_error(self, text: str) -> None:
        scope, error = attempt(lambda: parse_scope(text), TokenRequestError)
        if error is not None:
            assert 400 <= error.status_code < 500
            return
        assert isinstance(scope, Scope)
        if scope.type == "repository":
            assert text_problem(scope.name) is None
            scope.name.encode()

    @PROPERTY
    @given(st.lists(WEIRD_TEXT, max_size=4))
    def test_scope_lists_parse_or_are_a_token_error(self, values: list[str]) -> None:
        scopes, error = attempt(lambda: parse_scopes(values), TokenRequestError)
        assert error is not None or all(isinstance(scope, Scope) for scope in scopes)


def test_app_errors_are_4xx() -> None:
    # The types the properties accept are all client errors.
    for error in (BadRequest("x"), Invalid({"after": ["x"]})):
        assert isinstance(error, AppError)
        assert 400 <= error.status_code < 500
