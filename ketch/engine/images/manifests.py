"""Reading pulled manifests and configs: the checks a pull makes before it trusts them.

Docker schema2 and OCI manifests and indexes; an index picks the platform's manifest.
Refused: an ambiguous document (index and image fields together, a ``mediaType`` that
disagrees with what the registry said it is: CVE-2021-41190), manifests over 4 MiB,
more layers than overlayfs can stack, a config whose diff_ids do not match the layers.
"""

import json
from dataclasses import dataclass

from ketch import errors
from ketch.engine.images.remote import Manifest
from ketch.oci import mediatypes
from ketch.oci import platform as platforms

MAX_MANIFEST_SIZE = 4 << 20
MAX_CONFIG_SIZE = 8 << 20
MAX_LAYERS = 127
INDEX_TYPES = (mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST)
IMAGE_TYPES = (mediatypes.OCI_MANIFEST, mediatypes.DOCKER_MANIFEST)
FOREIGN = ("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
           "application/vnd.oci.image.layer.nondistributable.v1.tar",
           "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
           "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd")
LAYER_TYPES = ("application/vnd.docker.image.rootfs.diff.tar.gzip",
               "application/vnd.docker.image.rootfs.diff.tar",
               mediatypes.OCI_LAYER_GZIP, mediatypes.OCI_LAYER_ZSTD, mediatypes.OCI_LAYER_TAR,
               "application/vnd.docker.image.rootfs.diff.tar.zstd")


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class ImageManifest:
    config_digest: str
    config_size: int
    layers: tuple[Descriptor, ...]


def _load(m: Manifest) -> dict:
    if len(m.data) > MAX_MANIFEST_SIZE:
        raise errors.InvalidArgument(f"manifest {m.digest} is larger than {MAX_MANIFEST_SIZE} bytes")
    try:
        doc = json.loads(m.data)
    except ValueError as exc:
        raise errors.InvalidArgument(f"invalid manifest {m.digest}: {exc}") from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument(f"invalid manifest {m.digest}")
    declared = doc.get("mediaType")
    if declared and m.media_type and declared != m.media_type:
        raise errors.InvalidArgument(f"mediaType in manifest should be '{m.media_type}' not '{declared}'")
    if "manifests" in doc and ("layers" in doc or "config" in doc):
        raise errors.InvalidArgument("manifest has both index and image fields: refusing an "
                                     "ambiguous manifest")
    return doc


def is_index(m: Manifest) -> bool:
    if m.media_type in INDEX_TYPES:
        return True
    if m.media_type in IMAGE_TYPES:
        return False
    return "manifests" in _load(m)


def default_platform() -> platforms.Platform:
    return platforms.Platform("linux", platforms.host_arch())


def select_platform(m: Manifest, want: platforms.Platform) -> str:
    """The digest of the index entry for ``want`` (moby's "no matching manifest" else)."""
    doc = _load(m)
    for entry in doc.get("manifests") or []:
        p = entry.get("platform") or {}
        have = platforms.Platform(p.get("os", ""), p.get("architecture", ""), p.get("variant", ""))
        if want.matches(have) and entry.get("mediaType", mediatypes.OCI_MANIFEST) in IMAGE_TYPES:
            return entry["digest"]
    raise errors.NotFound(f"no matching manifest for {want} in the manifest list entries")


def parse_image_manifest(m: Manifest) -> ImageManifest:
    doc = _load(m)
    if doc.get("schemaVersion") != 2 or "config" not in doc:
        raise errors.InvalidArgument(f"unsupported manifest format: {m.media_type or 'unknown'}")
    layers = []
    for entry in doc.get("layers") or []:
        media = entry.get("mediaType", "")
        if media in FOREIGN:
            raise errors.NotImplementedYet(f"foreign layer {entry.get('digest')} is not supported")
        if media not in LAYER_TYPES:
            raise errors.InvalidArgument(f"unsupported layer media type {media}")
        layers.append(Descriptor(media, entry["digest"], int(entry.get("size") or 0)))
    if len(layers) > MAX_LAYERS:
        raise errors.InvalidArgument(f"too many layers: {len(layers)} (at most {MAX_LAYERS})")
    config = doc["config"]
    return ImageManifest(config["digest"], int(config.get("size") or 0), tuple(layers))


def parse_config(data: bytes, image: ImageManifest) -> dict:
    try:
        config = json.loads(data)
    except ValueError as exc:
        raise errors.InvalidArgument(f"invalid image config: {exc}") from None
    diff_ids = ((config.get("rootfs") or {}).get("diff_ids")) or []
    if len(diff_ids) != len(image.layers):
        raise errors.InvalidArgument("layers from manifest don't match image configuration")
    return config


def check_platform(ref: str, config: dict, want: platforms.Platform) -> None:
    have = platforms.Platform(config.get("os") or "linux", config.get("architecture") or "",
                              config.get("variant") or "")
    if not want.matches(have):
        raise errors.NotFound(f"image with reference {ref} was found but does not match the "
                              f"specified platform: wanted {want}, actual: {have}")
