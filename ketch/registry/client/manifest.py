"""Manifests and indexes from a registry: parsed once into typed values, refused when
hostile.

What is refused, and why:
- more than ``MAX_MANIFEST_SIZE`` (4 MiB) of manifest: nothing legitimate is that big;
- a document whose kind is ambiguous (CVE-2021-41190): index fields (``manifests``)
  together with image fields (``config``, ``layers``), a ``mediaType`` that names one kind
  while the fields are the other's, or a ``Content-Type`` that disagrees with the document
  (moby's detectManifestBlobMediaType and distribution 2.8's unmarshal checks);
- more than ``MAX_LAYERS`` layers or ``MAX_INDEX_ENTRIES`` entries, a bad digest or size;
- schema 1, which Docker no longer pulls.
"""

import json
from dataclasses import dataclass
from typing import Union

from ketch.errors import InvalidArgument
from ketch.oci import mediatypes
from ketch.oci.platform import Platform

MAX_MANIFEST_SIZE = 4 * 1024 * 1024
MAX_LAYERS = 1000
MAX_INDEX_ENTRIES = 1000

SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
IMAGE_TYPES = (mediatypes.DOCKER_MANIFEST, mediatypes.OCI_MANIFEST)
INDEX_TYPES = (mediatypes.DOCKER_MANIFEST_LIST, mediatypes.OCI_INDEX)
# What dockerd's pull sends as Accept (distribution.ManifestMediaTypes without schema 1).
ACCEPT = (mediatypes.DOCKER_MANIFEST, mediatypes.DOCKER_MANIFEST_LIST,
          mediatypes.OCI_MANIFEST, mediatypes.OCI_INDEX)

DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_NONDISTRIBUTABLE = ("application/vnd.oci.image.layer.nondistributable.v1.tar",
                        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd")
_DIGEST_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}


class ManifestError(InvalidArgument):
    """A manifest that is refused; the message says why."""


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    platform: Platform | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    @property
    def foreign(self) -> bool:
        """A foreign (non-distributable) layer: Docker's push skips it and its pull may
        fetch it from ``urls`` instead of the registry."""
        return self.media_type == DOCKER_FOREIGN_LAYER or self.media_type in OCI_NONDISTRIBUTABLE

    def to_dict(self) -> dict:
        out: dict = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                out["platform"]["variant"] = self.platform.variant
        return out


@dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]


@dataclass(frozen=True)
class ImageIndex:
    media_type: str
    manifests: tuple[Descriptor, ...]


Document = Union[ImageManifest, ImageIndex]


@dataclass(frozen=True)
class Manifest:
    """A manifest as fetched: its bytes (what the digest is of), its digest and the
    parsed document."""
    digest: str
    media_type: str
    raw: bytes
    document: Document

    @property
    def is_index(self) -> bool:
        return isinstance(self.document, ImageIndex)


def check_digest(digest: object) -> str:
    """go-digest's Validate for the algorithms registries use."""
    if not isinstance(digest, str):
        raise ManifestError("invalid checksum digest format")
    algorithm, sep, hexpart = digest.partition(":")
    if not sep or not hexpart:
        raise ManifestError("invalid checksum digest format")
    if algorithm not in _DIGEST_HEX:
        raise ManifestError("unsupported digest algorithm")
    if len(hexpart) != _DIGEST_HEX[algorithm] or not all(c in "0123456789abcdef" for c in hexpart):
        raise ManifestError("invalid checksum digest length" if len(hexpart) != _DIGEST_HEX[algorithm]
                            else "invalid checksum digest format")
    return digest


def _descriptor(doc: object, with_platform: bool = False) -> Descriptor:
    if not isinstance(doc, dict):
        raise ManifestError("invalid descriptor")
    media_type = doc.get("mediaType", "")
    size = doc.get("size")
    if not isinstance(media_type, str):
        raise ManifestError("invalid descriptor media type")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestError(f"invalid descriptor size {size!r}")
    urls = doc.get("urls") or ()
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        urls = ()
    annotations = doc.get("annotations") or {}
    annotations = tuple(sorted((str(k), str(v)) for k, v in annotations.items())) \
        if isinstance(annotations, dict) else ()
    platform = None
    if with_platform and isinstance(doc.get("platform"), dict):
        p = doc["platform"]
        platform = Platform(str(p.get("os", "")), str(p.get("architecture", "")), str(p.get("variant", "") or ""))
    return Descriptor(media_type, check_digest(doc.get("digest")), size, tuple(urls), platform, annotations)


