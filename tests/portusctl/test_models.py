"""portusctl's models restate the API's response schemas (to keep the server's stack out of the
client's imports). Here they are held to those schemas: every field portusctl reads is one the
API sends, under the same wire name, with a JSON type portusctl accepts."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from app.activities import schemas as activities
from app.namespaces import schemas as namespaces
from app.portusctl import models
from app.registry.registries import schemas as registries
from app.repositories import schemas as repositories
from app.search.endpoints import SearchHit
from app.teams import schemas as teams
from app.users import schemas as users
from app.webhooks import schemas as webhooks

PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (models.UserRead, users.UserRead),
    (models.UserRead, users.UserDetail),
    (models.UserCreated, users.UserCreated),
    (models.ApplicationTokenCreated, users.ApplicationTokenCreated),
    (models.ApplicationTokenRead, users.ApplicationTokenRead),
    (models.RefreshTokenRead, users.RefreshTokenRead),
    (models.TeamRead, teams.TeamRead),
    (models.MemberRead, teams.MemberRead),
    (models.NamespaceRead, namespaces.NamespaceRead),
    (models.TeamRef, namespaces.TeamRef),
    (models.Validation, namespaces.NameValidation),
    (models.Validation, registries.RegistryValidation),
    (models.RepositoryRead, repositories.RepositoryDetail),
    (models.NamespaceRef, repositories.NamespaceRef),
    (models.TagRead, repositories.TagRead),
    (models.AuthorRef, repositories.AuthorRef),
    (models.RegistryRead, registries.RegistryRead),
    (models.RegistryRead, registries.RegistryDetail),
    (models.WebhookRead, webhooks.WebhookRead),
    (models.WebhookWithSecret, webhooks.WebhookWithSecret),
    (models.WebhookHeaderRead, webhooks.WebhookHeaderRead),
    (models.DeliveryRead, webhooks.DeliveryRead),
    (models.DeliveryRead, webhooks.DeliveryDetail),
    (models.CommentRead, repositories.CommentRead),
    (models.CommentAuthor, repositories.CommentAuthor),
    (models.ActivityRead, activities.ActivityRead),
    (models.SearchHit, SearchHit),
]


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a property schema allows."""
    if "anyOf" in schema:
        return set().union(*(_types(option) for option in schema["anyOf"]))
    if "$ref" in schema or "additionalProperties" in schema:
        return {"object"}
    if "type" in schema:
        return {schema["type"]}
    if "enum" in schema or "const" in schema:
        values = schema.get("enum", [schema.get("const")])
        return {
            "string" if isinstance(v, str) else "null" if v is None else "other" for v in values
        }
    return {"any"}


@pytest.mark.parametrize(
    ("client", "api"), PAIRS, ids=[f"{c.__name__}-{a.__name__}" for c, a in PAIRS]
)
def test_client_model_reads_what_the_api_sends(
    client: type[BaseModel], api: type[BaseModel]
) -> None:
    sent = api.model_json_schema(mode="serialization", by_alias=True)
    read = client.model_json_schema(mode="validation", by_alias=True)
    sent_props, read_props = sent["properties"], read["properties"]
    for name, prop in read_props.items():
        assert name in sent_props, f"{api.__name__} sends no {name!r}"
        accepted = _types(prop)
        if "any" in accepted:
            continue
        missing = _types(sent_props[name]) - accepted
        assert not missing, f"{name!r}: the API may send {missing}, portusctl reads {accepted}"
    for name in read.get("required", []):
        assert name in sent.get("required", []), f"{api.__name__} may leave out {name!r}"
