"""The registry's notifications, typed: distribution's `Envelope` and its `Event`s.

Only what the handlers cannot do without is required: an envelope `{"events": [...]}` whose
events are objects with a non-empty string `id`, a string `action` and an object `target`.
Everything else is optional and read leniently: a field that is missing, null or not of the type
the registry sends reads as None, unknown fields are ignored, and events of every action
validate (the intake then keeps the ones it handles). So the intake refuses what it refused when
it read dicts, with the same messages, and accepts the rest.

Every event keeps the JSON object it was validated from (`Event.payload`): that is what the
intake stores in `registry_events.data` and what webhooks receive, unknown fields included. The
worker validates the stored object again when it handles the event (`stored_event`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    model_validator,
)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _object(value: Any) -> Any:
    return value if isinstance(value, dict) else None


def registry_time(value: str | None) -> datetime | None:
    """The registry's RFC 3339 time, aware; None when absent or unreadable (the handlers then
    use the time of handling). Go prints nanoseconds; Python keeps microseconds."""
    if value is None:
        return None
    head, dot, rest = value.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


# Optional fields, None unless of the type the registry sends (validated by these functions
# alone: no second pass by pydantic).
OptionalText = Annotated[str | None, PlainValidator(_text)]
OptionalInteger = Annotated[int | None, PlainValidator(_integer)]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class EventTarget(_Part):
    """What the event is about: a manifest (or a blob), by digest, tag or both."""

    media_type: OptionalText = Field(None, alias="mediaType")
    digest: OptionalText = None
    repository: OptionalText = None
    tag: OptionalText = None
    url: OptionalText = None
    size: OptionalInteger = None
    length: OptionalInteger = None
    from_repository: OptionalText = Field(None, alias="fromRepository")  # blob mounts


class EventRequest(_Part):
    """The client's request to the registry that caused the event."""

    id: OptionalText = None
    addr: OptionalText = None  # the client's address
    host: OptionalText = None  # the registry as the client named it (matched to a registry)
    method: OptionalText = None  # GET, HEAD, PUT, DELETE...
    useragent: OptionalText = None


class EventActor(_Part):
    name: OptionalText = None  # the token's subject: a username, or the internal user


class EventSource(_Part):
    """The registry instance that sent the event."""

    addr: OptionalText = None  # hostname:port
    instance_id: OptionalText = Field(None, alias="instanceID")


# A sub-object that is not a JSON object reads as absent.
_Optional = BeforeValidator(_object)


class Event(_Part):
    # Declared in the order the intake checks them: its 400 names the first problem.
    id: str = Field(strict=True, min_length=1)
    action: str = Field(strict=True)
    target: EventTarget
    timestamp: OptionalText = None  # RFC 3339, in nanoseconds: see `occurred_at`
    request: Annotated[EventRequest | None, _Optional] = None
    actor: Annotated[EventActor | None, _Optional] = None
    source: Annotated[EventSource | None, _Optional] = None

    _payload: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_payload(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        event = handler(data)
        if isinstance(data, dict):
            event._payload = data
        return event

    @property
    def payload(self) -> dict[str, Any]:
        """The JSON object the event was validated from, as the registry sent it."""
        if self._payload is None:  # built in code rather than validated from JSON
            return self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return self._payload

    @property
    def occurred_at(self) -> datetime | None:
        """When the registry says it happened (parsed when asked: the intake never needs it)."""
        return registry_time(self.timestamp)

    @property
    def actor_name(self) -> str | None:
        return None if self.actor is None else self.actor.name

    @property
    def request_host(self) -> str | None:
        return None if self.request is None else self.request.host

    @property
    def request_method(self) -> str | None:
        return None if self.request is None else self.request.method


class EventRefused(ValueError):
    """Not an event (or not an envelope of events); the message names the first problem."""


# What an event must be, by the field its validation failed on.
_EVENT_PROBLEMS = {
    "id": "id must be a non-empty string",
    "action": "action must be a string",
    "target": "target must be an object",
}


def _event_problem(location: tuple[int | str, ...], name: str) -> str:
    if not location:
        return f"{name} must be an object"
    field = str(location[0])
    return f"{name}.{_EVENT_PROBLEMS.get(field, f'{field} is invalid')}"


def _first(error: ValidationError) -> tuple[int | str, ...]:
    """Where the first problem is: pydantic reports list items in order, and each model's
    fields in the order it declares them (the order the intake always checked them in)."""
    details = error.errors(include_url=False, include_context=False, include_input=False)
    return details[0]["loc"]


class Envelope(BaseModel):
    """`POST /v2/webhooks/events`'s body. The registry sends one event per request, in a list."""

    model_config = ConfigDict(frozen=True)

    events: list[Event]

    @classmethod
    def events_of(cls, body: Any) -> list[Event]:
        """The events of a parsed JSON body; `EventRefused` naming the first problem."""
        try:
            return cls.model_validate(body).events
        except ValidationError as exc:
            location = _first(exc)
            if len(location) < 2:
                problem = 'the body must be an object with an "events" list'
            else:
                problem = _event_problem(location[2:], f"events[{location[1]}]")
            raise EventRefused(problem) from None


def stored_event(data: Any) -> Event:
    """A stored event's JSON, validated again; `EventRefused` if it no longer is an event."""
    try:
        return Event.model_validate(data)
    except ValidationError as exc:
        raise EventRefused(_event_problem(_first(exc), "event")) from None
