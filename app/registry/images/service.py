"""Image details beyond Portus: what the registry serves for a tag (its manifest, and for each
image its config blob), read through the registry client as the internal identity, for callers
who may pull the tag."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.core.errors import AppError, NotFound
from app.models import Registry
from app.registry.client import LIST_TYPES, ManifestNotFound, RegistryClient, RegistryError
from app.registry.images.schemas import (
    HistoryRead,
    ImageRead,
    LayerRead,
    RegistryDescriptor,
    RegistryImageConfig,
    RegistryManifest,
    TagDetails,
)
from app.repositories.service import load_tag

MAX_PLATFORMS = 32
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class RegistryUnavailable(AppError):
    """The registry did not answer, or answered what cannot be read: nothing of ours failed."""

    status_code = 502


async def tag_details(
    session: AsyncSession,
    client_for: Callable[[Registry], RegistryClient],
    principal: Principal,
    tag_id: int,
) -> TagDetails:
    """The tag's image(s) as the registry serves them, if the caller may pull the tag (404
    otherwise). The request's reads are done before the registry is asked."""
    context = await load_tag(session, principal, tag_id)
    tag, repository = context.tag, context.full_name
    client = client_for(context.registry)
    try:
        digest, media_type, body = await client.manifest_document(repository, tag.digest)
        manifest = _parse(RegistryManifest, body, f"the manifest of {repository}@{tag.digest}")
        if manifest.manifests is not None or media_type in LIST_TYPES:
            children = manifest.manifests or []
            platforms = [
                await _image(client, repository, child) for child in children[:MAX_PLATFORMS]
            ]
            total = len(children)
        else:
            platforms = [await _read_image(client, repository, digest, media_type, manifest)]
            total = 1
    except ManifestNotFound as exc:
        raise NotFound(
            f"Not found: the registry does not serve this tag's image ({tag.digest}) any more"
        ) from exc
    except RegistryError as exc:
        raise RegistryUnavailable(f"the registry failed: {exc}") from exc
    return TagDetails(
        id=tag.id,
        name=tag.name,
        repository=repository,
        digest=digest,
        media_type=media_type or None,
        multi_platform=manifest.manifests is not None,
        platforms_total=total,
        platforms=platforms,
    )


def _parse(model: type[Any], body: Any, what: str) -> Any:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise RegistryError(f"{what} cannot be read: {exc.error_count()} invalid fields") from exc


async def _image(client: RegistryClient, repository: str, child: RegistryDescriptor) -> ImageRead:
    """One platform of a list: its own manifest and config; the list's platform fills in what
    the config leaves out."""
    digest, media_type, body = await client.manifest_document(repository, child.digest)
    manifest = _parse(RegistryManifest, body, f"the manifest of {repository}@{child.digest}")
    image = await _read_image(client, repository, digest, media_type, manifest)
    platform = child.platform
    if platform is None:
        return image
    return image.model_copy(
        update={
            "os": image.os or platform.os,
            "architecture": image.architecture or platform.architecture,
            "variant": image.variant or platform.variant,
            "os_version": image.os_version or platform.os_version,
        }
    )


async def _read_image(
    client: RegistryClient,
    repository: str,
    digest: str,
    media_type: str,
    manifest: RegistryManifest,
) -> ImageRead:
    if manifest.manifests is not None:
        raise RegistryError(f"{repository}@{digest}: a list inside a list is not read")
    if manifest.config is None:  # schema 1: no config blob, no sizes
        return ImageRead(
            digest=digest,
            media_type=media_type or None,
            os=None,
            architecture=manifest.architecture,
            variant=None,
            os_version=None,
            created=None,
            author=None,
            size=0,
            config_digest=None,
            labels={},
            entrypoint=None,
            cmd=None,
            layers=[
                LayerRead(digest=layer.blob_sum, media_type=None, size=None)
                for layer in reversed(manifest.fs_layers)  # schema 1 lists the top layer first
            ],
            history=[],
        )
    config_body = await client.blob_json(
        repository, manifest.config.digest, max_bytes=MAX_CONFIG_BYTES
    )
    config = _parse(RegistryImageConfig, config_body, f"the config of {repository}@{digest}")
    run = config.config
    layers = [
        LayerRead(digest=layer.digest, media_type=layer.media_type, size=layer.size)
        for layer in manifest.layers
    ]
    return ImageRead(
        digest=digest,
        media_type=media_type or None,
        os=config.os,
        architecture=config.architecture,
        variant=config.variant,
        os_version=config.os_version,
        created=_time(config.created),
        author=config.author,
        size=(manifest.config.size or 0) + sum(layer.size or 0 for layer in layers),
        config_digest=manifest.config.digest,
        labels=(run.labels if run else None) or {},
        entrypoint=run.entrypoint if run else None,
        cmd=run.cmd if run else None,
        layers=layers,
        history=[
            HistoryRead(
                created=_time(entry.created),
                created_by=entry.created_by,
                author=entry.author,
                comment=entry.comment,
                empty_layer=entry.empty_layer,
            )
            for entry in config.history
        ],
    )


def _time(value: datetime | None) -> datetime | None:
    """Go's zero time (`0001-01-01T00:00:00Z`, reproducible builds) means unknown."""
    return None if value is None or value.year <= 1 else value
