"""The docker-archive medium: what ``write_archive`` writes, what ``read_archive`` takes
(Docker 25+, Docker 20.10's layout, a bare OCI layout), and hostile archives it refuses."""

import contextlib
import hashlib
import io
import json
import os
import tarfile
import tracemalloc

import pytest

from ketch.errors import InvalidArgument
from ketch.image import tarball
from ketch.oci import reference


def _layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _config(*layers: bytes, os_name: str = "linux") -> bytes:
    return json.dumps({"architecture": "amd64", "os": os_name, "created": "2026-01-02T03:04:05Z",
                       "config": {"Cmd": ["sh"]},
                       "rootfs": {"type": "layers", "diff_ids": [_digest(x) for x in layers]}}).encode()


def _save_layer(data: bytes) -> tarball.SaveLayer:
    return tarball.SaveLayer(_digest(data), len(data), lambda: contextlib.nullcontext(io.BytesIO(data)))


class Spool:
    """Spools into a directory, as the engine's spool does into the content store."""

    def __init__(self, root):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        self.n = 0

    def __call__(self, src):
        self.n += 1
        path = os.path.join(self.root, str(self.n))
        h, size = hashlib.sha256(), 0
        with open(path, "wb") as out:
            while chunk := src.read(1 << 16):
                h.update(chunk)
                size += len(chunk)
                out.write(chunk)
        return tarball.Staged(path, "sha256:" + h.hexdigest(), size)


def _read(data: bytes, tmp_path) -> tarball.Archive:
    return tarball.read_archive(io.BytesIO(data), Spool(tmp_path / "spool"))


