"""Manifests from a registry: parsed into typed values, hostile ones refused."""

import json

import pytest

from ketch.oci import mediatypes
from ketch.oci.platform import Platform
from ketch.registry.client import manifest as mf
from ketch.registry.client.manifest import ImageIndex, ImageManifest, ManifestError

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
CONFIG = {"mediaType": mediatypes.DOCKER_CONFIG, "digest": D1, "size": 10}
LAYER = {"mediaType": mediatypes.DOCKER_LAYER_GZIP, "digest": D2, "size": 20}


def _raw(**doc) -> bytes:
    return json.dumps({"schemaVersion": 2, **doc}).encode()


def test_schema2_manifest():
    media_type, doc = mf.parse(_raw(mediaType=mediatypes.DOCKER_MANIFEST, config=CONFIG, layers=[LAYER]),
                               mediatypes.DOCKER_MANIFEST)
    assert media_type == mediatypes.DOCKER_MANIFEST
    assert isinstance(doc, ImageManifest)
    assert doc.config.digest == D1 and [layer.size for layer in doc.layers] == [20]


def test_oci_manifest_without_media_type_is_detected():
    media_type, doc = mf.parse(_raw(config=CONFIG, layers=[LAYER]), mediatypes.OCI_MANIFEST)
    assert media_type == mediatypes.OCI_MANIFEST and isinstance(doc, ImageManifest)


def test_index_with_platforms_and_a_content_type_with_parameters():
    entry = {"mediaType": mediatypes.OCI_MANIFEST, "digest": D1, "size": 5,
             "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}}
    media_type, doc = mf.parse(_raw(mediaType=mediatypes.OCI_INDEX, manifests=[entry]),
                               mediatypes.OCI_INDEX + "; charset=utf-8")
    assert isinstance(doc, ImageIndex) and doc.manifests[0].platform == Platform("linux", "arm", "v7")


@pytest.mark.parametrize("raw,content_type,error", [
    # CVE-2021-41190: a document that is both an index and an image
    (_raw(mediaType=mediatypes.OCI_MANIFEST, config=CONFIG, layers=[LAYER], manifests=[]), mediatypes.OCI_MANIFEST,
     f'media-type: "{mediatypes.OCI_MANIFEST}" should not have "manifests" or "fsLayers"'),
    (_raw(mediaType=mediatypes.OCI_INDEX, manifests=[], layers=[LAYER]), mediatypes.OCI_INDEX,
     f'media-type: "{mediatypes.OCI_INDEX}" should not have "config", "layers", or "fsLayers"'),
    (_raw(config=CONFIG, manifests=[]), "", "media-type: cannot determine"),
    # the body's kind against the response's Content-Type
    (_raw(config=CONFIG, layers=[LAYER]), mediatypes.OCI_INDEX,
     f'manifest media type "{mediatypes.OCI_MANIFEST}" does not match Content-Type "{mediatypes.OCI_INDEX}"'),
    (_raw(mediaType=mediatypes.DOCKER_MANIFEST, config=CONFIG, layers=[]), mediatypes.OCI_MANIFEST,
     f'manifest media type "{mediatypes.DOCKER_MANIFEST}" does not match Content-Type "{mediatypes.OCI_MANIFEST}"'),
    (_raw(mediaType="application/x-evil", config=CONFIG), "", "unsupported manifest media type: application/x-evil"),
    (json.dumps({"schemaVersion": 1, "fsLayers": [], "name": "x"}).encode(), "",
     "unsupported manifest format: Docker Image manifest version 2, schema 1"),
    (_raw(mediaType=mediatypes.DOCKER_MANIFEST, layers=[LAYER]), "", "invalid manifest: no config"),
    (_raw(mediaType=mediatypes.DOCKER_MANIFEST, config={**CONFIG, "digest": "sha256:abc"}, layers=[]), "",
     "invalid checksum digest length"),
    (_raw(mediaType=mediatypes.DOCKER_MANIFEST, config={**CONFIG, "digest": "md5:" + "a" * 32}, layers=[]), "",
     "unsupported digest algorithm"),
    (_raw(mediaType=mediatypes.DOCKER_MANIFEST, config={**CONFIG, "digest": "sha256:../../" + "a" * 58},
          layers=[]), "", "invalid checksum digest format"),
    (_raw(mediaType=mediatypes.DOCKER_MANIFEST, config={**CONFIG, "size": -1}, layers=[]), "",
     "invalid descriptor size -1"),
    (_raw(mediaType=mediatypes.DOCKER_MANIFEST, config=CONFIG, layers=[LAYER] * (mf.MAX_LAYERS + 1)), "",
     f"manifest has {mf.MAX_LAYERS + 1} layers, more than {mf.MAX_LAYERS}"),
    (_raw(mediaType=mediatypes.OCI_INDEX, manifests=[CONFIG] * (mf.MAX_INDEX_ENTRIES + 1)), "",
     f"manifest list has {mf.MAX_INDEX_ENTRIES + 1} entries, more than {mf.MAX_INDEX_ENTRIES}"),
    (b"[1, 2]", "", "invalid manifest: not a JSON object"),
    (_raw(mediaType=mediatypes.DOCKER_MANIFEST, config=CONFIG, layers=[], pad="x" * mf.MAX_MANIFEST_SIZE), "",
     "manifest payload size of"),
])
def test_hostile_manifests_are_refused(raw, content_type, error):
    with pytest.raises(ManifestError) as err:
        mf.parse(raw, content_type)
    assert str(err.value).startswith(error)


def test_foreign_layers():
    foreign = mf.Descriptor(mf.DOCKER_FOREIGN_LAYER, D1, 1, ("https://example.com/l.tgz",))
    assert foreign.foreign and not mf.Descriptor(mediatypes.DOCKER_LAYER_GZIP, D1, 1).foreign
    assert mf.Descriptor(mf.OCI_NONDISTRIBUTABLE[1], D1, 1).foreign
    assert foreign.to_dict() == {"mediaType": mf.DOCKER_FOREIGN_LAYER, "digest": D1, "size": 1,
                                 "urls": ["https://example.com/l.tgz"]}
