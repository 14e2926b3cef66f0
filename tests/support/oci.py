"""Build tiny OCI image layouts by hand so tests need no image build tooling or network.

Outputs are byte-for-byte reproducible: the same ``content`` always yields the same
manifest digest, which lets tests assert on digests seen by the registry and webhooks.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_MEDIA_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_MEDIA_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"

_FILE_NAME = "hello.txt"


def _compact_json(value: object) -> bytes:
    """Compact, key-stable JSON so digests do not depend on dict ordering or whitespace."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer_tar(content: bytes) -> bytes:
    """A single-file tar with every variable header field pinned (mtime, owner, mode)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(_FILE_NAME)
        info.size = len(content)
        info.mtime = 0
        info.mode = 0o644
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.type = tarfile.REGTYPE
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _write_blob(blobs: Path, data: bytes) -> dict[str, object]:
    """Store ``data`` content-addressed and return the descriptor fields for it."""
    digest = _sha256(data)
    (blobs / digest.removeprefix("sha256:")).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def _write_image(
    blobs: Path,
    content: bytes,
    architecture: str = "amd64",
    config_extra: dict[str, object] | None = None,
) -> dict[str, object]:
    """Layer, config and manifest blobs of a one-layer image; the manifest's descriptor.
    `config_extra`: more fields of the image config (`created`, `history`, `config.Labels`...)."""
    tar_bytes = _layer_tar(content)
    layer = _write_blob(blobs, gzip.compress(tar_bytes, mtime=0))
    config = _write_blob(
        blobs,
        _compact_json(
            {
                "architecture": architecture,
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [_sha256(tar_bytes)]},
            }
            | (config_extra or {})
        ),
    )
    manifest_bytes = _compact_json(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, **config},
            "layers": [{"mediaType": LAYER_MEDIA_TYPE, **layer}],
        }
    )
    return _write_blob(blobs, manifest_bytes)


def build_oci_index_layout(dest: Path, tag: str, contents: dict[str, bytes]) -> str:
    """A layout whose `tag` is an OCI image index over one image per architecture
    (`{"amd64": b"...", "arm64": b"..."}`); returns the index digest. Push it with `--all`."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_bytes(_compact_json({"imageLayoutVersion": "1.0.0"}))
    children = [
        {
            "mediaType": MANIFEST_MEDIA_TYPE,
            **_write_image(blobs, content, architecture),
            "platform": {"architecture": architecture, "os": "linux"},
        }
        for architecture, content in contents.items()
    ]
    nested = _write_blob(
        blobs,
        _compact_json({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": children}),
    )
    top = {
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [
            {"mediaType": INDEX_MEDIA_TYPE, **nested, "annotations": {REF_NAME_ANNOTATION: tag}}
        ],
    }
    (dest / "index.json").write_bytes(_compact_json(top))
    return str(nested["digest"])


def build_oci_layout(
    dest: Path,
    tag: str = "latest",
    content: bytes = b"hello",
    config_extra: dict[str, object] | None = None,
) -> str:
    """Write (or extend) an OCI layout at ``dest`` with image ``tag``; return its manifest digest.

    Calling again with another tag adds an entry to ``index.json``; reusing a tag replaces it.
    Use it as ``oci:<dest>:<tag>`` with skopeo or podman.
    """
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (dest / "oci-layout").write_bytes(_compact_json({"imageLayoutVersion": "1.0.0"}))

    manifest = _write_image(blobs, content, config_extra=config_extra)

    index_path = dest / "index.json"
    entries: list[dict[str, object]] = []
    if index_path.exists():
        existing = json.loads(index_path.read_text())
        for entry in existing.get("manifests", []):
            annotations = entry.get("annotations") or {}
            if annotations.get(REF_NAME_ANNOTATION) != tag:
                entries.append(entry)
    entries.append(
        {
            "mediaType": MANIFEST_MEDIA_TYPE,
            **manifest,
            "annotations": {REF_NAME_ANNOTATION: tag},
        }
    )
    index = {"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": entries}
    index_path.write_bytes(_compact_json(index))
    return str(manifest["digest"])
