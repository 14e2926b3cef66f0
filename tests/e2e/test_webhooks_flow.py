"""End to end: a skopeo push and a skopeo delete each reach a namespace webhook, signed, through
the real registry's notifications and `portus serve`'s event worker and webhook sender."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.live import Stack, start_stack
from tests.e2e.test_registry_flow import api_headers, ok
from tests.support.oci import build_oci_layout
from tests.support.receiver import Receiver
from tests.support.tools import Skopeo, require_tool

pytestmark = pytest.mark.e2e

ALICE_PW = "alice-password"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, stack_db: str) -> Iterator[Stack]:
    require_tool("skopeo")
    workdir = tmp_path_factory.mktemp("stack")
    # Retries a fifth of a second apart, so that the test sees one.
    stack = start_stack(
        workdir,
        stack_db,
        PORTUS_WEBHOOKS_BACKOFF_BASE="0.2",
        PORTUS_WEBHOOKS_ALLOW_LOCAL_NETWORK="true",  # the receiver is on 127.0.0.1
    )
    try:
        stack.create_user("alice", ALICE_PW)
        yield stack
    finally:
        stack.server.stop()
        stack.registry.stop()


def test_push_and_delete_reach_the_webhook_signed(stack: Stack, tmp_path: Path) -> None:
    layout = tmp_path / "img"
    build_oci_layout(layout, "latest", b"webhook e2e image")
    alice_api = api_headers(stack, "alice", ALICE_PW)
    me = stack.api("GET", "/users/alice@example.com", headers=stack.admin_headers).json()
    hooks = f"/namespaces/{me['namespace_id']}/webhooks"
    with Receiver(statuses=[500, 200]) as receiver, Skopeo(tmp_path / "skopeo") as skopeo:
        created = stack.api(
            "POST",
            hooks,
            json={"name": "ci", "url": receiver.url, "username": "ci", "password": "ci-pass"},
            headers=alice_api,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        base = f"{hooks}/{created.json()['id']}"
        header = stack.api(
            "POST", f"{base}/headers", json={"name": "X-Env", "value": "e2e"}, headers=alice_api
        )
        assert header.status_code == 201, header.text

        ref = f"docker://{stack.registry.host}/alice/hooked:1"
        ok(skopeo.copy(f"oci:{layout}:latest", ref, dest_creds=f"alice:{ALICE_PW}"))
        # the receiver answers 500 first: the same delivery comes again, and then succeeds
        first, retry = receiver.wait_for(2, timeout=30)
        for request in (first, retry):
            assert request.method == "POST"
            assert request.headers["x-portus-event"] == "push"
            assert request.headers["x-env"] == "e2e"
            assert request.signature_valid(secret)
        assert first.headers["x-portus-delivery"] == retry.headers["x-portus-delivery"]
        pushed = json.loads(retry.body)
        assert pushed["action"] == "push"
        assert pushed["target"]["repository"] == "alice/hooked"
        assert pushed["target"]["tag"] == "1"
        assert pushed["actor"]["name"] == "alice"

        ok(skopeo.delete(ref, creds=f"alice:{ALICE_PW}"))
        deleted = receiver.wait_for(3, timeout=30)[2]
        assert deleted.headers["x-portus-event"] == "delete"
        assert deleted.signature_valid(secret)
        body = json.loads(deleted.body)
        assert body["action"] == "delete"
        assert body["target"]["repository"] == "alice/hooked"
        assert body["target"]["digest"] == pushed["target"]["digest"]

    def settled() -> list[dict[str, object]] | None:
        listed = stack.api("GET", f"{base}/deliveries", headers=alice_api).json()
        done = all(d["status"] == "delivered" for d in listed)
        return listed if len(listed) == 2 and done else None

    deliveries = stack.wait_for(settled)
    assert [(d["event"], d["attempts"]) for d in deliveries] == [("delete", 1), ("push", 2)]


def test_deletes_through_the_api_fire_webhooks_too(stack: Stack, tmp_path: Path) -> None:
    """The service deletes in the registry as its internal identity, whose notifications are
    ignored: the API fires the namespace's delete webhooks itself, with the user as actor."""
    layout = tmp_path / "img"
    build_oci_layout(layout, "latest", b"api delete webhook image")
    alice_api = api_headers(stack, "alice", ALICE_PW)
    me = stack.api("GET", "/users/alice@example.com", headers=stack.admin_headers).json()
    with Receiver() as receiver, Skopeo(tmp_path / "skopeo") as skopeo:
        created = stack.api(
            "POST",
            f"/namespaces/{me['namespace_id']}/webhooks",
            json={"name": "api-deletes", "url": receiver.url},
            headers=alice_api,
        )
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        for tag in ("1", "2"):
            ref = f"docker://{stack.registry.host}/alice/apidel:{tag}"
            ok(skopeo.copy(f"oci:{layout}:latest", ref, dest_creds=f"alice:{ALICE_PW}"))
        receiver.wait_for(2, timeout=30)  # the two pushes

        def tag_ids() -> dict[str, int] | None:
            repos = stack.api("GET", "/repositories", headers=alice_api).json()
            repo = next((r for r in repos if r["full_name"] == "alice/apidel"), None)
            if repo is None:
                return None
            tags = stack.api("GET", f"/repositories/{repo['id']}/tags", headers=alice_api).json()
            return {t["name"]: t["id"] for t in tags} if len(tags) == 2 else None

        ids = stack.wait_for(tag_ids)
        gone = stack.api("DELETE", f"/tags/{ids['1']}", headers=alice_api)
        assert gone.status_code == 204, gone.text
        deleted = receiver.wait_for(3, timeout=30)[2]
        assert deleted.headers["x-portus-event"] == "delete"
        assert deleted.signature_valid(secret)
        body = json.loads(deleted.body)
        assert body["target"]["repository"] == "alice/apidel"
        assert body["target"]["tag"] == "1"
        assert body["actor"]["name"] == "alice"
        time.sleep(1)  # the registry's own notification of that delete must not add another
        assert len(receiver.received) == 3
        # a whole repository deleted through the API: its remaining tag's delete webhook
        repos = stack.api("GET", "/repositories", headers=alice_api).json()
        repo_id = next(r["id"] for r in repos if r["full_name"] == "alice/apidel")
        removed = stack.api("DELETE", f"/repositories/{repo_id}", headers=alice_api)
        assert removed.status_code == 204, removed.text
        last = receiver.wait_for(4, timeout=30)[3]
        assert last.headers["x-portus-event"] == "delete"
        last_body = json.loads(last.body)
        assert last_body["target"]["tag"] == "2"
        assert last_body["actor"]["name"] == "alice"
        time.sleep(1)
        assert len(receiver.received) == 4
