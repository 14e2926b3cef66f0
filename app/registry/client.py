"""Talking to the registry as the service itself, with tokens we sign for our internal identity
(no user's password involved)."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

from app.auth.service import GrantedScope, sign
from app.authz.principal import INTERNAL_USERNAME
from app.core.config import Settings
from app.core.keys import SigningKey
from app.models import Registry

API_VERSION_HEADER = "Docker-Distribution-Api-Version"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_V1 = "application/vnd.docker.distribution.manifest.v1+json"
MANIFEST_TYPES = (
    DOCKER_MANIFEST,
    DOCKER_LIST,
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_V1_SIGNED,
    DOCKER_V1,
)
LIST_TYPES = (DOCKER_LIST, OCI_INDEX)
# What distribution asks for `GET /v2/_catalog`.
CATALOG_SCOPE = GrantedScope("registry", "catalog", ["*"])


class RegistryError(Exception):
    pass


class ManifestNotFound(RegistryError):
    """The registry answered 404: it does not serve that manifest (unlike an outage, final)."""


@dataclass(frozen=True)
class ManifestInfo:
    digest: str
    media_type: str
    image_id: str | None  # config digest without "sha256:" (Portus's image_id)
    size: int  # config + layers; for a list or index, the sum over its images


def timeouts(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(
        settings.registry.read_timeout.value, connect=settings.registry.timeout.value
    )


async def check_reachable(http: httpx.AsyncClient, base_url: str, settings: Settings) -> str | None:
    """None when `<base_url>/v2/` answers like a distribution registry, else what is wrong."""
    try:
        response = await http.get(f"{base_url}/v2/", timeout=timeouts(settings))
    except httpx.HTTPError as exc:
        return f"the registry at {base_url} is not reachable: {exc.__class__.__name__}: {exc}"
    if response.status_code not in (200, 401) or API_VERSION_HEADER not in response.headers:
        return (
            f"{base_url}/v2/ answered {response.status_code} without the {API_VERSION_HEADER} "
            "header: is this a Docker registry?"
        )
    return None


def client_factory(
    http: httpx.AsyncClient, settings: Settings, signing_key: SigningKey
) -> Callable[[Registry], RegistryClient]:
    """Clients for a stored registry, talking to its `hostname` as the token `service`."""

    def client_for(registry: Registry) -> RegistryClient:
        return RegistryClient(
            http,
            base_url=registry.base_url,
            service=registry.hostname,
            settings=settings,
            signing_key=signing_key,
        )

    return client_for


class RegistryClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        service: str,
        settings: Settings,
        signing_key: SigningKey,
    ) -> None:
        self.http = http
        self.base_url = base_url
        self.service = service
        self.settings = settings
        self.signing_key = signing_key

    def _auth(self, repository: str, actions: list[str]) -> dict[str, str]:
        return self._bearer(GrantedScope("repository", repository, actions))

    def _bearer(self, scope: GrantedScope) -> dict[str, str]:
        token = sign(
            self.settings,
            self.signing_key,
            subject=INTERNAL_USERNAME,
            audience=self.service,
            access=[scope],
        ).token
        return {"Authorization": f"Bearer {token}"}

    async def _pages(self, path: str, key: str, scope: GrantedScope) -> AsyncIterator[list[str]]:
        """The `key` list of each page of `path`, following `Link: <...>; rel="next"`.

        A repository the registry does not know (404) has no pages: for `tags/list` that is a
        repository without tags.
        """
        url: str | None = f"{self.base_url}{path}?n={self.settings.registry.catalog_page.value}"
        while url is not None:
            try:
                response = await self.http.get(
                    url, headers=self._bearer(scope), timeout=timeouts(self.settings)
                )
            except httpx.HTTPError as exc:
                raise RegistryError(f"registry unreachable: {exc}") from exc
            if response.status_code == 404 and scope.type == "repository":
                return
            if response.status_code != 200:
                raise RegistryError(
                    f"GET {path}: HTTP {response.status_code} {response.text[:200]}"
                )
            try:
                items = json.loads(response.content).get(key) or []
            except (ValueError, AttributeError) as exc:
                raise RegistryError(f"GET {path}: not a JSON object") from exc
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise RegistryError(f"GET {path}: {key!r} is not a list of names")
            yield items
            following = response.links.get("next", {}).get("url")
            # The registry sends a path; join it with what we asked, whatever host that was.
            url = urljoin(str(response.url), following) if following else None

    async def catalog(self) -> AsyncIterator[str]:
        """Every repository name of `GET /v2/_catalog`, page by page (`registry.catalog_page`)."""
        async for page in self._pages("/v2/_catalog", "repositories", CATALOG_SCOPE):
            for name in page:
                yield name

    async def tags(self, repository: str) -> list[str]:
        """Every tag of `repository` (`GET /v2/<name>/tags/list`, paginated); none if unknown."""
        scope = GrantedScope("repository", repository, ["pull"])
        found: list[str] = []
        async for page in self._pages(f"/v2/{repository}/tags/list", "tags", scope):
            found.extend(page)
        return found

    async def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest `reference` resolves to (a HEAD request); None if the registry has no such
        manifest (a tag deleted since it was listed)."""
        headers = self._auth(repository, ["pull"]) | {"Accept": ", ".join(MANIFEST_TYPES)}
        try:
            response = await self.http.head(
                f"{self.base_url}/v2/{repository}/manifests/{reference}",
                headers=headers,
                timeout=timeouts(self.settings),
            )
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry unreachable: {exc}") from exc
        if response.status_code == 404:
            return None
        digest = response.headers.get("Docker-Content-Digest")
        if response.status_code != 200 or not digest:
            raise RegistryError(f"manifest {repository}:{reference}: HTTP {response.status_code}")
        return str(digest)

    async def _get_manifest(self, repository: str, reference: str) -> tuple[str, str, Any]:
        headers = self._auth(repository, ["pull"]) | {"Accept": ", ".join(MANIFEST_TYPES)}
        try:
            response = await self.http.get(
                f"{self.base_url}/v2/{repository}/manifests/{reference}",
                headers=headers,
                timeout=timeouts(self.settings),
            )
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry unreachable: {exc}") from exc
        if response.status_code == 404:
            raise ManifestNotFound(f"manifest {repository}@{reference}: HTTP 404")
        if response.status_code != 200:
            raise RegistryError(f"manifest {repository}@{reference}: HTTP {response.status_code}")
        digest = response.headers.get("Docker-Content-Digest", reference)
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise RegistryError(f"manifest {repository}@{reference} is not JSON") from exc
        return digest, body.get("mediaType") or media_type, body

    async def manifest_document(self, repository: str, reference: str) -> tuple[str, str, Any]:
        """The manifest `reference` names, as the registry serves it: its digest, media type
        and parsed JSON. `ManifestNotFound` when the registry does not serve it."""
        return await self._get_manifest(repository, reference)

    async def blob_json(self, repository: str, digest: str, *, max_bytes: int) -> Any:
        """A small JSON blob (an image config), checked against its digest; redirects to the
        storage backend are followed. At most `max_bytes`, else RegistryError."""
        algorithm, _, expected = digest.partition(":")
        if algorithm != "sha256" or not expected:
            raise RegistryError(f"blob {digest!r}: only sha256 digests are read")
        headers = self._auth(repository, ["pull"])
        hasher = hashlib.sha256()
        chunks: list[bytes] = []
        received = 0
        try:
            async with self.http.stream(
                "GET",
                f"{self.base_url}/v2/{repository}/blobs/{digest}",
                headers=headers,
                timeout=timeouts(self.settings),
                follow_redirects=True,
            ) as response:
                if response.status_code == 404:
                    raise ManifestNotFound(f"blob {repository}@{digest}: HTTP 404")
                if response.status_code != 200:
                    raise RegistryError(f"blob {repository}@{digest}: HTTP {response.status_code}")
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > max_bytes:
                        raise RegistryError(f"blob {repository}@{digest} exceeds {max_bytes} bytes")
                    hasher.update(chunk)
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry unreachable: {exc}") from exc
        if hasher.hexdigest() != expected:
            raise RegistryError(f"blob {repository}@{digest}: its content does not match")
        try:
            return json.loads(b"".join(chunks))
        except ValueError as exc:
            raise RegistryError(f"blob {repository}@{digest} is not JSON") from exc

    async def manifest(self, repository: str, reference: str) -> ManifestInfo:
        """Digest, type, image id and size of a manifest; lists and indexes are summed over
        their images (one level deep, as registries store them)."""
        digest, media_type, body = await self._get_manifest(repository, reference)
        if media_type in LIST_TYPES or "manifests" in body:
            size = 0
            for child in body.get("manifests", []):
                try:
                    child_info = await self.manifest(repository, child["digest"])
                except ManifestNotFound as exc:
                    # The list itself is served: a missing image is the registry's problem,
                    # not a sign that the list was never pushed.
                    raise RegistryError(str(exc)) from exc
                size += child_info.size
            return ManifestInfo(digest=digest, media_type=media_type, image_id=None, size=size)
        config = body.get("config") or {}
        layers = body.get("layers") or []
        size = int(config.get("size", 0)) + sum(int(layer.get("size", 0)) for layer in layers)
        config_digest = config.get("digest")
        image_id = config_digest.split(":", 1)[-1] if isinstance(config_digest, str) else None
        return ManifestInfo(digest=digest, media_type=media_type, image_id=image_id, size=size)

    async def delete_manifest(self, repository: str, digest: str) -> None:
        """DELETE by digest (distribution refuses a tag); a manifest already gone is fine."""
        try:
            response = await self.http.delete(
                f"{self.base_url}/v2/{repository}/manifests/{digest}",
                headers=self._auth(repository, ["delete"]),
                timeout=timeouts(self.settings),
            )
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry unreachable: {exc}") from exc
        if response.status_code == 404:
            return
        if response.status_code != 202:
            raise RegistryError(
                f"the registry refused to delete {repository}@{digest}: "
                f"HTTP {response.status_code} {response.text[:200]}"
            )

    async def untag(self, repository: str, tag: str, digest: str) -> None:
        """Remove `tag` alone, leaving every other tag of `digest` in place.

        Distribution deletes manifests only by digest, and deleting `digest` would untag all of
        its tags. So `tag` is first pointed at a throwaway manifest of its own (the same blobs
        plus a unique annotation, hence a unique digest), and that manifest is deleted.
        """
        current, _media_type, body = await self._get_manifest(repository, tag)
        if current != digest:
            raise RegistryError(f"{repository}:{tag} now points to {current}, not {digest}")
        marker = {"io.portus.deleted-tag": secrets.token_hex(16)}
        if isinstance(body.get("manifests"), list):
            throwaway = {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": body["manifests"],
                "annotations": marker,
            }
        elif isinstance(body.get("config"), dict) and isinstance(body.get("layers"), list):
            throwaway = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": body["config"],
                "layers": body["layers"],
                "annotations": marker,
            }
        else:
            raise RegistryError(f"{repository}:{tag} is a schema 1 manifest: cannot untag it")
        raw = json.dumps(throwaway, separators=(",", ":")).encode()
        headers = self._auth(repository, ["pull", "push"]) | {
            "Content-Type": str(throwaway["mediaType"])
        }
        try:
            response = await self.http.put(
                f"{self.base_url}/v2/{repository}/manifests/{tag}",
                content=raw,
                headers=headers,
                timeout=timeouts(self.settings),
            )
        except httpx.HTTPError as exc:
            raise RegistryError(f"registry unreachable: {exc}") from exc
        if response.status_code != 201:
            raise RegistryError(
                f"the registry refused the throwaway manifest for {repository}:{tag}: "
                f"HTTP {response.status_code} {response.text[:200]}"
            )
        throwaway_digest = response.headers.get(
            "Docker-Content-Digest", "sha256:" + hashlib.sha256(raw).hexdigest()
        )
        await self.delete_manifest(repository, throwaway_digest)
