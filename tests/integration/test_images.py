"""Images: the embedded busybox, import, tag, rmi, and a store that failures leave alone."""

import io
import json
import os
import tarfile

import pytest


def _tar(files: dict[str, bytes], gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _busybox_rootfs() -> bytes:
    """A rootfs tar of the busybox binary alone (the image we import in tests)."""
    with open("/bin/busybox", "rb") as f:
        return _tar({"bin/busybox": f.read()}, gz=True)


def test_embedded_busybox_is_a_real_oci_image(daemon):
    status, image = daemon.api("GET", "/images/busybox/json")
    assert status == 200
    assert image["RepoTags"] == ["busybox:latest"]
    assert image["Config"]["Cmd"] == ["sh"]
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in image["Config"]["Env"]
    assert image["RootFS"]["Type"] == "layers" and len(image["RootFS"]["Layers"]) == 1
    blobs = os.path.join(daemon.data_root, "content", "blobs", "sha256")
    config_hex = image["Id"].split(":", 1)[1]
    with open(os.path.join(blobs, config_hex), "rb") as f:
        config = json.loads(f.read())
    import hashlib
    with open(os.path.join(blobs, config_hex), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == config_hex
    assert config["rootfs"]["diff_ids"] == image["RootFS"]["Layers"]
    assert config["os"] == "linux"


def test_embedded_image_digest_is_stable_across_stores(daemon, fresh_daemon):
    a = daemon.api("GET", "/images/busybox/json")[1]["Id"]
    b = fresh_daemon.api("GET", "/images/busybox/json")[1]["Id"]
    assert a == b


def test_images_table_and_quiet(daemon):
    out = daemon.ketch("images").stdout.splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(line.startswith("busybox ") and " latest " in line for line in out[1:])
    quiet = daemon.ketch("images", "-q", "busybox").stdout.split()
    assert len(quiet) == 1 and len(quiet[0]) == 12


def test_import_with_changes_then_run(daemon, tmp_path):
    tarball = tmp_path / "rootfs.tar.gz"
    tarball.write_bytes(_busybox_rootfs())
    res = daemon.ketch("import", "-c", 'ENV GREETING="hi there"', "-c", 'CMD ["/bin/busybox", "sh", "-c", "echo $GREETING"]',
                       "-m", "test import", str(tarball), "imported/thing:v1")
    assert res.returncode == 0, res.stderr
    image_id = res.stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    run = daemon.ketch("run", "--rm", "imported/thing:v1")
    assert run.stdout == "hi there\n", run.stderr
    doc = json.loads(daemon.ketch("image", "inspect", "imported/thing:v1").stdout)[0]
    assert doc["Comment"] == "test import"
    # then the layer no image has any more, by its chain id (moby's layer store): one layer,
    # so its diff id
    layer = doc["RootFS"]["Layers"][0]
    assert daemon.ketch("rmi", "imported/thing:v1").stdout == \
        f"Untagged: imported/thing:v1\nDeleted: {image_id}\nDeleted: {layer}\n"


def test_import_from_stdin(daemon):
    res = daemon.ketch("import", "-", "stdin/image", input=_busybox_rootfs())
    assert res.returncode == 0, res.stderr
    assert daemon.ketch("run", "--rm", "stdin/image", "/bin/busybox", "echo", "ok").stdout == "ok\n"
    daemon.ketch("rmi", "stdin/image", check=True)


def _store_snapshot(daemon) -> tuple:
    def listing(path):
        try:
            return sorted(os.listdir(path))
        except FileNotFoundError:
            return []
    images = daemon.api("GET", "/images/json")[1]
    return (sorted(i["Id"] for i in images),
            listing(os.path.join(daemon.data_root, "content", "blobs", "sha256")),
            listing(os.path.join(daemon.data_root, "snapshots")),
            listing(os.path.join(daemon.data_root, "content", "ingest")))


@pytest.mark.parametrize("payload, words", [
    (b"this is not a tarball at all" * 100, "invalid"),
    (_tar({"ok": b"x"})[:700], "invalid"),
    (_tar({"../../escape": b"x"}) , None),
])
def test_failed_import_leaves_the_store_as_it_was(daemon, payload, words):
    before = _store_snapshot(daemon)
    res = daemon.ketch("import", "-", "broken/image", input=payload)
    if words is None:  # a hostile name is confined, not an error: the image is valid
        assert res.returncode == 0, res.stderr
        daemon.ketch("rmi", "broken/image", check=True)
    else:
        assert res.returncode == 1
        assert res.stderr.startswith("Error response from daemon:")
        assert words in res.stderr.lower()
    assert _store_snapshot(daemon) == before


@pytest.mark.parametrize("change, words", [
    ("RUN echo no", "run is not a valid change command"),
    ("ENV A=1 B", "Syntax error - can't find = in \"B\""),
])
def test_bad_change_is_rejected_before_storing(daemon, change, words):
    before = _store_snapshot(daemon)
    res = daemon.ketch("import", "-c", change, "-", "x/y", input=_busybox_rootfs())
    assert res.returncode == 1
    assert res.stderr == f"Error response from daemon: {words}. Must be of the form: name=value\n" \
        if "Syntax" in words else res.stderr == f"Error response from daemon: {words}\n"
    assert _store_snapshot(daemon) == before


def test_tag_and_rmi_rules(daemon, names):
    daemon.ketch("tag", "busybox", "mytag/busybox:one", check=True)
    ids = {i["Id"] for i in daemon.api("GET", "/images/json")[1] if "mytag/busybox:one" in i["RepoTags"]}
    assert len(ids) == 1
    res = daemon.ketch("rmi", ids.pop()[7:19])
    assert res.returncode == 1 and "image is referenced in multiple repositories" in res.stderr
    assert daemon.ketch("rmi", "mytag/busybox:one").stdout == "Untagged: mytag/busybox:one\n"
    res = daemon.ketch("rmi", "nosuch")
    assert res.stderr == "Error response from daemon: No such image: nosuch:latest\n"


def test_rmi_refuses_image_in_use(daemon, tmp_path, names):
    tarball = tmp_path / "rootfs.tar.gz"
    tarball.write_bytes(_busybox_rootfs())
    daemon.ketch("import", str(tarball), "inuse/image", check=True)
    name = names()
    daemon.ketch("create", "--name", name, "inuse/image", "/bin/busybox", "true", check=True)
    res = daemon.ketch("rmi", "inuse/image")
    assert res.returncode == 1
    assert 'unable to remove repository reference "inuse/image" (must force)' in res.stderr
    daemon.ketch("rm", name, check=True)
    assert daemon.ketch("rmi", "inuse/image").returncode == 0
