"""Pushes straight through the registry's HTTP API: many tags quickly, each a real push that
the registry stores and notifies like any client's (skopeo's path is covered elsewhere; this is
for bursts of hundreds of pushes in tests and benchmarks)."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import httpx

from tests.support.oci import (
    CONFIG_MEDIA_TYPE,
    LAYER_MEDIA_TYPE,
    MANIFEST_MEDIA_TYPE,
    _compact_json,
    _layer_tar,
    _sha256,
)

# A token for `repository:<name>:push,pull`, from the service under test.
TokenSource = Callable[[str], str]


class RegistryPusher:
    def __init__(self, registry_url: str, token_for: TokenSource, *, content: bytes = b"burst"):
        self.registry_url = registry_url
        self.token_for = token_for
        tar_bytes = _layer_tar(content)
        self.layer = gzip.compress(tar_bytes, mtime=0)
        self.config = _compact_json(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [_sha256(tar_bytes)]},
            }
        )
        self._tokens: dict[str, str] = {}
        self._uploaded: set[str] = set()

    def manifest(self, label: str) -> bytes:
        """The image's manifest, made unique by an annotation (a distinct digest per label)."""
        return _compact_json(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_MEDIA_TYPE,
                "config": {
                    "mediaType": CONFIG_MEDIA_TYPE,
                    "digest": _sha256(self.config),
                    "size": len(self.config),
                },
                "layers": [
                    {
                        "mediaType": LAYER_MEDIA_TYPE,
                        "digest": _sha256(self.layer),
                        "size": len(self.layer),
                    }
                ],
                "annotations": {"test.label": label},
            }
        )

    def _headers(self, repository: str) -> dict[str, str]:
        if repository not in self._tokens:
            self._tokens[repository] = self.token_for(repository)
        return {"Authorization": f"Bearer {self._tokens[repository]}"}

    def _upload(self, client: httpx.Client, repository: str, blob: bytes) -> None:
        digest = _sha256(blob)
        started = client.post(
            f"{self.registry_url}/v2/{repository}/blobs/uploads/",
            headers=self._headers(repository),
        )
        assert started.status_code == 202, started.text
        location = started.headers["Location"]
        if location.startswith("/"):
            location = self.registry_url + location
        finished = client.put(
            # keep the upload's own query (_state): add the digest to it
            httpx.URL(location).copy_add_param("digest", digest),
            content=blob,
            headers={**self._headers(repository), "Content-Type": "application/octet-stream"},
        )
        assert finished.status_code == 201, finished.text

    def push(self, client: httpx.Client, repository: str, tag: str) -> str:
        """Push `repository:tag` (its own manifest); returns the manifest digest."""
        if repository not in self._uploaded:
            self._upload(client, repository, self.layer)
            self._upload(client, repository, self.config)
            self._uploaded.add(repository)
        manifest = self.manifest(f"{repository}:{tag}")
        response = client.put(
            f"{self.registry_url}/v2/{repository}/manifests/{tag}",
            content=manifest,
            headers={**self._headers(repository), "Content-Type": MANIFEST_MEDIA_TYPE},
        )
        assert response.status_code == 201, response.text
        return _sha256(manifest)
