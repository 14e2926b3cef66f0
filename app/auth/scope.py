"""Scopes of the token spec: `repository:<name>:<actions>`, `registry:catalog:*`."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from app.auth.errors import TokenRequestError
from app.core.names import is_repository_name

_TYPE = re.compile(r"([a-z0-9]+)(?:\(([a-z0-9]+)\))?")
_ACTION = re.compile(r"[a-z]*|\*")


@dataclass(frozen=True)
class Scope:
    type: str  # "repository" (any class) or "registry", or another type that gets nothing
    name: str
    actions: frozenset[str]

    @property
    def namespace_name(self) -> str | None:
        """The namespace part of a repository name; None for the registry's global namespace."""
        head, sep, _ = self.name.partition("/")
        return head if sep else None


def parse_scope(text: str) -> Scope:
    """Type up to the first `:`, actions after the last `:`, the name in between (it may hold a
    host:port)."""
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not kind or not name:
        raise TokenRequestError(f"malformed scope {text!r}: expected type:name:actions")
    match = _TYPE.fullmatch(kind)
    if match is None:
        raise TokenRequestError(f"malformed scope {text!r}: bad resource type {kind!r}")
    action_set = frozenset(a for a in actions.split(",") if a)
    if any(_ACTION.fullmatch(a) is None for a in action_set):
        raise TokenRequestError(f"malformed scope {text!r}: bad action list {actions!r}")
    base_type = match.group(1)
    if base_type == "repository" and not is_repository_name(name):
        raise TokenRequestError(f"malformed scope {text!r}: invalid repository name {name!r}")
    return Scope(type=base_type, name=name, actions=action_set)


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Every scope of the request (repeated parameters, each possibly space-separated), merging
    duplicates of the same resource."""
    merged: dict[tuple[str, str], set[str]] = {}
    for value in values:
        for part in value.split():
            scope = parse_scope(part)
            merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [Scope(type=t, name=n, actions=frozenset(a)) for (t, n), a in merged.items()]