def _archive(entries) -> bytes:
    """A tar of (name, bytes) files and (name, "->target") symlinks, in that order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if isinstance(data, str) and data.startswith("->"):
                info.type = tarfile.SYMTYPE
                info.linkname = data[2:]
                tf.addfile(info)
            elif isinstance(data, str) and data.startswith("=>"):
                info.type = tarfile.LNKTYPE
                info.linkname = data[2:]
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _contents(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


BASE = _layer_tar({"bin/sh": b"#!"})
TOP = _layer_tar({"etc/motd": b"hello"})


# -- writing ------------------------------------------------------------------------


def _two_images():
    a = tarball.SaveImage(_config(BASE), (reference.parse("busybox:latest"), reference.parse("busybox:1")),
                          (_save_layer(BASE),), 1_700_000_000)
    b = tarball.SaveImage(_config(BASE, TOP), (), (_save_layer(BASE), _save_layer(TOP)), 1_700_000_001)
    return a, b


def test_write_archive_is_docker_25s_layout(tmp_path):
    a, b = _two_images()
    out = io.BytesIO()
    tarball.write_archive([a, b], out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tf:
        names = tf.getnames()
        files = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}
    assert names[:2] == ["blobs", "blobs/sha256"]
    assert names[-4:] == ["index.json", "manifest.json", "oci-layout", "repositories"]
    blobs = names[2:-4]
    assert blobs == sorted(blobs) and len(blobs) == len(set(blobs))
    # layers once each, uncompressed, named by their DiffID; configs by the image id
    assert files["blobs/sha256/" + _digest(BASE)[7:]] == BASE
    assert files["blobs/sha256/" + a.id[7:]] == a.config
    manifest = json.loads(files["manifest.json"])
    assert files["manifest.json"].endswith(b"]\n")
    assert list(manifest[0]) == ["Config", "RepoTags", "Layers", "LayerSources"]
    assert manifest[0]["Config"] == "blobs/sha256/" + a.id[7:]
    assert manifest[0]["RepoTags"] == ["busybox:latest", "busybox:1"]
    assert manifest[1]["RepoTags"] is None
    assert manifest[1]["Layers"] == ["blobs/sha256/" + _digest(x)[7:] for x in (BASE, TOP)]
    assert manifest[1]["LayerSources"][_digest(TOP)] == {
        "mediaType": "application/vnd.oci.image.layer.v1.tar", "size": len(TOP), "digest": _digest(TOP)}
    assert files["oci-layout"] == b'{"imageLayoutVersion": "1.0.0"}'
    assert json.loads(files["repositories"]) == {"busybox": {"latest": _digest(BASE)[7:], "1": _digest(BASE)[7:]}}
    index = json.loads(files["index.json"])
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    tagged = [d["annotations"] for d in index["manifests"] if "annotations" in d]
    assert tagged == [{"io.containerd.image.name": "docker.io/library/busybox:latest",
                       "org.opencontainers.image.ref.name": "latest"},
                      {"io.containerd.image.name": "docker.io/library/busybox:1",
                       "org.opencontainers.image.ref.name": "1"}]
    assert len(index["manifests"]) == 3  # the untagged image is there too
    for d in index["manifests"]:
        body = files["blobs/sha256/" + d["digest"][7:]]
        assert _digest(body) == d["digest"] and len(body) == d["size"]
        m = json.loads(body)
        assert list(m) == ["schemaVersion", "mediaType", "config", "layers"]
        assert {layer["mediaType"] for layer in m["layers"]} == {"application/vnd.oci.image.layer.v1.tar"}


def test_write_then_read_round_trip(tmp_path):
    out = io.BytesIO()
    tarball.write_archive(_two_images(), out)
    archive = _read(out.getvalue(), tmp_path)
    a, b = archive.images
    assert [str(t) for t in a.tags] == ["docker.io/library/busybox:latest", "docker.io/library/busybox:1"]
    assert b.tags == ()
    assert [x.digest for x in b.layers] == [_digest(BASE), _digest(TOP)]
    assert _contents(b.layers[1].path) == TOP
    assert a.id == _digest(a.config) and b.diff_ids == [_digest(BASE), _digest(TOP)]


def test_write_refuses_a_layer_shorter_than_it_said(tmp_path):
    short = tarball.SaveLayer(_digest(BASE), len(BASE) + 10, lambda: contextlib.nullcontext(io.BytesIO(BASE)))
    image = tarball.SaveImage(_config(BASE), (), (short,), 0)
    with pytest.raises(InvalidArgument, match="ended 10 bytes early"):
        tarball.write_archive([image], io.BytesIO())


class Zeros(io.RawIOBase):
    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


class Sink(io.RawIOBase):
    def __init__(self):
        self.count = 0

    def writable(self):
        return True

    def write(self, b):
        self.count += len(b)
        return len(b)


def test_write_streams_layers(tmp_path):
    big = 200 << 20
    layer = tarball.SaveLayer("sha256:" + "0" * 64, big, lambda: contextlib.nullcontext(io.BufferedReader(Zeros(big))))
    image = tarball.SaveImage(b'{"rootfs":{"type":"layers","diff_ids":["sha256:' + b"0" * 64 + b'"]}}',
                              (), (layer,), 0)
    tracemalloc.start()
    try:
        sink = Sink()
        tarball.write_archive([image], sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sink.count > big
    assert peak < 16 << 20


# -- reading what others write --------------------------------------------------------


def test_reads_docker_2010s_layout_with_a_symlinked_layer(tmp_path):
    """dockerd 20.10: <v1 id>/layer.tar, a layer saved twice a relative symlink to the first."""
    config = _config(BASE, BASE)
    data = _archive([
        ("aaaa/VERSION", b"1.0"), ("aaaa/json", b"{}"), ("aaaa/layer.tar", BASE),
        ("bbbb/VERSION", b"1.0"), ("bbbb/json", b"{}"), ("bbbb/layer.tar", "->../aaaa/layer.tar"),
        (_digest(config)[7:] + ".json", config),
        ("manifest.json", json.dumps([{"Config": _digest(config)[7:] + ".json", "RepoTags": ["app:v1"],
                                       "Layers": ["aaaa/layer.tar", "bbbb/layer.tar"]}]).encode()),
        ("repositories", b'{"app":{"v1":"bbbb"}}'),
    ])
    (image,) = _read(data, tmp_path).images
    assert image.id == _digest(config)
    assert [t.familiar for t in image.tags] == ["app:v1"]
    assert [x.digest for x in image.layers] == [_digest(BASE)] * 2


def test_reads_an_oci_layout_without_manifest_json(tmp_path):
    config = _config(BASE)
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": _digest(config), "size": len(config)},
                           "layers": [{"digest": _digest(BASE), "size": len(BASE)}]}).encode()
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(manifest),
         "size": len(manifest), "annotations": {"io.containerd.image.name": "docker.io/library/app:2",
                                                "org.opencontainers.image.ref.name": "2"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(manifest),
         "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "app:3"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _digest(manifest),
         "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "bare"}},
    ]}).encode()
    data = _archive([("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
                    + [(f"blobs/sha256/{_digest(x)[7:]}", x) for x in (config, manifest, BASE)])
    (image,) = _read(data, tmp_path).images
    assert [t.familiar for t in image.tags] == ["app:2", "app:3"]
    assert _contents(image.layers[0].path) == BASE


def test_reads_a_gzip_compressed_archive(tmp_path):
    import gzip
    out = io.BytesIO()
    tarball.write_archive(_two_images(), out)
    assert len(_read(gzip.compress(out.getvalue()), tmp_path).images) == 2


# -- hostile archives -----------------------------------------------------------------


def _manifest_archive(item: dict, extra=()) -> bytes:
    config = _config(BASE)
    entries = [("config.json", config), ("layer.tar", BASE), *extra]
    doc = {"Config": "config.json", "RepoTags": ["x:1"], "Layers": ["layer.tar"], **item}
    return _archive(entries + [("manifest.json", json.dumps([doc]).encode())])


HOSTILE = {
    "config-dotdot": ({"Config": "../../x"}, (), "leads outside the archive"),
    "config-absolute": ({"Config": "/etc/passwd"}, (), "absolute path"),
    "layer-dotdot": ({"Layers": ["../../../../etc/passwd"]}, (), "leads outside the archive"),
    "layer-dotdot-inside-first": ({"Layers": ["a/../../layer.tar"]}, (), "leads outside the archive"),
    "layer-absolute": ({"Layers": ["/etc/passwd"]}, (), "absolute path"),
    "layer-symlink-absolute": ({"Layers": ["evil"]}, (("evil", "->/etc/passwd"),), "through symlink 'evil'"),
    "layer-symlink-up": ({"Layers": ["d/evil"]}, (("d/evil", "->../../etc/passwd"),), "leads outside"),
    "config-symlink-dir-out": ({"Config": "d/x"}, (("d", "->/etc"),), "through symlink 'd'"),
    "symlink-loop": ({"Layers": ["l1"]}, (("l1", "->l2"), ("l2", "->l1")), "too many levels"),
    "missing-file": ({"Layers": ["nope.tar"]}, (), "not a file in the archive"),
    "layer-is-a-directory": ({"Layers": ["d"]}, (("d/f", b"x"),), "not a file in the archive"),
    "layer-count": ({"Layers": ["layer.tar", "layer.tar"]}, (), "layers length mismatch: expected 2, got 1"),
    "config-not-a-string": ({"Config": 5}, (), "names no file"),
    "bad-tag": ({"RepoTags": ["UPPER:case"]}, (), "must be lowercase"),
    "digest-tag": ({"RepoTags": ["x@sha256:" + "a" * 64]}, (), "invalid tag"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_manifest_json_is_refused(tmp_path, case):
    item, extra, message = HOSTILE[case]
    with pytest.raises(InvalidArgument, match=message):
        _read(_manifest_archive(item, extra), tmp_path)


def test_a_symlink_inside_the_archive_is_followed(tmp_path):
    data = _manifest_archive({"Layers": ["d/link"]}, (("d/link", "->../sub/../layer.tar"),))
    (image,) = _read(data, tmp_path).images
    assert _contents(image.layers[0].path) == BASE


@pytest.mark.parametrize("name, message", [("../escape", "outside the archive"),
                                           ("/abs", "absolute path")])
def test_entries_outside_the_archive_are_refused(tmp_path, name, message):
    with pytest.raises(InvalidArgument, match=message):
        _read(_archive([(name, b"x")]), tmp_path)
    assert not os.path.exists(tmp_path / "escape")


def test_hard_links_only_to_files_before_them(tmp_path):
    with pytest.raises(InvalidArgument, match="outside the archive"):
        _read(_archive([("a", "=>../../etc/passwd")]), tmp_path)
    with pytest.raises(InvalidArgument, match="hard link 'a' to 'later', not a file before it"):
        _read(_archive([("a", "=>later"), ("later", b"x")]), tmp_path)
    data = _manifest_archive({"Layers": ["alias"]}, (("alias", "=>layer.tar"),))
    (image,) = _read(data, tmp_path).images
    assert _contents(image.layers[0].path) == BASE


@pytest.mark.parametrize("doc, message", [
    (b"null", "manifest cannot be null"),
    (b"{}", "not a list"),
    (b"[", "failed to decode manifest.json"),
])
def test_bad_manifest_documents(tmp_path, doc, message):
    with pytest.raises(InvalidArgument, match=message):
        _read(_archive([("manifest.json", doc)]), tmp_path)


def test_no_manifest_at_all(tmp_path):
    with pytest.raises(InvalidArgument, match="does not contain a manifest.json"):
        _read(_archive([("x", b"y")]), tmp_path)
    with pytest.raises(InvalidArgument, match=r"^Error processing tar file\(exit status 1\): "
                                              "archive/tar: invalid tar header$"):
        _read(b"not a tar" * 100, tmp_path)
    with pytest.raises(InvalidArgument, match=r"\): unexpected EOF$"):
        _read(b"short", tmp_path)
    with pytest.raises(InvalidArgument, match="does not contain a manifest.json"):
        _read(b"", tmp_path)


def test_windows_image_is_refused(tmp_path):
    config = _config(BASE, os_name="windows")
    data = _archive([("c.json", config), ("l.tar", BASE), ("manifest.json", json.dumps(
        [{"Config": "c.json", "RepoTags": None, "Layers": ["l.tar"]}]).encode())])
    with pytest.raises(InvalidArgument, match="cannot load windows image on linux"):
        _read(data, tmp_path)


def test_config_without_rootfs(tmp_path):
    data = _archive([("c.json", b"{}"), ("manifest.json", b'[{"Config":"c.json","Layers":[]}]')])
    with pytest.raises(InvalidArgument, match="no RootFS key"):
        _read(data, tmp_path)


def _oci(index_manifests, blobs) -> bytes:
    index = json.dumps({"schemaVersion": 2, "manifests": index_manifests}).encode()
    return _archive([("index.json", index)] + list(blobs))


def test_oci_blob_that_does_not_match_its_digest(tmp_path):
    config = _config(BASE)
    fake = _digest(b"something else")
    manifest = json.dumps({"config": {"digest": _digest(config)},
                           "layers": [{"digest": fake}]}).encode()
    data = _oci([{"digest": _digest(manifest)}],
                [(f"blobs/sha256/{_digest(x)[7:]}", x) for x in (config, manifest)]
                + [(f"blobs/sha256/{fake[7:]}", BASE)])
    with pytest.raises(InvalidArgument, match="does not match its digest"):
        _read(data, tmp_path)


@pytest.mark.parametrize("digest", ["sha256:../../../etc/passwd", "sha256:/etc/passwd", "md5:abc", 7])
def test_oci_descriptor_with_a_bad_digest(tmp_path, digest):
    with pytest.raises(InvalidArgument, match="invalid digest"):
        _read(_oci([{"digest": digest}], []), tmp_path)


# -- an archive dockerd made ---------------------------------------------------------

DOCKERD_ARCHIVE = os.path.join(os.path.dirname(__file__), "..", "golden", "dockerd-20.10", "save-import.tar")
DOCKERD_IMAGE_ID = "sha256:51e2bbc42aa38b8213bd1d772e2d61704a8d0d0f150b1e1752f646d37d0592f6"


def test_reads_what_dockerd_2010_saved(tmp_path):
    """``docker import`` of two files, ``docker save`` by dockerd 20.10 (kept as test data)."""
    with open(DOCKERD_ARCHIVE, "rb") as f:
        (image,) = tarball.read_archive(f, Spool(tmp_path / "spool")).images
    assert image.id == DOCKERD_IMAGE_ID
    assert [t.familiar for t in image.tags] == ["dockerd-made:20.10"]
    assert json.loads(image.config)["config"]["Env"] == ["A=b"]
    (layer,) = image.layers
    assert layer.digest == image.diff_ids[0]
    with tarfile.open(layer.path) as tf:
        assert tf.extractfile("etc/motd").read() == b"saved by dockerd 20.10\n"


class _Chunks:
    """An upload: read(n) hands out its chunks as they are (as threadstream's reader does)."""

    def __init__(self, data: bytes, size: int) -> None:
        self.chunks = [data[i:i + size] for i in range(0, len(data), size)]

    def read(self, n: int = -1) -> bytes:
        if not self.chunks:
            return b""
        chunk = self.chunks[0]
        if n < 0 or n >= len(chunk):
            return self.chunks.pop(0)
        self.chunks[0] = chunk[n:]
        return chunk[:n]


def test_a_files_contents_reach_the_spool_as_the_uploads_chunks(tmp_path):
    """No copy of a layer's bytes between the upload and the spool: tarfile reads the
    headers, the contents go out as the chunks that came in (a load's main cost was
    copying them through tarfile's stream buffer)."""
    layer = os.urandom(3 << 20)
    config = _config(layer)
    data = _archive([("config.json", config), ("l/layer.tar", layer),
                     ("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": [],
                                                    "Layers": ["l/layer.tar"]}]).encode())])
    source = _Chunks(data, 1 << 20)
    upload = set(map(id, source.chunks))
    seen = []

    class Keeping(Spool):
        def __call__(self, src):
            pieces = []
            while piece := src.read(1 << 20):
                pieces.append(piece)
            seen.append(pieces)
            return super().__call__(io.BytesIO(b"".join(pieces)))

    (image,) = tarball.read_archive(source, Keeping(tmp_path / "spool")).images
    assert image.layers[0].digest == _digest(layer)
    pieces = max(seen, key=len)
    assert b"".join(pieces) == layer
    assert sum(id(p) in upload for p in pieces) >= 2  # the whole chunks inside it, uncopied


def test_a_truncated_archive_is_unexpected_eof(tmp_path):
    layer = os.urandom(100_000)
    data = _archive([("l/layer.tar", layer)])
    with pytest.raises(InvalidArgument, match="unexpected EOF"):
        _read(data[:50_000], tmp_path)
