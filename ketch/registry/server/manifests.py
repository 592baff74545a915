"""Manifests as PUT gives them: which kind, what they reference, and the checks that keep
an ambiguous document out (CVE-2021-41190: one that reads as an index to one client and
as an image to another). Pure functions of the bytes and the Content-Type.

The kind comes from the Content-Type, as distribution's UnmarshalManifest picks it;
without one (or with one that is no manifest type) from the document's own mediaType,
then from its fields. A mediaType in the document must agree with the kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ketch.registry.server.names import Digest, InvalidDigest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
           "application/vnd.docker.distribution.manifest.v1+prettyjws")
INDEXES = frozenset((DOCKER_LIST, OCI_INDEX))
IMAGES = frozenset((DOCKER_MANIFEST, OCI_MANIFEST))
# layers a client fetches from their URLs: their blobs need not be in the registry
FOREIGN_LAYERS = frozenset((
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
))
MAX_SIZE = 4 << 20  # distribution's maxManifestBodySize


class ManifestInvalid(ValueError):
    """MANIFEST_INVALID, with the reason as its detail."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    urls: tuple[str, ...] = ()

    @property
    def foreign(self) -> bool:
        return self.media_type in FOREIGN_LAYERS and bool(self.urls)


@dataclass(frozen=True, slots=True)
class Manifest:
    media_type: str
    digest: Digest
    blobs: tuple[Descriptor, ...]  # config and layers of an image manifest
    manifests: tuple[Descriptor, ...]  # the children of an index

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEXES


def _media_type(header: str | None) -> str:
    return (header or "").partition(";")[0].strip().lower()


def _descriptor(value: object) -> Descriptor:
    if not isinstance(value, dict):
        raise ManifestInvalid("descriptor is not an object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not isinstance(digest, str):
        raise ManifestInvalid("descriptor lacks a mediaType or a digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"descriptor {digest} has an invalid size")
    try:
        parsed = Digest.parse(digest)
    except InvalidDigest as exc:
        raise ManifestInvalid(str(exc)) from None
    urls = value.get("urls") or ()
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        urls = ()
    return Descriptor(media_type, parsed, size, tuple(urls))


def kind_of(content_type: str | None, doc: dict) -> str:
    """The manifest type a PUT means: the Content-Type's, else the document's."""
    header = _media_type(content_type)
    if header in IMAGES or header in INDEXES or header in SCHEMA1:
        return header
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in doc:
        return OCI_INDEX
    return OCI_MANIFEST


def parse(content_type: str | None, data: bytes, digest: Digest | None = None) -> Manifest:
    """The manifest a PUT carries; ManifestInvalid with distribution's reason if it is refused."""
    if len(data) > MAX_SIZE:
        raise ManifestInvalid(f"manifest exceeds {MAX_SIZE} bytes")
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise ManifestInvalid(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest is not a JSON object")
    kind = kind_of(content_type, doc)
    if kind in SCHEMA1:
        raise ManifestInvalid("manifest type unsupported")
    if kind not in IMAGES and kind not in INDEXES:
        raise ManifestInvalid(f"unsupported manifest media type and no default available: {kind}")
    declared = doc.get("mediaType")
    if kind in (DOCKER_MANIFEST, DOCKER_LIST):  # Docker's types must say what they are
        if declared != kind:
            what = "manifest list" if kind == DOCKER_LIST else "manifest"
            raise ManifestInvalid(f"mediaType in {what} should be '{kind}' not '{declared or ''}'")
    elif declared not in (None, "", kind):  # OCI's may leave it out
        what = "image index" if kind == OCI_INDEX else "manifest"
        raise ManifestInvalid(f"if present, mediaType in {what} should be '{kind}' not '{declared}'")
    if doc.get("schemaVersion") != 2:
        raise ManifestInvalid(f"unsupported manifest schema version: {doc.get('schemaVersion')!r}")
    if kind in INDEXES:
        if "config" in doc or "layers" in doc:
            raise ManifestInvalid("index: expected index but found manifest")
        children = doc.get("manifests")
        if not isinstance(children, list):
            raise ManifestInvalid("index has no manifests list")
        manifests, blobs = tuple(_descriptor(d) for d in children), ()
    else:
        if "manifests" in doc:
            raise ManifestInvalid("manifest: expected manifest but found index")
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise ManifestInvalid("manifest has no layers list")
        blobs = (_descriptor(doc.get("config")),) + tuple(_descriptor(d) for d in layers)
        manifests = ()
    return Manifest(kind, digest or Digest.of(data), blobs, manifests)


def stored_media_type(data: bytes) -> str:
    """The Content-Type to serve a stored manifest with (distribution: its Payload's type)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return OCI_MANIFEST
    if not isinstance(doc, dict):
        return OCI_MANIFEST
    declared = doc.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if doc.get("schemaVersion") == 1:
        return SCHEMA1[1] if "signatures" in doc else SCHEMA1[0]
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST
