"""save/load between ketchd and a real dockerd (the differential pair): an image saved by
one loads into the other and runs, through both clients.

dockerd 20.10 writes the layout of Docker before 25 (``<v1 id>/layer.tar``, a layer
saved twice a symlink); ketch writes Docker 25+'s (manifest.json beside an OCI layout).
A Docker 25+ archive is also made here by hand from dockerd's, and a bare OCI layout
(no manifest.json) as other tools write it, and both must load into ketchd and run.
"""

import hashlib
import io
import json
import os
import tarfile

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("differential")]


def _tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.mode = 0o755
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _two_layer_archive(tag: str) -> bytes:
    """An image of two layers, the second deleting a file of the first (a whiteout)."""
    with open("/bin/busybox", "rb") as f:
        base = _tar([("bin/busybox", f.read()), ("gone", b"x"), ("kept", b"first layer\n")])
    top = _tar([(".wh.gone", b""), ("added", b"second layer\n")])
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/busybox", "sh", "-c", "cat /kept /added; ls /gone 2>&1; true"]},
        "rootfs": {"type": "layers", "diff_ids": [_sha(base), _sha(top)]},
        "history": [{"created": "2026-01-01T00:00:00Z"}, {"created": "2026-01-01T00:00:00Z"}],
    }).encode()
    manifest = [{"Config": "config.json", "RepoTags": [tag], "Layers": ["a/layer.tar", "b/layer.tar"]}]
    return _tar([("a/layer.tar", base), ("b/layer.tar", top), ("config.json", config),
                 ("manifest.json", json.dumps(manifest).encode())])


def _run(target, *argv, program="docker", stdin=None):
    res = target.run(tuple(argv), program, stdin)
    assert res.exit == 0, (target.name, program, argv, res.stdout, res.stderr)
    return res


def _files(path) -> dict[str, bytes]:
    with tarfile.open(path) as tf:
        return {m.name: (tf.extractfile(m).read() if m.isfile() else b"->" + m.linkname.encode())
                for m in tf.getmembers() if m.isfile() or m.issym()}


EXPECTED = "first layer\nsecond layer\nls: /gone: No such file or directory\n"


def test_ketch_saves_what_dockerd_loads_and_runs(pair, tmp_path):
    ketchd, dockerd = pair.ketchd, pair.dockerd
    source = tmp_path / "two.tar"
    source.write_bytes(_two_layer_archive("interop/k2d:1"))
    try:
        assert _run(ketchd, "load", "-i", str(source), program="ketch").stdout == "Loaded image: interop/k2d:1\n"
        assert _run(ketchd, "run", "--rm", "interop/k2d:1").stdout == EXPECTED
        saved = tmp_path / "saved.tar"
        _run(ketchd, "save", "-o", str(saved), "interop/k2d:1", program="ketch")
        assert {"index.json", "oci-layout", "manifest.json", "repositories"} <= set(_files(saved))
        res = _run(dockerd, "load", "-i", str(saved))
        assert res.stdout == "Loaded image: interop/k2d:1\n"
        assert _run(dockerd, "run", "--rm", "interop/k2d:1").stdout == EXPECTED
        ids = {t.name: _run(t, "inspect", "-f", "{{.Id}}", "interop/k2d:1").stdout for t in (ketchd, dockerd)}
        assert ids["ketchd"] == ids["dockerd"]
        # the docker client saving through ketchd gives the same archive
        through_docker = tmp_path / "docker-client.tar"
        _run(ketchd, "save", "-o", str(through_docker), "interop/k2d:1")
        assert _files(through_docker) == _files(saved)
    finally:
        for target in (ketchd, dockerd):
            target.run(("rmi", "interop/k2d:1"))


def _dockerd_archive(pair, tmp_path, tag: str) -> str:
    """busybox as dockerd 20.10 saves it, under ``tag``."""
    _run(pair.dockerd, "tag", "busybox", tag)
    path = str(tmp_path / "from-dockerd.tar")
    _run(pair.dockerd, "save", "-o", path, tag)
    return path


