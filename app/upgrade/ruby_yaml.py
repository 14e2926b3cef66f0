"""Portus's activity parameters: YAML that Ruby's Psych wrote from a Ruby hash, read safely.

public_activity serialised `parameters` with `YAML.dump`: symbol keys and values as plain
scalars starting with `:` (`:namespace_name: web`; a *string* starting with `:` is quoted), and
now and then a Ruby type tag (`!ruby/hash:ActiveSupport::HashWithIndifferentAccess`,
`!ruby/object:…`). This loader builds on PyYAML's SafeLoader, so no object is ever
instantiated: symbols become plain strings, and a tagged node becomes the plain mapping,
sequence or string it holds. The result is cut down to JSON (`to_json`), within a budget of
nodes, so that an alias bomb cannot blow up memory.
"""

from __future__ import annotations

import base64
import datetime
import re
from typing import Any

import yaml

MAX_TEXT = 64 * 1024  # characters of one activity's YAML
MAX_NODES = 10_000  # JSON values made from it (aliases repeat nodes: counted each time)


class UnreadableParameters(ValueError):
    """The text is not YAML this module reads (or too big): the activity keeps no parameters."""


# libyaml's parser when PyYAML has it (several times faster on 100,000s of activities); the
# constructor and resolver stay PyYAML's safe ones either way.
_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _RubyLoader(_Base):  # type: ignore[valid-type,misc]
    pass


_SYMBOL_TAG = "!ruby/symbol"
# Psych writes a symbol as a plain scalar `:name` (quoted when it needs quoting, then it stays a
# string with its colon: rare enough).
_RubyLoader.add_implicit_resolver(_SYMBOL_TAG, re.compile(r"^:[^\s:'\"][^\s]*$"), [":"])


def _symbol(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))[1:]  # type: ignore[arg-type]


def _plain(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    """Any `!ruby/…` tag: what the node holds, as plain data."""
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    value = loader.construct_scalar(node)  # type: ignore[arg-type]
    return value[1:] if suffix.startswith("sym") and str(value).startswith(":") else value


def _binary(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    """Psych's `!binary`: a string that was not valid UTF-8, base64-encoded."""
    encoded = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    try:
        return base64.b64decode(encoded).decode("utf-8", errors="replace")
    except ValueError as exc:
        raise yaml.constructor.ConstructorError(None, None, f"bad !binary: {exc}") from exc


_RubyLoader.add_constructor(_SYMBOL_TAG, _symbol)
_RubyLoader.add_constructor("!binary", _binary)
_RubyLoader.add_multi_constructor("!ruby/", _plain)
_RubyLoader.add_multi_constructor("tag:ruby.yaml.org,2002:", _plain)


def to_json(value: Any, budget: list[int] | None = None) -> Any:
    """`value` as JSON types: dates become ISO strings, bytes UTF-8 text, keys strings."""
    budget = [MAX_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise UnreadableParameters(f"more than {MAX_NODES} values")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(to_json(k, budget)): to_json(v, budget) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_json(item, budget) for item in value]
    return str(value)


def parse_parameters(text: str | bytes | None) -> dict[str, Any]:
    """An activity's parameters as a JSON object ({} for none). Raises UnreadableParameters."""
    if text is None:
        return {}
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) > MAX_TEXT:
        raise UnreadableParameters(f"longer than {MAX_TEXT} characters")
    if not text.strip():
        return {}
    try:
        loaded = yaml.load(text, Loader=_RubyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        raise UnreadableParameters(f"not YAML: {str(exc).splitlines()[0]}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UnreadableParameters(f"a {type(loaded).__name__}, not a hash")
    result = to_json(loaded)
    assert isinstance(result, dict)
    return result


__all__ = ["UnreadableParameters", "parse_parameters", "to_json"]