def detect_media_type(doc: dict) -> str:
    """moby's detectManifestBlobMediaType: the kind the document is, refusing ambiguity."""
    media_type = doc.get("mediaType") or ""
    if not isinstance(media_type, str):
        raise ManifestError("invalid mediaType")
    has = {k: k in doc and doc[k] is not None for k in ("manifests", "config", "layers", "fsLayers")}
    if media_type in IMAGE_TYPES:
        if has["manifests"] or has["fsLayers"]:
            raise ManifestError(f'media-type: "{media_type}" should not have "manifests" or "fsLayers"')
        return media_type
    if media_type in INDEX_TYPES:
        if has["config"] or has["layers"] or has["fsLayers"]:
            raise ManifestError(f'media-type: "{media_type}" should not have "config", "layers", or "fsLayers"')
        return media_type
    if media_type in (SCHEMA1, SCHEMA1_SIGNED):
        return media_type
    if media_type:
        raise ManifestError(f"unsupported manifest media type: {media_type}")
    if has["fsLayers"] and not (has["manifests"] or has["layers"] or has["config"]):
        return SCHEMA1
    if (has["config"] or has["layers"]) and not (has["manifests"] or has["fsLayers"]):
        return mediatypes.OCI_MANIFEST
    if not (has["config"] or has["layers"] or has["fsLayers"]):
        return mediatypes.OCI_INDEX
    raise ManifestError("media-type: cannot determine")


def parse(raw: bytes, content_type: str = "") -> tuple[str, Document]:
    """(media type, document) of manifest bytes, ``content_type`` being the response's."""
    if len(raw) > MAX_MANIFEST_SIZE:
        raise ManifestError(f"manifest payload size of {len(raw)} exceeds limit of {MAX_MANIFEST_SIZE} bytes")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"invalid manifest: {exc}") from None
    if not isinstance(doc, dict):
        raise ManifestError("invalid manifest: not a JSON object")
    media_type = detect_media_type(doc)
    header = content_type.split(";", 1)[0].strip().lower()
    known = IMAGE_TYPES + INDEX_TYPES + (SCHEMA1, SCHEMA1_SIGNED)
    if header in known and header != media_type and not (
            {header, media_type} <= {SCHEMA1, SCHEMA1_SIGNED}):
        raise ManifestError(f'manifest media type "{media_type}" does not match Content-Type "{header}"')
    if media_type in (SCHEMA1, SCHEMA1_SIGNED):
        raise ManifestError("unsupported manifest format: Docker Image manifest version 2, schema 1")
    if doc.get("schemaVersion") != 2:
        raise ManifestError(f"unsupported manifest schemaVersion {doc.get('schemaVersion')!r}")
    if media_type in INDEX_TYPES:
        entries = doc.get("manifests")
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise ManifestError("invalid manifest list: manifests is not a list")
        if len(entries) > MAX_INDEX_ENTRIES:
            raise ManifestError(f"manifest list has {len(entries)} entries, more than {MAX_INDEX_ENTRIES}")
        return media_type, ImageIndex(media_type, tuple(_descriptor(e, True) for e in entries))
    layers = doc.get("layers")
    if layers is None:
        layers = []
    if not isinstance(layers, list):
        raise ManifestError("invalid manifest: layers is not a list")
    if len(layers) > MAX_LAYERS:
        raise ManifestError(f"manifest has {len(layers)} layers, more than {MAX_LAYERS}")
    if "config" not in doc:
        raise ManifestError("invalid manifest: no config")
    return media_type, ImageManifest(media_type, _descriptor(doc["config"]),
                                     tuple(_descriptor(layer) for layer in layers))
