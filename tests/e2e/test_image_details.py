"""End to end: `GET /api/v1/tags/{id}/details` reads what a real registry (distribution) serves
for images pushed by skopeo: a single image with labels and history, and an OCI index; and a
registry that is down answers a 502, never a 500."""

from __future__ import annotations

import gzip
import itertools
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.live import Stack, start_stack
from tests.support.oci import _layer_tar, build_oci_index_layout, build_oci_layout
from tests.support.tools import Skopeo, require_tool

pytestmark = pytest.mark.e2e

ALICE = "alice:alice-password"
CONFIG: dict[str, object] = {
    "created": "2026-11-30T12:34:56.123456789Z",
    "author": "Alice <alice@example.com>",
    "config": {
        "Labels": {"org.opencontainers.image.title": "app", "team": "web"},
        "Entrypoint": ["/bin/app"],
        "Cmd": ["--serve"],
    },
    "history": [
        {"created": "2026-11-30T12:00:00Z", "created_by": "ADD hello.txt /", "comment": "base"},
        {"created": "2026-11-30T12:34:56Z", "created_by": "LABEL team=web", "empty_layer": True},
    ],
}


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\nstderr: {result.stderr}"
    return result


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, stack_db: str) -> Iterator[Stack]:
    require_tool("skopeo")
    stack = start_stack(tmp_path_factory.mktemp("stack"), stack_db)
    try:
        stack.create_user("alice", "alice-password")
        stack.create_user("bob", "bob-password1")
        yield stack
    finally:
        stack.server.stop()
        stack.registry.stop()


@pytest.fixture(scope="module")
def skopeo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Skopeo]:
    require_tool("skopeo")
    with Skopeo(tmp_path_factory.mktemp("skopeo")) as client:
        yield client


_applications = itertools.count(1)


def token_headers(stack: Stack, username: str, password: str) -> dict[str, str]:
    """`Portus-Auth` headers with a new application token of the user (made with a password)."""
    user = stack.api("GET", f"/users/{username}@example.com", headers=stack.admin_headers).json()
    created = stack.api(
        "POST",
        f"/users/{user['id']}/application_tokens",
        json={"application": f"details-{next(_applications)}"},
        auth=(username, password),
    )
    assert created.status_code == 201, created.text
    return {"Portus-Auth": f"{username}:{created.json()['plain_token']}"}


def tag_id(stack: Stack, full_name: str, tag: str) -> int:
    def find() -> int | None:
        repos = stack.api("GET", "/repositories?all=true", headers=stack.admin_headers).json()
        found = [r for r in repos if r["full_name"] == full_name]
        if not found:
            return None
        tags = stack.api(
            "GET", f"/repositories/{found[0]['id']}/tags", headers=stack.admin_headers
        ).json()
        return next((t["id"] for t in tags if t["name"] == tag), None)

    found: int = stack.wait_for(find)
    return found


def test_a_single_image(stack: Stack, skopeo: Skopeo, tmp_path: Path) -> None:
    layout = tmp_path / "img"
    digest = build_oci_layout(layout, "v1", b"image details", config_extra=CONFIG)
    ok(
        skopeo.copy(
            f"oci:{layout}:v1", f"docker://{stack.registry.host}/alice/app:v1", dest_creds=ALICE
        )
    )
    tag = tag_id(stack, "alice/app", "v1")
    headers = token_headers(stack, "alice", "alice-password")

    response = stack.api("GET", f"/tags/{tag}/details", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["repository"] == "alice/app"
    assert body["digest"] == digest
    assert body["media_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert (body["multi_platform"], body["platforms_total"]) == (False, 1)
    (image,) = body["platforms"]
    layer_size = len(gzip.compress(_layer_tar(b"image details"), mtime=0))
    assert [layer["size"] for layer in image["layers"]] == [layer_size]
    assert image["layers"][0]["media_type"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert image["size"] > layer_size  # the config counts too
    assert (image["os"], image["architecture"]) == ("linux", "amd64")
    assert image["created"].startswith("2026-11-30T12:34:56.123456")
    assert image["author"] == "Alice <alice@example.com>"
    assert image["labels"] == {"org.opencontainers.image.title": "app", "team": "web"}
    assert (image["entrypoint"], image["cmd"]) == (["/bin/app"], ["--serve"])
    assert [(h["created_by"], h["empty_layer"]) for h in image["history"]] == [
        ("ADD hello.txt /", False),
        ("LABEL team=web", True),
    ]
    assert image["history"][0]["comment"] == "base"
    assert image["config_digest"].startswith("sha256:")

    # bob may not pull from alice's personal namespace: the tag is not his to see
    bob = token_headers(stack, "bob", "bob-password1")
    refused = stack.api("GET", f"/tags/{tag}/details", headers=bob)
    assert refused.status_code == 404


def test_an_oci_index_per_platform(stack: Stack, skopeo: Skopeo, tmp_path: Path) -> None:
    layout = tmp_path / "multi"
    digest = build_oci_index_layout(layout, "1", {"amd64": b"amd64 build", "arm64": b"arm build"})
    ok(
        skopeo.copy(
            f"oci:{layout}:1",
            f"docker://{stack.registry.host}/alice/multi:1",
            dest_creds=ALICE,
            extra=("--all",),
        )
    )
    tag = tag_id(stack, "alice/multi", "1")
    response = stack.api("GET", f"/tags/{tag}/details", headers=stack.admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["digest"] == digest
    assert body["media_type"] == "application/vnd.oci.image.index.v1+json"
    assert (body["multi_platform"], body["platforms_total"]) == (True, 2)
    platforms = {(p["os"], p["architecture"]): p for p in body["platforms"]}
    assert set(platforms) == {("linux", "amd64"), ("linux", "arm64")}
    for content, (_, arch) in (
        (b"amd64 build", ("linux", "amd64")),
        (b"arm build", ("linux", "arm64")),
    ):
        size = len(gzip.compress(_layer_tar(content), mtime=0))
        assert [layer["size"] for layer in platforms[("linux", arch)]["layers"]] == [size]
    assert all(p["digest"] != digest for p in body["platforms"])  # each image's own manifest


def test_a_registry_that_is_down_is_a_502(stack: Stack, skopeo: Skopeo, tmp_path: Path) -> None:
    layout = tmp_path / "down"
    build_oci_layout(layout, "v1", b"soon unreachable")
    ok(
        skopeo.copy(
            f"oci:{layout}:v1", f"docker://{stack.registry.host}/alice/down:v1", dest_creds=ALICE
        )
    )
    tag = tag_id(stack, "alice/down", "v1")
    stack.registry.stop()
    try:
        response = stack.api("GET", f"/tags/{tag}/details", headers=stack.admin_headers)
    finally:
        stack.registry.start()
    assert response.status_code == 502, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["message"].startswith("the registry failed: registry unreachable")
    # back up: the same request works again
    again = stack.api("GET", f"/tags/{tag}/details", headers=stack.admin_headers)
    assert again.status_code == 200
    assert json.loads(again.text)["platforms"][0]["architecture"] == "amd64"