def _to_docker25(legacy: dict[str, bytes]) -> bytes:
    """The same images in the layout Docker 25+ writes (module docstring of image/tarball)."""
    manifest = json.loads(legacy["manifest.json"])
    blobs, items, descriptors = {}, [], []
    for item in manifest:
        config = legacy[item["Config"]]
        layers = []
        for path in item["Layers"]:
            data = legacy[path]
            while data.startswith(b"->"):  # 20.10's symlink to a layer saved before
                data = legacy[os.path.normpath(os.path.join(os.path.dirname(path), data[2:].decode()))]
            blobs[_sha(data)] = data
            layers.append(_sha(data))
        blobs[_sha(config)] = config
        oci = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                     "digest": _sha(config), "size": len(config)},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                      "digest": d, "size": len(blobs[d])} for d in layers]},
                         separators=(",", ":")).encode()
        blobs[_sha(oci)] = oci
        for tag in item["RepoTags"]:
            descriptors.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "digest": _sha(oci), "size": len(oci),
                                "annotations": {"io.containerd.image.name": "docker.io/" + tag,
                                                "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[1]}})
        items.append({"Config": "blobs/sha256/" + _sha(config)[7:], "RepoTags": item["RepoTags"],
                      "Layers": ["blobs/sha256/" + d[7:] for d in layers]})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": descriptors}).encode()
    return _tar([(f"blobs/sha256/{d[7:]}", data) for d, data in sorted(blobs.items())]
                + [("index.json", index), ("manifest.json", json.dumps(items).encode()),
                   ("oci-layout", b'{"imageLayoutVersion": "1.0.0"}')])


@pytest.mark.parametrize("client", ["ketch", "docker"])
def test_dockerd_saves_what_ketch_loads_and_runs(pair, tmp_path, client):
    tag = f"interop/d2k-{client}:1"
    path = _dockerd_archive(pair, tmp_path, tag)
    legacy = _files(path)
    assert any(name.endswith("/layer.tar") for name in legacy)  # dockerd 20.10's own layout
    try:
        res = _run(pair.ketchd, "load", "-i", path, program=client)
        assert res.stdout == f"Loaded image: {tag}\n"
        assert _run(pair.ketchd, "run", "--rm", tag, "echo", "loaded from dockerd").stdout == "loaded from dockerd\n"
        ids = {t.name: _run(t, "inspect", "-f", "{{.Id}}", tag).stdout for t in (pair.ketchd, pair.dockerd)}
        assert ids["ketchd"] == ids["dockerd"]
    finally:
        pair.ketchd.run(("rmi", tag))
        pair.dockerd.run(("rmi", tag))


def test_docker25_and_bare_oci_layouts_load_into_ketch(pair, tmp_path):
    tag = "interop/d25:1"
    legacy = _files(_dockerd_archive(pair, tmp_path, tag))
    pair.dockerd.run(("rmi", tag))
    docker25 = _to_docker25(legacy)
    path = tmp_path / "docker25.tar"
    path.write_bytes(docker25)
    try:
        assert _run(pair.ketchd, "load", "-i", str(path), program="ketch").stdout == f"Loaded image: {tag}\n"
        assert _run(pair.ketchd, "run", "--rm", tag, "echo", "docker 25").stdout == "docker 25\n"
        pair.ketchd.run(("rmi", tag))
        # without manifest.json: the OCI layout alone, names from index.json
        with tarfile.open(fileobj=io.BytesIO(docker25)) as tf:
            entries = [(m.name, tf.extractfile(m).read()) for m in tf.getmembers()
                       if m.isfile() and m.name != "manifest.json"]
        path.write_bytes(_tar(entries))
        assert _run(pair.ketchd, "load", "-i", str(path), program="ketch").stdout == f"Loaded image: {tag}\n"
        assert _run(pair.ketchd, "run", "--rm", tag, "echo", "oci").stdout == "oci\n"
    finally:
        pair.ketchd.run(("rmi", tag))
