"""End to end: a real docker-registry trusting a real `portus serve`, driven by skopeo, podman and
the docker CLI. Each module gets its own database, server and registry."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.live import Stack, start_stack
from tests.support.oci import build_oci_index_layout, build_oci_layout
from tests.support.tools import Podman, Skopeo, docker_login, require_tool

pytestmark = pytest.mark.e2e

ALICE_PW = "alice-password"
BOB_PW = "bob-password1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, stack_db: str) -> Iterator[Stack]:
    require_tool("skopeo")
    workdir = tmp_path_factory.mktemp("stack")
    stack = start_stack(workdir, stack_db)
    try:
        stack.create_user("alice", ALICE_PW)
        stack.create_user("bob", BOB_PW)
        yield stack
    finally:
        stack.server.stop()
        stack.registry.stop()


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = tmp_path_factory.mktemp("oci") / "img"
    build_oci_layout(layout, "latest", b"e2e image one")
    build_oci_layout(layout, "other", b"e2e image two")
    return layout


@pytest.fixture
def skopeo(tmp_path: Path) -> Iterator[Skopeo]:
    require_tool("skopeo")
    with Skopeo(tmp_path / "skopeo") as client:
        yield client


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"{result.args}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    )
    return result


def refused(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, f"{result.args} unexpectedly succeeded"
    return result.stderr


def api_headers(stack: Stack, username: str, password: str) -> dict[str, str]:
    """A new application token that the user creates with their password (HTTP Basic)."""
    user = stack.api("GET", f"/users/{username}@example.com", headers=stack.admin_headers).json()
    response = stack.api(
        "POST",
        f"/users/{user['id']}/application_tokens",
        json={"application": f"e2e-{uuid.uuid4().hex[:8]}"},
        auth=(username, password),
    )
    assert response.status_code == 201, response.text
    return {"Portus-Auth": f"{username}:{response.json()['plain_token']}"}


class TestSkopeo:
    def test_push_pull_permissions_and_catalog(
        self, stack: Stack, skopeo: Skopeo, image: Path
    ) -> None:
        registry = f"docker://{stack.registry.host}"
        alice = f"alice:{ALICE_PW}"
        bob = f"bob:{BOB_PW}"

        # alice pushes an OCI image and a Docker v2 schema 2 image to her personal namespace.
        ok(skopeo.copy(f"oci:{image}:latest", f"{registry}/alice/oci-app:1.0", dest_creds=alice))
        ok(
            skopeo.copy(
                f"oci:{image}:other",
                f"{registry}/alice/docker-app:1.0",
                dest_creds=alice,
                extra=("--format", "v2s2"),
            )
        )
        raw = json.loads(
            ok(skopeo.inspect(f"{registry}/alice/docker-app:1.0", creds=alice, raw=True)).stdout
        )
        assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"

        # bob can neither push there nor pull from there; nor can anonymous users.
        assert "denied" in refused(
            skopeo.copy(f"oci:{image}:latest", f"{registry}/alice/oci-app:bob", dest_creds=bob)
        )
        assert "denied" in refused(skopeo.inspect(f"{registry}/alice/oci-app:1.0", creds=bob))
        refused(skopeo.inspect(f"{registry}/alice/oci-app:1.0", creds=None))
        # a wrong password is refused by the token service itself
        assert (
            "unauthorized"
            in refused(skopeo.inspect(f"{registry}/alice/oci-app:1.0", creds="alice:wrong")).lower()
        )

        # alice makes her namespace public: anonymous pulls work.
        me = stack.api("GET", "/users/alice@example.com", headers=stack.admin_headers).json()
        made_public = stack.api(
            "PUT",
            f"/namespaces/{me['namespace_id']}",
            json={"namespace": {"visibility": "public"}},
            headers=api_headers(stack, "alice", ALICE_PW),
        )
        assert made_public.status_code == 200, made_public.text
        assert made_public.json()["visibility"] == "public"
        ok(skopeo.inspect(f"{registry}/alice/oci-app:1.0", creds=None))
        # bob still cannot push there
        refused(skopeo.copy(f"oci:{image}:latest", f"{registry}/alice/oci-app:bob", dest_creds=bob))

        # the admin lists the registry's catalog with a token from us.
        catalog_token = stack.registry_token("admin", "adminpass1", "registry:catalog:*")
        catalog = httpx.get(
            f"{stack.registry.url}/v2/_catalog",
            headers={"Authorization": f"Bearer {catalog_token}"},
        )
        assert catalog.status_code == 200
        assert {"alice/oci-app", "alice/docker-app"} <= set(catalog.json()["repositories"])
        alice_catalog_token = stack.registry_token("alice", ALICE_PW, "registry:catalog:*")
        alice_catalog = httpx.get(
            f"{stack.registry.url}/v2/_catalog",
            headers={"Authorization": f"Bearer {alice_catalog_token}"},
        )
        assert alice_catalog.status_code == 401

        # the pushes show up in the API within seconds, with media types, sizes and authors.
        def tags_listed() -> dict[str, Any] | None:
            repos = stack.api("GET", "/repositories", headers=stack.admin_headers).json()
            by_name = {r["full_name"]: r for r in repos}
            if not {"alice/oci-app", "alice/docker-app"} <= set(by_name):
                return None
            return by_name

        repos = stack.wait_for(tags_listed)
        tags = stack.api(
            "GET", f"/repositories/{repos['alice/oci-app']['id']}/tags", headers=stack.admin_headers
        ).json()
        assert [(t["name"], t["media_type"], t["author"]["name"]) for t in tags] == [
            ("1.0", "application/vnd.oci.image.manifest.v1+json", "alice")
        ]
        assert tags[0]["size"] > 0
        assert tags[0]["image_id"]
        docker_tags = stack.api(
            "GET",
            f"/repositories/{repos['alice/docker-app']['id']}/tags",
            headers=stack.admin_headers,
        ).json()
        assert docker_tags[0]["media_type"] == (
            "application/vnd.docker.distribution.manifest.v2+json"
        )

    def test_admin_push_creates_a_namespace(
        self, stack: Stack, skopeo: Skopeo, image: Path
    ) -> None:
        ok(
            skopeo.copy(
                f"oci:{image}:latest",
                f"docker://{stack.registry.host}/newteam/tool:1",
                dest_creds="admin:adminpass1",
            )
        )

        def listed() -> bool:
            repos = stack.api("GET", "/repositories?all=true", headers=stack.admin_headers).json()
            return "newteam/tool" in {r["full_name"] for r in repos}

        stack.wait_for(listed)

    def test_multi_arch_index(self, stack: Stack, skopeo: Skopeo, tmp_path: Path) -> None:
        """An OCI index (two platforms) is recorded as one tag, its size summed over both."""
        layout = tmp_path / "multi"
        digest = build_oci_index_layout(layout, "1", {"amd64": b"amd64 build", "arm64": b"arm"})
        ok(
            skopeo.copy(
                f"oci:{layout}:1",
                f"docker://{stack.registry.host}/alice/multi:1",
                dest_creds=f"alice:{ALICE_PW}",
                extra=("--all",),
            )
        )

        def tag() -> dict[str, Any] | None:
            repos = stack.api("GET", "/repositories", headers=stack.admin_headers).json()
            found = [r for r in repos if r["full_name"] == "alice/multi"]
            if not found:
                return None
            tags = stack.api(
                "GET", f"/repositories/{found[0]['id']}/tags", headers=stack.admin_headers
            ).json()
            return tags[0] if tags else None

        recorded = stack.wait_for(tag)
        assert recorded["name"] == "1"
        assert recorded["digest"] == digest
        assert recorded["media_type"] == "application/vnd.oci.image.index.v1+json"
        # both images' config and layer sizes, fetched from the registry
        assert recorded["size"] > 2 * 100


class TestForgedEvents:
    """Whoever holds the notification secret cannot make the service record what the registry
    does not serve, nor what the token service would not have allowed."""

    def test_only_what_the_registry_serves_and_policy_allows_is_recorded(
        self, stack: Stack, skopeo: Skopeo, image: Path
    ) -> None:
        repo = f"docker://{stack.registry.host}/alice/forged"
        alice = f"alice:{ALICE_PW}"
        ok(skopeo.copy(f"oci:{image}:latest", f"{repo}:real", dest_creds=alice))

        def tags() -> dict[str, dict[str, Any]]:
            repos = stack.api("GET", "/repositories?all=true", headers=stack.admin_headers).json()
            found = [r for r in repos if r["full_name"] == "alice/forged"]
            if not found:
                return {}
            listed = stack.api(
                "GET", f"/repositories/{found[0]['id']}/tags", headers=stack.admin_headers
            ).json()
            return {t["name"]: t for t in listed}

        real = stack.wait_for(lambda: tags().get("real"))

        def forged(repository: str, tag: str, digest: str, actor: str) -> dict[str, Any]:
            return {
                "id": str(uuid.uuid4()),
                "timestamp": "2026-12-01T00:00:00Z",
                "action": "push",
                "target": {
                    "repository": repository,
                    "tag": tag,
                    "digest": digest,
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                },
                "request": {"host": stack.registry.host, "method": "PUT"},
                "actor": {"name": actor},
            }

        events = [
            # a digest the registry does not have, in a repository it has
            forged("alice/forged", "ghost", "sha256:" + "0" * 64, "alice"),
            # a real digest in a repository the registry does not have
            forged("alice/never-pushed", "1", real["digest"], "alice"),
            # bob, into alice's namespace, with a manifest the registry serves there
            forged("alice/forged", "by-bob", real["digest"], "bob"),
            # bob, into a namespace nobody created
            forged("bobsteam/app", "1", real["digest"], "bob"),
        ]
        with stack.server.client() as client:
            sent = client.post(
                "/v2/webhooks/events",
                content=json.dumps({"events": events}),
                headers={"Authorization": "Bearer e2e-notifications-secret"},
            )
        assert sent.status_code == 202, sent.text
        assert sent.json() == {"stored": len(events)}
        # Events are handled in order: once a later real push is recorded, so are the forgeries.
        ok(skopeo.copy(f"oci:{image}:other", f"{repo}:after", dest_creds=alice))
        recorded = stack.wait_for(lambda: tags() if "after" in tags() else None)
        assert set(recorded) == {"real", "after"}
        repos = stack.api("GET", "/repositories?all=true", headers=stack.admin_headers).json()
        names = {r["full_name"] for r in repos}
        assert "alice/never-pushed" not in names
        assert not any(name.startswith("bobsteam/") for name in names)
        namespaces = stack.api("GET", "/namespaces", headers=stack.admin_headers).json()
        assert "bobsteam" not in {n["name"] for n in namespaces}
        log = stack.server.log_text()
        assert events[0]["id"] in log and events[1]["id"] in log


class TestTagDelete:
    def test_deleting_a_tag_keeps_the_tags_that_share_its_digest(
        self, stack: Stack, skopeo: Skopeo, image: Path
    ) -> None:
        repo = f"docker://{stack.registry.host}/alice/siblings"
        alice = f"alice:{ALICE_PW}"
        for tag in ("a", "b"):  # one image, two tags
            ok(skopeo.copy(f"oci:{image}:latest", f"{repo}:{tag}", dest_creds=alice))
        ok(skopeo.copy(f"oci:{image}:other", f"{repo}:c", dest_creds=alice))
        alice_api = api_headers(stack, "alice", ALICE_PW)

        def tags() -> dict[str, dict[str, Any]]:
            repos = stack.api("GET", "/repositories?all=true", headers=stack.admin_headers).json()
            found = [r for r in repos if r["full_name"] == "alice/siblings"]
            if not found:
                return {}
            listed = stack.api(
                "GET", f"/repositories/{found[0]['id']}/tags", headers=stack.admin_headers
            ).json()
            return {t["name"]: t for t in listed}

        def all_three() -> dict[str, dict[str, Any]] | None:
            found = tags()
            return found if set(found) == {"a", "b", "c"} else None

        by_name = stack.wait_for(all_three)
        assert by_name["a"]["digest"] == by_name["b"]["digest"] != by_name["c"]["digest"]

        # bob may see the (public) namespace but not delete in it
        bob = api_headers(stack, "bob", BOB_PW)
        denied = stack.api("DELETE", f"/tags/{by_name['a']['id']}", headers=bob)
        assert denied.status_code == 403

        deleted = stack.api("DELETE", f"/tags/{by_name['a']['id']}", headers=alice_api)
        assert deleted.status_code == 204, deleted.text
        listed = json.loads(ok(skopeo.list_tags(repo, creds=alice)).stdout)["Tags"]
        assert sorted(listed) == ["b", "c"]
        # the sibling still pulls, with the same digest
        pulled = json.loads(ok(skopeo.inspect(f"{repo}:b", creds=alice)).stdout)
        assert pulled["Digest"] == by_name["b"]["digest"]
        assert set(tags()) == {"b", "c"}

        # a tag alone on its digest: the manifest itself goes
        assert (
            stack.api("DELETE", f"/tags/{by_name['c']['id']}", headers=alice_api).status_code == 204
        )
        assert json.loads(ok(skopeo.list_tags(repo, creds=alice)).stdout)["Tags"] == ["b"]
        refused(
            skopeo.inspect(
                f"docker://{stack.registry.host}/alice/siblings@{by_name['c']['digest']}",
                creds=alice,
            )
        )

        # the last tag: the repository is gone from the catalog here
        assert (
            stack.api("DELETE", f"/tags/{by_name['b']['id']}", headers=alice_api).status_code == 204
        )
        assert tags() == {}
        # and the registry's notifications of these deletes change nothing afterwards
        time.sleep(1.5)
        assert tags() == {}

    def test_sibling_of_a_docker_v2_image_survives(
        self, stack: Stack, skopeo: Skopeo, image: Path
    ) -> None:
        repo = f"docker://{stack.registry.host}/alice/siblings-v2"
        alice = f"alice:{ALICE_PW}"
        for tag in ("x", "y"):
            ok(
                skopeo.copy(
                    f"oci:{image}:latest",
                    f"{repo}:{tag}",
                    dest_creds=alice,
                    extra=("--format", "v2s2"),
                )
            )

        def tag_ids() -> dict[str, int] | None:
            repos = stack.api("GET", "/repositories?all=true", headers=stack.admin_headers).json()
            found = [r for r in repos if r["full_name"] == "alice/siblings-v2"]
            if not found:
                return None
            listed = stack.api(
                "GET", f"/repositories/{found[0]['id']}/tags", headers=stack.admin_headers
            ).json()
            ids = {t["name"]: t["id"] for t in listed}
            return ids if set(ids) == {"x", "y"} else None

        ids = stack.wait_for(tag_ids)
        deleted = stack.api(
            "DELETE", f"/tags/{ids['x']}", headers=api_headers(stack, "alice", ALICE_PW)
        )
        assert deleted.status_code == 204, deleted.text
        assert json.loads(ok(skopeo.list_tags(repo, creds=alice)).stdout)["Tags"] == ["y"]
        raw = json.loads(ok(skopeo.inspect(f"{repo}:y", creds=alice, raw=True)).stdout)
        assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"


class TestNamespaceDelete:
    def test_deleting_a_namespace_deletes_its_repositories_in_the_registry(
        self, stack: Stack, skopeo: Skopeo, image: Path
    ) -> None:
        alice_api = api_headers(stack, "alice", ALICE_PW)
        team = stack.api("POST", "/teams", json={"name": "squad"}, headers=alice_api)
        assert team.status_code == 201, team.text
        namespace = stack.api(
            "POST", "/namespaces", json={"name": "squad", "team": "squad"}, headers=alice_api
        )
        assert namespace.status_code == 201, namespace.text
        alice = f"alice:{ALICE_PW}"
        for repo, tag in (("one", "latest"), ("two", "other")):
            ok(
                skopeo.copy(
                    f"oci:{image}:{tag}",
                    f"docker://{stack.registry.host}/squad/{repo}:1",
                    dest_creds=alice,
                )
            )

        def listed() -> set[str]:
            repos = stack.api("GET", "/repositories?all=true", headers=stack.admin_headers).json()
            return {r["full_name"] for r in repos if r["full_name"].startswith("squad/")}

        stack.wait_for(lambda: listed() == {"squad/one", "squad/two"})
        # personal namespaces cannot be deleted
        me = stack.api("GET", "/users/alice@example.com", headers=stack.admin_headers).json()
        personal = stack.api("DELETE", f"/namespaces/{me['namespace_id']}", headers=alice_api)
        assert personal.status_code == 403

        deleted = stack.api("DELETE", f"/namespaces/{namespace.json()['id']}", headers=alice_api)
        assert deleted.status_code == 204, deleted.text
        for repo in ("one", "two"):
            # as the admin (the namespace no longer exists here, so only admins get pull on it)
            gone = skopeo.inspect(
                f"docker://{stack.registry.host}/squad/{repo}:1", creds="admin:adminpass1"
            )
            assert gone.returncode != 0
            assert "manifest unknown" in gone.stderr
        assert listed() == set()
        missing = stack.api("GET", f"/namespaces/{namespace.json()['id']}", headers=alice_api)
        assert missing.status_code == 404


class TestOtherClients:
    def test_podman_login_push_pull(self, stack: Stack, image: Path) -> None:
        require_tool("podman")
        host = stack.registry.host
        with Podman() as podman:  # a short /tmp path: podman limits runroot to 50 chars
            assert "invalid username/password" in refused(podman.login(host, "alice", "nope"))
            ok(podman.login(host, "alice", ALICE_PW))
            image_id = ok(podman.pull(f"oci:{image}:latest")).stdout.strip().splitlines()[-1]
            ok(podman.tag(image_id, f"{host}/alice/podman-app:1"))
            ok(podman.push(f"{host}/alice/podman-app:1", format="v2s2"))
            ok(podman.pull(f"{host}/alice/podman-app:1"))
            ok(podman.logout(host))

    def test_docker_login_stores_an_identity_token(
        self, stack: Stack, skopeo: Skopeo, image: Path, tmp_path: Path
    ) -> None:
        require_tool("docker")
        config_dir = tmp_path / "docker"
        config_dir.mkdir()
        host = stack.registry.host
        assert refused(docker_login(config_dir, host, "alice", "nope"))
        ok(docker_login(config_dir, host, "alice", ALICE_PW))
        stored = json.loads((config_dir / "config.json").read_text())["auths"][host]
        assert stored["identitytoken"].startswith("prt_")
        # the password is not stored: `auth` is base64("alice:")
        assert stored["auth"] == "YWxpY2U6"
        assert ALICE_PW not in (config_dir / "config.json").read_text()
        # skopeo pushes with that file: containers/image uses the refresh-token POST grant.
        ok(
            skopeo.run(
                "copy",
                "--dest-tls-verify=false",
                "--dest-authfile",
                str(config_dir / "config.json"),
                f"oci:{image}:latest",
                f"docker://{host}/alice/identity:1",
            )
        )
