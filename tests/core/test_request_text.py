"""Every text field of every request body is checked text, and every name a checked name: a
bare `str` added later would let NUL (or, through the service's own parsing, worse) reach the
database, so this walks the routes instead of trusting a list."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import AfterValidator, BaseModel
from pydantic.fields import FieldInfo

from app.core.config import Settings
from app.core.names import DisplayName
from app.core.params import Text
from app.main import create_app
from tests.test_routes import _routes

# Fields whose value names a thing other people see.
NAME_FIELDS = {"name", "username", "display_name", "application"}
# Fields of those names that name nothing shown: a login, HTTP credentials, a header name (which
# has its own token grammar).
NOT_NAMING = {
    "SessionCreate.username",
    "WebhookCreate.username",
    "WebhookUpdate.username",
    "WebhookHeaderCreate.name",
    # accepted as Portus's clients send it, and ignored: a repository is named by its pushes
    "RepositoryUpdateFields.name",
}


def _own_validator(alias: Any) -> Any:
    """The validator an Annotated alias adds last (DisplayName's comes after Text's)."""
    return [m for m in typing.get_args(alias)[1:] if isinstance(m, AfterValidator)][-1].func


TEXT_CHECK = _own_validator(Text)
NAME_CHECK = _own_validator(DisplayName)
assert TEXT_CHECK is not NAME_CHECK


def _validators(annotation: Any, metadata: list[Any]) -> set[Any]:
    found = {m.func for m in metadata if isinstance(m, AfterValidator)}
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Annotated:
            found |= {m.func for m in arg.__metadata__ if isinstance(m, AfterValidator)}
    return found


def _is_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_is_text(arg) for arg in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _is_text(typing.get_args(annotation)[0])
    return False


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def _text_fields(
    model: type[BaseModel], seen: set[type[BaseModel]]
) -> Iterator[tuple[str, str, FieldInfo]]:
    if model in seen:
        return
    seen.add(model)
    for name, field in model.model_fields.items():
        if _is_text(field.annotation):
            yield model.__name__, name, field
        for nested in _models(field.annotation):
            yield from _text_fields(nested, seen)


def request_text_fields(settings: Settings) -> list[tuple[str, str, FieldInfo]]:
    fields: list[tuple[str, str, FieldInfo]] = []
    seen: set[type[BaseModel]] = set()
    for _path, route in _routes(create_app(settings)):
        for param in route.dependant.body_params:
            for model in _models(param.field_info.annotation):
                fields.extend(_text_fields(model, seen))
    return fields


def test_the_walk_finds_the_request_bodies(settings: Settings) -> None:
    found = {f"{model}.{name}" for model, name, _ in request_text_fields(settings)}
    assert {"TeamCreate.name", "UserCreateFields.username", "WebhookCreate.url"} <= found


def test_every_text_field_of_a_request_body_is_checked_text(settings: Settings) -> None:
    unchecked = [
        f"{model}.{name}"
        for model, name, field in request_text_fields(settings)
        if TEXT_CHECK not in _validators(field.annotation, field.metadata)
    ]
    assert unchecked == []


def test_every_name_of_a_request_body_is_a_checked_name(settings: Settings) -> None:
    unchecked = [
        f"{model}.{name}"
        for model, name, field in request_text_fields(settings)
        if name in NAME_FIELDS
        and f"{model}.{name}" not in NOT_NAMING
        and NAME_CHECK not in _validators(field.annotation, field.metadata)
    ]
    assert unchecked == []
