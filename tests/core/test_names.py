"""Names people give things refuse control, invisible formatting and bidi-override characters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.names import name_problem
from app.core.security import TokenDigester
from app.models import Role, User
from tests.fixtures import factories
from tests.support.auth import token_headers

REFUSED = {
    "right-to-left override": "invoice\u202egpj.exe",
    "left-to-right isolate": "a\u2066b",
    "pop directional isolate": "a\u2069",
    "zero-width space": "ad\u200bmins",
    "zero-width joiner": "a\u200db",
    "byte order mark": "\ufeffteam",
    "soft hyphen": "te\u00adam",
    "escape": "red\x1b[31m",
    "bell": "ding\x07",
    "tab": "a\tb",
    "newline": "a\nb",
    "delete": "a\x7f",
    "next line (C1)": "a\x85b",
    "line separator": "a\u2028b",
    "paragraph separator": "a\u2029b",
    "lone surrogate": "a\ud800",
    "NUL": "a\x00b",
}
ACCEPTED = ["developers", "Équipe de nuit", "開発チーム", "dev-ops_2.0", "🚀 launch", "a b"]


class TestNameProblem:
    @pytest.mark.parametrize("name", list(REFUSED.values()), ids=list(REFUSED))
    def test_refused(self, name: str) -> None:
        problem = name_problem(name)
        assert problem is not None
        assert "control or invisible formatting characters" in problem

    @pytest.mark.parametrize("name", ACCEPTED)
    def test_accepted(self, name: str) -> None:
        assert name_problem(name) is None

    def test_the_problem_names_the_character(self) -> None:
        assert "U+202E at position 7" in (name_problem("invoice\u202egpj") or "")


@dataclass
class World:
    admin: dict[str, str]
    alice: dict[str, str]
    alice_id: int
    namespace_id: int


@pytest.fixture
async def world(session: AsyncSession, digester: TokenDigester) -> World:
    async def headers(user: User) -> dict[str, str]:
        return await token_headers(session, digester, user) | {"Content-Type": "application/json"}

    admin = await factories.create_user(session, username="root", admin=True)
    alice = await factories.create_user(session, username="alice")
    registry = await factories.create_registry(session)
    namespace = await factories.create_namespace(session, registry, members={alice.id: Role.owner})
    return World(
        admin=await headers(admin),
        alice=await headers(alice),
        alice_id=alice.id,
        namespace_id=namespace.id,
    )


def _requests(world: World, name: str) -> list[tuple[str, str, str, dict[str, str], Any]]:
    """(method, path, field, headers, body) of every place a name is given."""
    user = {"email": "n@example.com", "password": "a-long-password"}
    return [
        ("POST", "/api/v1/users", "username", world.admin, {"user": {"username": name, **user}}),
        (
            "POST",
            "/api/v1/users",
            "display_name",
            world.admin,
            {"user": {"username": "newbie", "display_name": name, **user}},
        ),
        ("PUT", "/api/v1/me", "display_name", world.alice, {"display_name": name}),
        ("POST", "/api/v1/teams", "name", world.alice, {"name": name}),
        ("POST", "/api/v1/namespaces", "name", world.alice, {"name": name, "team": "x"}),
        (
            "POST",
            f"/api/v1/namespaces/{world.namespace_id}/webhooks",
            "name",
            world.alice,
            {"name": name, "url": "https://93.184.215.14/x"},
        ),
        (
            "POST",
            f"/api/v1/users/{world.alice_id}/application_tokens",
            "application",
            world.alice,
            {"application": name},
        ),
        (
            "POST",
            "/api/v1/registries",
            "registry.name",
            world.admin,
            {"registry": {"name": name, "hostname": "r.example.com:5000"}, "force": True},
        ),
    ]


ENDPOINTS = [
    "user",
    "user display name",
    "own display name",
    "team",
    "namespace",
    "webhook",
    "application",
    "registry",
]


class TestEveryNameRefusesThem:
    @pytest.mark.parametrize("bad", ["bidi\u202eoverride", "zero\u200bwidth", "esc\x1b", "a\u2067"])
    @pytest.mark.parametrize("index", range(len(ENDPOINTS)), ids=ENDPOINTS)
    async def test_a_422_naming_the_field(
        self, client: httpx.AsyncClient, world: World, index: int, bad: str
    ) -> None:
        method, path, field, headers, body = _requests(world, bad)[index]
        response = await client.request(method, path, content=json.dumps(body), headers=headers)
        assert response.status_code == 422, response.text
        message = response.json()["message"]
        assert field in message, message
        assert "control or invisible formatting" in " ".join(message[field])


class TestOrdinaryNamesAndDescriptions:
    async def test_a_team_with_a_non_ascii_name_and_a_multiline_description(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        body = {"name": "Équipe 開発 🚀", "description": "first line\nsecond line\ttabbed"}
        response = await client.post("/api/v1/teams", content=json.dumps(body), headers=world.alice)
        assert response.status_code == 201, response.text
        assert response.json()["name"] == body["name"]
        assert response.json()["description"] == body["description"]

    async def test_a_webhook_and_an_application_with_plain_names(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        hook = await client.post(
            f"/api/v1/namespaces/{world.namespace_id}/webhooks",
            json={"name": "CI \u2013 build \u2713", "url": "https://93.184.215.14/x"},
            headers=world.alice,
        )
        assert hook.status_code == 201, hook.text
        token = await client.post(
            f"/api/v1/users/{world.alice_id}/application_tokens",
            json={"application": "laptop (Mélanie)"},
            headers=world.alice,
        )
        assert token.status_code == 201, token.text
