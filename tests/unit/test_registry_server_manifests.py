"""Manifests a PUT carries: their kind, what they reference, and the ambiguous ones refused
(CVE-2021-41190)."""

import json

import pytest

from ketch.registry.server import manifests
from ketch.registry.server.manifests import ManifestInvalid
from ketch.registry.server.names import Digest

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": D1, "size": 10}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D2, "size": 20}
IMAGE = {"schemaVersion": 2, "mediaType": manifests.OCI_MANIFEST, "config": CONFIG, "layers": [LAYER]}
INDEX = {"schemaVersion": 2, "mediaType": manifests.OCI_INDEX,
         "manifests": [{"mediaType": manifests.OCI_MANIFEST, "digest": D1, "size": 5,
                        "platform": {"os": "linux", "architecture": "amd64"}}]}


def _bytes(doc):
    return json.dumps(doc).encode()


def test_image_manifest_references_config_and_layers():
    data = _bytes(IMAGE)
    manifest = manifests.parse(manifests.OCI_MANIFEST, data)
    assert manifest.media_type == manifests.OCI_MANIFEST
    assert manifest.digest == Digest.of(data)
    assert [d.digest for d in manifest.blobs] == [Digest.parse(D1), Digest.parse(D2)]
    assert manifest.manifests == () and not manifest.is_index


def test_index_references_manifests():
    manifest = manifests.parse(manifests.OCI_INDEX + "; charset=utf-8", _bytes(INDEX))
    assert manifest.is_index and manifest.blobs == ()
    assert [d.digest for d in manifest.manifests] == [Digest.parse(D1)]


def test_docker_types():
    docker = {**IMAGE, "mediaType": manifests.DOCKER_MANIFEST}
    assert manifests.parse(manifests.DOCKER_MANIFEST, _bytes(docker)).media_type == manifests.DOCKER_MANIFEST
    listing = {**INDEX, "mediaType": manifests.DOCKER_LIST}
    assert manifests.parse(manifests.DOCKER_LIST, _bytes(listing)).is_index


@pytest.mark.parametrize("content_type, doc, kind", [
    (None, IMAGE, manifests.OCI_MANIFEST),  # no Content-Type: the document's own mediaType
    ("application/json", {k: v for k, v in IMAGE.items() if k != "mediaType"}, manifests.OCI_MANIFEST),
    ("", {k: v for k, v in INDEX.items() if k != "mediaType"}, manifests.OCI_INDEX),
    (manifests.OCI_MANIFEST, {k: v for k, v in IMAGE.items() if k != "mediaType"}, manifests.OCI_MANIFEST),
])
def test_kind_without_a_clear_content_type(content_type, doc, kind):
    assert manifests.parse(content_type, _bytes(doc)).media_type == kind


@pytest.mark.parametrize("content_type, doc, reason", [
    # CVE-2021-41190: one document, two readings
    (manifests.OCI_MANIFEST, {**IMAGE, "manifests": INDEX["manifests"]}, "expected manifest but found index"),
    (manifests.OCI_INDEX, {**INDEX, "config": CONFIG, "layers": [LAYER]}, "expected index but found manifest"),
    (None, {**INDEX, "layers": [LAYER]}, "expected index but found manifest"),
    # the Content-Type and the mediaType disagree
    (manifests.OCI_MANIFEST, {**IMAGE, "mediaType": manifests.OCI_INDEX},
     "if present, mediaType in manifest should be 'application/vnd.oci.image.manifest.v1+json' not "
     "'application/vnd.oci.image.index.v1+json'"),
    (manifests.OCI_INDEX, {**INDEX, "mediaType": manifests.OCI_MANIFEST}, "mediaType in image index should be"),
    (manifests.DOCKER_MANIFEST, IMAGE, "mediaType in manifest should be "
     "'application/vnd.docker.distribution.manifest.v2+json' not 'application/vnd.oci.image.manifest.v1+json'"),
    (manifests.DOCKER_LIST, {**INDEX, "mediaType": None}, "mediaType in manifest list should be"),
    # malformed
    (manifests.OCI_MANIFEST, {**IMAGE, "schemaVersion": 1}, "unsupported manifest schema version"),
    (manifests.OCI_MANIFEST, {**IMAGE, "layers": [{**LAYER, "digest": "sha256:xyz"}]}, "invalid checksum digest"),
    (manifests.OCI_MANIFEST, {**IMAGE, "layers": [{**LAYER, "size": -1}]}, "invalid size"),
    (manifests.OCI_MANIFEST, {**IMAGE, "config": None}, "descriptor is not an object"),
    (manifests.OCI_MANIFEST, [], "not a JSON object"),
    ("application/vnd.docker.distribution.manifest.v1+prettyjws", {"schemaVersion": 1}, "manifest type unsupported"),
    (None, {**IMAGE, "mediaType": "application/vnd.example+json"}, "unsupported manifest media type"),
])
def test_refused(content_type, doc, reason):
    with pytest.raises(ManifestInvalid, match=reason.replace("+", r"\+").replace(".", r"\.")):
        manifests.parse(content_type, _bytes(doc))


def test_invalid_json_and_size():
    with pytest.raises(ManifestInvalid, match="invalid JSON"):
        manifests.parse(manifests.OCI_MANIFEST, b"{")
    with pytest.raises(ManifestInvalid, match="exceeds"):
        manifests.parse(manifests.OCI_MANIFEST, b" " * (manifests.MAX_SIZE + 1))


def test_foreign_layers():
    foreign = {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": D2,
               "size": 1, "urls": ["https://example.com/layer"]}
    doc = {**IMAGE, "mediaType": manifests.DOCKER_MANIFEST, "layers": [foreign]}
    manifest = manifests.parse(manifests.DOCKER_MANIFEST, _bytes(doc))
    assert [d.foreign for d in manifest.blobs] == [False, True]


@pytest.mark.parametrize("doc, media_type", [
    (IMAGE, manifests.OCI_MANIFEST),
    ({k: v for k, v in IMAGE.items() if k != "mediaType"}, manifests.OCI_MANIFEST),
    ({k: v for k, v in INDEX.items() if k != "mediaType"}, manifests.OCI_INDEX),
    ({**INDEX, "mediaType": manifests.DOCKER_LIST}, manifests.DOCKER_LIST),
])
def test_stored_media_type(doc, media_type):
    assert manifests.stored_media_type(_bytes(doc)) == media_type
