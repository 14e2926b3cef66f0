"""What the registry serves about an image, read at the boundary (`Registry*` models: lenient,
unknown fields ignored), and the answer of `GET /tags/{id}/details`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


# --- read from the registry ----------------------------------------------------------------------
class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class RegistryPlatform(_Lenient):
    architecture: str | None = None
    os: str | None = None
    variant: str | None = None
    os_version: str | None = Field(None, alias="os.version")


class RegistryDescriptor(_Lenient):
    media_type: str | None = Field(None, alias="mediaType")
    digest: str
    size: int | None = None
    platform: RegistryPlatform | None = None
    annotations: dict[str, str] | None = None


class RegistryFsLayer(_Lenient):
    blob_sum: str = Field(alias="blobSum")


class RegistryManifest(_Lenient):
    """A Docker v2 / OCI image manifest, a manifest list / OCI index (`manifests`), or a schema 1
    manifest (`architecture`, `fsLayers`: no config, no sizes)."""

    schema_version: int | None = Field(None, alias="schemaVersion")
    media_type: str | None = Field(None, alias="mediaType")
    config: RegistryDescriptor | None = None
    layers: list[RegistryDescriptor] = []
    manifests: list[RegistryDescriptor] | None = None
    architecture: str | None = None
    fs_layers: list[RegistryFsLayer] = Field([], alias="fsLayers")


class RegistryRunConfig(_Lenient):
    labels: dict[str, str] | None = Field(None, alias="Labels")
    entrypoint: list[str] | None = Field(None, alias="Entrypoint")
    cmd: list[str] | None = Field(None, alias="Cmd")


class RegistryHistory(_Lenient):
    created: datetime | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False


class RegistryImageConfig(_Lenient):
    created: datetime | None = None
    author: str | None = None
    architecture: str | None = None
    os: str | None = None
    variant: str | None = None
    os_version: str | None = Field(None, alias="os.version")
    config: RegistryRunConfig | None = None
    history: list[RegistryHistory] = []


# --- the answer ----------------------------------------------------------------------------------
class LayerRead(BaseModel):
    digest: str
    media_type: str | None
    size: int | None = Field(description="bytes, compressed as stored")


class HistoryRead(BaseModel):
    created: datetime | None
    created_by: str | None = Field(description="the build step")
    author: str | None
    comment: str | None
    empty_layer: bool = Field(description="the step made no layer (ENV, LABEL, ...)")


class ImageRead(BaseModel):
    """One image: the tag's own, or one platform of a manifest list / OCI index."""

    digest: str = Field(description="of the image manifest")
    media_type: str | None
    os: str | None
    architecture: str | None
    variant: str | None
    os_version: str | None
    created: datetime | None
    author: str | None
    size: int = Field(description="config and layers, compressed as stored (bytes)")
    config_digest: str | None
    labels: dict[str, str]
    entrypoint: list[str] | None
    cmd: list[str] | None
    layers: list[LayerRead]
    history: list[HistoryRead]


class TagDetails(BaseModel):
    id: int
    name: str
    repository: str = Field(description="full name, as in `docker pull`")
    digest: str = Field(description="what the tag points to")
    media_type: str | None
    multi_platform: bool = Field(description="a manifest list or OCI index")
    platforms_total: int = Field(description="images of the list (only the first 32 are read)")
    platforms: list[ImageRead] = Field(description="one image, or one per platform of a list")
