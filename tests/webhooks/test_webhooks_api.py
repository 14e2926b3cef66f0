"""The webhooks REST API: who may do what, validation, and what is never returned."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.crypto import secret_box
from app.core.db import create_engine, create_sessionmaker, session_scope, utcnow
from app.core.security import TokenDigester
from app.models import (
    Activity,
    Namespace,
    Role,
    Visibility,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
from app.webhooks import repository, service
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.fixtures.database import throwaway_database
from tests.support.auth import new_user_and_headers, new_user_headers
from tests.support.network import PretendNetwork

BODY = {
    "name": "ci",
    "url": "https://ci.example.com/hook?x=1",
    "username": "robot",
    "password": "hunter2-very-secret",
}


PUBLIC = "8.8.8.8"


@pytest.fixture(autouse=True)
async def network(monkeypatch: pytest.MonkeyPatch) -> PretendNetwork:
    """The names these tests use, answered without a DNS server (a webhook's host is looked up
    when it is saved)."""
    pretend = PretendNetwork(monkeypatch)
    pretend.answer("ci.example.com", [PUBLIC])
    pretend.answer("hooks.example.com", [PUBLIC, "2001:4860:4860::8888"])
    pretend.answer("intranet.example.com", ["10.20.30.40"])
    pretend.answer("sneaky.example.com", [PUBLIC, "::ffff:169.254.169.254"])
    return pretend


@dataclass
class World:
    namespace: Namespace
    public: Namespace  # the caller-agnostic public namespace, for "sees it but not a member"
    admin: dict[str, str]
    owner: dict[str, str]
    viewer: dict[str, str]
    outsider: dict[str, str]


@pytest.fixture
async def world(session: AsyncSession, digester: TokenDigester) -> World:
    registry = await factories.create_registry(session)
    admin = await new_user_headers(session, digester, username="root", admin=True)
    olive, owner = await new_user_and_headers(session, digester, username="olive")
    victor, viewer = await new_user_and_headers(session, digester, username="victor")
    outsider = await new_user_headers(session, digester, username="oscar")
    owner_id, viewer_id = olive.id, victor.id
    namespace = await factories.create_namespace(
        session, registry, name="squad", members={owner_id: Role.owner, viewer_id: Role.viewer}
    )
    public = await factories.create_namespace(
        session, registry, name="open", visibility=Visibility.public, members={owner_id: Role.owner}
    )
    return World(namespace, public, admin, owner, viewer, outsider)


def hooks(namespace: Namespace) -> str:
    return f"/api/v1/namespaces/{namespace.id}/webhooks"


async def create(client: httpx.AsyncClient, world: World, **fields: Any) -> dict[str, Any]:
    response = await client.post(hooks(world.namespace), json=BODY | fields, headers=world.owner)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestCrud:
    async def test_create_show_list_never_return_the_password(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World, settings: Settings
    ) -> None:
        created = await create(client, world)
        assert created["secret"].startswith("whsec_")
        assert created["has_password"] is True
        assert created["request_method"] == "POST"
        assert created["content_type"] == "application/json"
        assert created["enabled"] is True
        shown = await client.get(f"{hooks(world.namespace)}/{created['id']}", headers=world.viewer)
        listed = await client.get(hooks(world.namespace), headers=world.viewer)
        assert shown.status_code == listed.status_code == 200
        assert listed.headers["X-Total"] == "1"
        for text in (
            (await client.post(hooks(world.namespace), json=BODY, headers=world.owner)).text,
            shown.text,
            listed.text,
        ):
            assert "password" not in text.replace("has_password", "")
            assert BODY["password"] not in text
        # the secret is shown once: never again
        assert "secret" not in shown.json()
        assert created["secret"] not in shown.text + listed.text
        # stored encrypted, readable with the instance's key
        row = await session.get(Webhook, created["id"])
        assert row is not None and row.password_encrypted is not None
        assert BODY["password"] not in row.password_encrypted
        box = secret_box(settings)
        assert box.decrypt(row.password_encrypted) == BODY["password"]
        assert box.decrypt(row.secret_encrypted) == created["secret"]
        keys = list(await session.scalars(select(Activity.key).order_by(Activity.id)))
        assert keys.count("webhook.create") == 2

    async def test_update_toggle_delete_and_activities(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await create(client, world)
        url = f"{hooks(world.namespace)}/{created['id']}"
        updated = await client.put(
            url,
            json={"name": "deploy", "request_method": "GET", "password": ""},
            headers=world.owner,
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["name"] == "deploy"
        assert updated.json()["request_method"] == "GET"
        assert updated.json()["has_password"] is False
        assert updated.json()["username"] == "robot"  # untouched
        form = await client.put(
            url,
            json={"content_type": "application/x-www-form-urlencoded", "password": "new-one"},
            headers=world.owner,
        )
        assert form.json()["content_type"] == "application/x-www-form-urlencoded"
        assert form.json()["has_password"] is True
        toggled = await client.put(f"{url}/toggle_enabled", headers=world.owner)
        assert toggled.status_code == 200 and toggled.json()["enabled"] is False
        again = await client.put(f"{url}/toggle_enabled", headers=world.owner)
        assert again.json()["enabled"] is True
        rotated = await client.post(f"{url}/rotate_secret", headers=world.owner)
        assert rotated.status_code == 200
        assert rotated.json()["secret"].startswith("whsec_")
        assert rotated.json()["secret"] != created["secret"]
        deleted = await client.delete(url, headers=world.owner)
        assert deleted.status_code == 204
        assert (await client.get(url, headers=world.owner)).status_code == 404
        keys = list(await session.scalars(select(Activity.key).order_by(Activity.id)))
        webhook_keys = [k for k in keys if k.startswith("webhook.")]
        assert webhook_keys == [
            "webhook.create",
            "webhook.update",
            "webhook.update",
            "webhook.disabled",
            "webhook.enabled",
            "webhook.update",
            "webhook.destroy",
        ]
        destroyed = await session.scalar(select(Activity).where(Activity.key == "webhook.destroy"))
        assert destroyed is not None
        assert destroyed.parameters["namespace_name"] == "squad"
        assert destroyed.parameters["webhook_host"] == "ci.example.com"
        # the team's feed shows them (even after the webhook is gone); an outsider's does not
        feed = await client.get("/api/v1/activities/feed?all=true", headers=world.viewer)
        assert [a["key"] for a in feed.json() if a["key"].startswith("webhook.")] == list(
            reversed(webhook_keys)
        )
        outside = await client.get("/api/v1/activities/feed?all=true", headers=world.outsider)
        assert not [a for a in outside.json() if a["key"].startswith("webhook.")]

    async def test_headers(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await create(client, world)
        url = f"{hooks(world.namespace)}/{created['id']}/headers"
        plain = await client.post(url, json={"name": "X-Team", "value": "a"}, headers=world.owner)
        assert plain.status_code == 201, plain.text
        token = await client.post(
            url, json={"name": "Authorization", "value": "Bearer s3cr3t"}, headers=world.owner
        )
        assert token.status_code == 201
        assert token.json()["value"] == "********"
        duplicate = await client.post(
            url, json={"name": "x-team", "value": "b"}, headers=world.owner
        )
        assert duplicate.status_code == 422
        assert duplicate.json()["message"] == {"name": ["has already been taken"]}
        for who in (world.owner, world.admin):
            listed = await client.get(url, headers=who)
            assert [(h["name"], h["value"]) for h in listed.json()] == [
                ("X-Team", "a"),
                ("Authorization", "********"),
            ]
        listed = await client.get(url, headers=world.viewer)
        assert [(h["name"], h["value"]) for h in listed.json()] == [
            ("X-Team", "********"),
            ("Authorization", "********"),
        ]
        assert "s3cr3t" not in listed.text
        removed = await client.delete(f"{url}/{plain.json()['id']}", headers=world.owner)
        assert removed.status_code == 204
        missing = await client.delete(f"{url}/{plain.json()['id']}", headers=world.owner)
        assert missing.status_code == 404
        assert [h["name"] for h in (await client.get(url, headers=world.owner)).json()] == [
            "Authorization"
        ]

    async def test_deliveries_newest_first_with_detail(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await create(client, world)
        for n in range(3):
            await service.enqueue(session, world.namespace.id, "push", {"id": f"event-{n}"})
        await session.flush()
        url = f"{hooks(world.namespace)}/{created['id']}/deliveries"
        page = await client.get(f"{url}?per_page=2", headers=world.viewer)
        assert page.status_code == 200
        assert page.headers["X-Total"] == "3"
        assert len(page.json()) == 2
        first = page.json()[0]
        assert first["status"] == "pending"
        assert first["attempts"] == 0 and first["last_status_code"] is None
        assert page.json()[0]["id"] > page.json()[1]["id"]
        detail = await client.get(f"{url}/{first['id']}", headers=world.viewer)
        assert detail.status_code == 200
        assert detail.json()["payload"] == {"id": "event-2"}
        assert detail.json()["attempt_log"] == []
        assert (await client.get(f"{url}/999999", headers=world.viewer)).status_code == 404

    async def test_header_values_are_shown_to_owners_and_admins_only(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World
    ) -> None:
        """Whether a value is a credential cannot be told from its name: every value is masked
        for members who are not owners, in the header list and in the attempt log."""
        created = await create(client, world)
        url = f"{hooks(world.namespace)}/{created['id']}"
        custom = {"X-Auth": "a-1", "X-Hub-Key": "hub-2", "X-Signature": "sig-3", "X-Plain": "p-4"}
        for name, value in custom.items():
            added = await client.post(
                f"{url}/headers", json={"name": name, "value": value}, headers=world.owner
            )
            assert added.status_code == 201 and added.json()["value"] == value
        await service.enqueue(session, world.namespace.id, "push", {"id": "e"})
        delivery = await session.scalar(select(WebhookDelivery))
        assert delivery is not None
        session.add(
            WebhookAttempt(
                delivery_id=delivery.id,
                number=1,
                request_method="POST",
                request_url=created["url"],
                request_headers=custom | {"Authorization": "********"},
                request_body="{}",
                response_status=200,
                response_headers={"set-cookie": "session=receiver-7"},
                response_body="ok",
                duration_ms=5,
            )
        )
        await session.flush()
        detail_url = f"{url}/deliveries/{delivery.id}"

        for who in (world.owner, world.admin):
            headers = (await client.get(f"{url}/headers", headers=who)).json()
            assert {h["name"]: h["value"] for h in headers} == custom
            attempt = (await client.get(detail_url, headers=who)).json()["attempt_log"][0]
            assert attempt["request_headers"] == custom | {"Authorization": "********"}
            assert attempt["response_headers"] == {"set-cookie": "session=receiver-7"}

        listed = await client.get(f"{url}/headers", headers=world.viewer)
        assert listed.status_code == 200
        assert {h["name"]: h["value"] for h in listed.json()} == dict.fromkeys(custom, "********")
        detail = await client.get(detail_url, headers=world.viewer)
        assert detail.status_code == 200
        attempt = detail.json()["attempt_log"][0]
        assert set(attempt["request_headers"]) == {*custom, "Authorization"}
        assert set(attempt["request_headers"].values()) == {"********"}
        assert attempt["response_headers"] == {"set-cookie": "********"}
        for value in [*custom.values(), "receiver-7"]:
            assert value not in listed.text + detail.text

    async def test_disabled_webhooks_get_no_deliveries(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World
    ) -> None:
        await create(client, world, enabled=False)
        assert await service.enqueue(session, world.namespace.id, "push", {"id": "x"}) == 0
        enabled = await create(client, world, name="second")
        assert await service.enqueue(session, world.namespace.id, "delete", {"id": "y"}) == 1
        rows = list(await session.scalars(select(WebhookDelivery)))
        assert [(r.webhook_id, r.event) for r in rows] == [(enabled["id"], "delete")]


class TestPermissions:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient, world: World) -> None:
        for method, path in [
            ("GET", ""),
            ("POST", ""),
            ("GET", "/1"),
            ("PUT", "/1/toggle_enabled"),
            ("GET", "/1/deliveries"),
        ]:
            response = await client.request(method, hooks(world.namespace) + path, json=BODY)
            assert response.status_code == 401, (method, path)

    async def test_outsiders_get_404_on_private_and_403_on_public(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        private = await client.get(hooks(world.namespace), headers=world.outsider)
        assert private.status_code == 404
        public = await client.get(hooks(world.public), headers=world.outsider)
        assert public.status_code == 403
        denied = await client.post(hooks(world.public), json=BODY, headers=world.outsider)
        assert denied.status_code == 403

    async def test_members_who_are_not_owners_only_read(
        self, client: httpx.AsyncClient, world: World, session: AsyncSession
    ) -> None:
        created = await create(client, world)
        await service.enqueue(session, world.namespace.id, "push", {"id": "e"})
        delivery = await session.scalar(select(WebhookDelivery.id))
        base = f"{hooks(world.namespace)}/{created['id']}"
        assert (await client.get(base, headers=world.viewer)).status_code == 200
        for method, path, body in [
            ("POST", "", BODY),
            ("PUT", "", {"name": "x"}),
            ("DELETE", "", None),
            ("PUT", "/toggle_enabled", None),
            ("POST", "/rotate_secret", None),
            ("POST", "/headers", {"name": "X-A", "value": "b"}),
            ("PUT", f"/deliveries/{delivery}", None),
        ]:
            url = hooks(world.namespace) if path == "" and method == "POST" else base + path
            response = await client.request(method, url, json=body, headers=world.viewer)
            assert response.status_code == 403, (method, path, response.text)

    @pytest.mark.parametrize(
        ("flag", "denied", "allowed"),
        [
            (
                "create_webhook",
                [("POST", "", BODY), ("DELETE", "", None), ("POST", "/headers", None)],
                [("PUT", "", {"name": "renamed"}), ("PUT", "/toggle_enabled", None)],
            ),
            (
                "manage_webhook",
                [
                    ("PUT", "", {"name": "renamed"}),
                    ("PUT", "/toggle_enabled", None),
                    ("POST", "/rotate_secret", None),
                    ("PUT", "/deliveries/{delivery}", None),
                ],
                [("POST", "/headers", None)],
            ),
        ],
    )
    async def test_owner_rights_follow_the_flags(
        self,
        session: AsyncSession,
        make_client: ClientFactory,
        world: World,
        flag: str,
        denied: list[tuple[str, str, Any]],
        allowed: list[tuple[str, str, Any]],
    ) -> None:
        async with make_client() as client:
            created = await create(client, world)
        await service.enqueue(session, world.namespace.id, "push", {"id": "e"})
        delivery = await session.scalar(select(WebhookDelivery.id))
        base = f"{hooks(world.namespace)}/{created['id']}"
        header = {"name": "X-A", "value": "b"}

        def target(method: str, path: str) -> str:
            if method == "POST" and path == "":
                return hooks(world.namespace)
            return base + path.format(delivery=delivery)

        async with make_client(user_permission={flag: {"enabled": False}}) as client:
            for method, path, body in denied:
                response = await client.request(
                    method,
                    target(method, path),
                    json=body if body is not None or path != "/headers" else header,
                    headers=world.owner,
                )
                assert response.status_code == 403, (flag, method, path)
            for method, path, body in allowed:
                response = await client.request(
                    method,
                    target(method, path),
                    json=body if body is not None or path != "/headers" else header,
                    headers=world.owner,
                )
                assert response.status_code in (200, 201), (flag, method, path, response.text)
            # administrators are not bound by the flags
            admin = await client.post(hooks(world.namespace), json=BODY, headers=world.admin)
            assert admin.status_code == 201

    async def test_global_namespace_is_for_administrators(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World
    ) -> None:
        global_ns = await session.scalar(select(Namespace).where(Namespace.global_))
        assert global_ns is not None
        url = hooks(global_ns)
        assert (await client.get(url, headers=world.owner)).status_code == 403
        assert (await client.post(url, json=BODY, headers=world.owner)).status_code == 403
        created = await client.post(url, json=BODY, headers=world.admin)
        assert created.status_code == 201
        assert (await client.get(url, headers=world.admin)).json()[0]["id"] == created.json()["id"]

    async def test_a_webhook_of_another_namespace_is_404(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await create(client, world)
        other = f"{hooks(world.public)}/{created['id']}"
        assert (await client.get(other, headers=world.owner)).status_code == 404
        assert (await client.delete(other, headers=world.owner)).status_code == 404


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field", "status"),
        [
            ({"url": "ftp://example.com/x"}, "url", 422),
            ({"url": "example.com/hook"}, "url", 422),
            ({"url": "https://user:pw@example.com/"}, "url", 422),
            ({"url": "https:///nohost"}, "url", 422),
            ({"url": "https://example.com:99999/"}, "url", 422),
            ({"url": "https://exa mple.com/"}, "url", 422),
            ({"url": "https://example.com/" + "a" * 2048}, "url", 422),
            ({"name": ""}, "name", 422),
            ({"request_method": "PUT"}, "request_method", 422),
            ({"content_type": "text/plain"}, "content_type", 422),
            ({"password": "a\nb"}, "password", 422),
            ({"unknown": 1}, "unknown", 400),  # not a parameter: 400
        ],
    )
    async def test_bad_webhooks_are_4xx_naming_the_field(
        self,
        client: httpx.AsyncClient,
        world: World,
        fields: dict[str, Any],
        field: str,
        status: int,
    ) -> None:
        response = await client.post(
            hooks(world.namespace), json=BODY | fields, headers=world.owner
        )
        assert response.status_code == status, response.text
        assert field in response.json()["message"], response.json()

    async def test_update_refuses_nulls_and_bad_urls(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await create(client, world)
        url = f"{hooks(world.namespace)}/{created['id']}"
        null = await client.put(url, json={"url": None}, headers=world.owner)
        assert null.status_code == 422 and "url" in null.json()["message"]
        bad = await client.put(url, json={"url": "gopher://x"}, headers=world.owner)
        assert bad.status_code == 422 and "url" in bad.json()["message"]

    @pytest.mark.parametrize(
        ("url", "problem"),
        [
            ("http://127.0.0.1:8080/hook", "must point to a public address"),
            ("http://[::7f00:1]/hook", "must point to a public address"),
            ("http://169.254.169.254/latest/meta-data", "must point to a public address"),
            ("https://intranet.example.com/hook", "must point to a public address"),
            ("https://sneaky.example.com/hook", "must point to a public address"),
            ("https://no-such-host.invalid/hook", "does not resolve"),
        ],
    )
    async def test_local_or_unresolvable_targets_are_422_on_create_and_update(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World, url: str, problem: str
    ) -> None:
        refused = await client.post(
            hooks(world.namespace), json=BODY | {"url": url}, headers=world.owner
        )
        assert refused.status_code == 422, refused.text
        [message] = refused.json()["message"]["url"]
        assert problem in message
        # what the name resolves to is never told (a DNS oracle)
        for address in ("10.20.30.40", "169.254", "a9fe", "127.0.0.1", "7f00"):
            assert address not in message
        assert await session.scalar(select(Webhook.id)) is None

        created = await create(client, world)
        changed = await client.put(
            f"{hooks(world.namespace)}/{created['id']}", json={"url": url}, headers=world.owner
        )
        assert changed.status_code == 422, changed.text
        assert problem in changed.json()["message"]["url"][0]
        shown = await client.get(f"{hooks(world.namespace)}/{created['id']}", headers=world.owner)
        assert shown.json()["url"] == BODY["url"]

    async def test_a_namespace_has_at_most_max_per_namespace_webhooks(
        self, make_client: ClientFactory, world: World
    ) -> None:
        async with make_client(webhooks={"max_per_namespace": 2}) as client:
            for n in range(2):
                await create(client, world, name=f"hook-{n}")
            third = await client.post(
                hooks(world.namespace), json=BODY | {"name": "hook-3"}, headers=world.admin
            )
            assert third.status_code == 422, third.text
            assert third.json()["message"] == {"webhooks": ["a namespace has at most 2 webhooks"]}
            # another namespace has its own
            other = await client.post(hooks(world.public), json=BODY, headers=world.owner)
            assert other.status_code == 201, other.text
            # deleting one makes room
            first = (await client.get(hooks(world.namespace), headers=world.owner)).json()[0]
            gone = await client.delete(
                f"{hooks(world.namespace)}/{first['id']}", headers=world.owner
            )
            assert gone.status_code == 204
            again = await client.post(
                hooks(world.namespace), json=BODY | {"name": "hook-3"}, headers=world.owner
            )
            assert again.status_code == 201, again.text

    async def test_public_targets_and_local_ones_when_allowed(
        self, make_client: ClientFactory, world: World
    ) -> None:
        async with make_client() as client:
            public = await client.post(
                hooks(world.namespace),
                json=BODY | {"url": "https://hooks.example.com/in"},
                headers=world.owner,
            )
            assert public.status_code == 201, public.text
        async with make_client(webhooks={"allow_local_network": True}) as client:
            local = await client.post(
                hooks(world.namespace),
                json=BODY | {"url": "http://127.0.0.1:8080/hook"},
                headers=world.owner,
            )
            assert local.status_code == 201, local.text

    @pytest.mark.parametrize(
        ("header", "field", "status"),
        [
            ({"name": "X-Portus-Event", "value": "x"}, "name", 422),
            ({"name": "Host", "value": "x"}, "name", 422),
            ({"name": "Bad Name", "value": "x"}, "name", 422),
            ({"name": "X-Ok", "value": "a\r\nInjected: 1"}, "value", 422),
            ({"name": "X-Ok"}, "value", 400),  # missing: 400
        ],
    )
    async def test_bad_headers_are_4xx_naming_the_field(
        self,
        client: httpx.AsyncClient,
        world: World,
        header: dict[str, str],
        field: str,
        status: int,
    ) -> None:
        created = await create(client, world)
        response = await client.post(
            f"{hooks(world.namespace)}/{created['id']}/headers", json=header, headers=world.owner
        )
        assert response.status_code == status, response.text
        assert field in response.json()["message"]

    async def test_resending_for_a_disabled_webhook_is_422(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World
    ) -> None:
        created = await create(client, world)
        await service.enqueue(session, world.namespace.id, "push", {"id": "e"})
        delivery = await session.scalar(select(WebhookDelivery.id))
        base = f"{hooks(world.namespace)}/{created['id']}"
        await client.put(f"{base}/toggle_enabled", headers=world.owner)
        response = await client.put(f"{base}/deliveries/{delivery}", headers=world.owner)
        assert response.status_code == 422
        assert "enabled" in response.json()["message"]

    async def test_resending_a_delivery_a_sender_holds_is_409(
        self, session: AsyncSession, client: httpx.AsyncClient, world: World
    ) -> None:
        """Clearing a live lease would let a second sender send the same delivery."""
        created = await create(client, world)
        await service.enqueue(session, world.namespace.id, "push", {"id": "e"})
        delivery = await session.scalar(select(WebhookDelivery))
        assert delivery is not None
        delivery.lease_until = utcnow() + timedelta(seconds=30)
        await session.flush()
        url = f"{hooks(world.namespace)}/{created['id']}/deliveries/{delivery.id}"
        response = await client.put(url, headers=world.owner)
        assert response.status_code == 409, response.text
        assert "being sent" in response.json()["message"]
        delivery.lease_until = utcnow() - timedelta(seconds=1)  # that sender died
        await session.flush()
        assert (await client.put(url, headers=world.owner)).status_code == 200

    async def test_a_header_added_twice_at_once_is_422_not_500(
        self, client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two requests both pass the name check; the unique constraint decides."""

        async def never_taken(*_args: Any) -> bool:
            return False

        monkeypatch.setattr(repository, "header_name_taken", never_taken)
        created = await create(client, world)
        url = f"{hooks(world.namespace)}/{created['id']}/headers"
        header = {"name": "X-Twice", "value": "1"}
        assert (await client.post(url, json=header, headers=world.owner)).status_code == 201
        again = await client.post(url, json=header, headers=world.owner)
        assert again.status_code == 422, again.text
        assert "name" in again.json()["message"]
        listed = await client.get(url, headers=world.owner)
        assert [h["name"] for h in listed.json()] == ["X-Twice"]


class TestLimitRace:
    async def test_two_creations_at_once_cannot_both_pass_the_limit(self, tmp_path: Path) -> None:
        """The second count waits for the first creation's transaction (PostgreSQL: the
        namespace row's lock; SQLite: BEGIN IMMEDIATE), and so sees its webhook."""
        async with throwaway_database(tmp_path) as url:
            engine = create_engine(url, pool_size=2)
            maker = create_sessionmaker(engine)
            try:
                async with session_scope(maker) as session:
                    registry = await factories.create_registry(session)
                    namespace_id = (await factories.create_namespace(session, registry)).id
                async with maker() as first, maker() as second:
                    assert await repository.count_webhooks_locked(first, namespace_id) == 0
                    first.add(
                        Webhook(
                            namespace_id=namespace_id,
                            name="w",
                            url="https://ci.example.com/",
                            secret_encrypted="-",
                        )
                    )
                    await first.flush()
                    counting = asyncio.create_task(
                        repository.count_webhooks_locked(second, namespace_id)
                    )
                    await asyncio.sleep(0.5)
                    assert not counting.done()  # waits for the first creation
                    await first.commit()
                    assert await asyncio.wait_for(counting, 10) == 1
                    await second.rollback()
            finally:
                await engine.dispose()
