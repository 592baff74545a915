"""cp's tar rules on real directories: paths resolved inside the root, tars that try to
leave the target refused, metadata never applied through a symlink, Go FileMode bits."""

import base64
import io
import json
import os
import stat
import tarfile

import pytest

from ketch.archive.pathstat import GO_DIR, GO_SYMLINK, PathStat, go_file_mode, rfc3339_nano
from ketch.archive.tarwrite import write_tar
from ketch.archive.untar import Breakout, UntarOptions, untar
from ketch.linux.safepath import open_in_root


@pytest.fixture
def tree(tmp_path):
    """root/ (the container) beside outside/ (the host), with links that point out."""
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    (root / "tmp").mkdir()
    outside.mkdir()
    (outside / "secret").write_text("host\n")
    (root / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../../..", root / "up")
    os.symlink(str(outside), root / "host")
    os.symlink("passwd", root / "etc" / "link")
    return root, outside


def _fd(path) -> int:
    return os.open(path, os.O_PATH | os.O_DIRECTORY)


def _name(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def test_open_in_root_follows_links_inside_the_root(tree):
    root, _ = tree
    rfd = _fd(root)
    assert _name(open_in_root(rfd, "/abs/passwd")) == str(root / "etc" / "passwd")
    assert _name(open_in_root(rfd, "/up/etc")) == str(root / "etc")  # .. stops at the root
    assert _name(open_in_root(rfd, "/../../etc/link")) == str(root / "etc" / "passwd")
    # a link to a host path means that path inside the container, where it does not exist
    with pytest.raises(FileNotFoundError):
        open_in_root(rfd, "/host/secret")
    assert _name(open_in_root(rfd, "/etc/link", follow=False)) == str(root / "etc" / "link")
    assert _name(open_in_root(rfd, "/abs/", follow=False)) == str(root / "etc")  # "/" follows
    with pytest.raises(NotADirectoryError):
        open_in_root(rfd, "/etc/passwd/")
    os.close(rfd)


def _tar(*entries) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.mode = 0o644
            data = b""
            if kind == "file":
                data = extra or b"x"
                info.size = len(data)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, extra
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, extra
            tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def _untar(root, target, *entries, **opts):
    rfd = _fd(root)
    try:
        untar(_tar(*entries), rfd, target, UntarOptions(**opts))
    finally:
        os.close(rfd)


def test_untar_writes_inside_the_target(tree):
    root, _ = tree
    _untar(root, "/tmp", ("d/", "dir", None), ("d/f", "file", b"hi"), ("d/l", "sym", "f"),
           ("d/h", "hard", "d/f"), ("/abs-name", "file", b"a"))
    assert (root / "tmp" / "d" / "f").read_bytes() == b"hi"
    assert os.readlink(root / "tmp" / "d" / "l") == "f"
    assert os.stat(root / "tmp" / "d" / "h").st_ino == os.stat(root / "tmp" / "d" / "f").st_ino
    assert (root / "tmp" / "abs-name").read_bytes() == b"a"  # absolute names are confined


@pytest.mark.parametrize("entries, message", [
    ([("../escape", "file", None)], '"../escape" is outside of "/tmp"'),
    ([("a/../../escape", "file", None)], 'is outside of "/tmp"'),
    ([("l", "sym", "../../outside")], 'invalid symlink "/tmp/l" -> "../../outside"'),
    ([("h", "hard", "../etc/passwd")], 'invalid hardlink "/etc/passwd" -> "../etc/passwd"'),
    # a symlink the tar made first, then a file through it
    ([("l", "sym", "/etc"), ("l/passwd", "file", b"pwned")], 'is outside of "/tmp"'),
])
def test_untar_refuses_to_leave_the_target(tree, entries, message):
    root, outside = tree
    with pytest.raises(Breakout, match=message.replace("(", r"\(")):
        _untar(root, "/tmp", *entries)
    assert (root / "etc" / "passwd").read_text().startswith("root:")
    assert not (root / "escape").exists() and not (root.parent / "escape").exists()


def test_untar_through_a_link_to_the_host_stays_in_the_root(tree):
    root, outside = tree
    # the container's /tmp/x is a link to the host's outside/ (a host path, meaningless
    # inside): extracting into x must land in the root, never in outside/
    os.symlink(str(outside), root / "tmp" / "x")
    with pytest.raises((Breakout, FileNotFoundError)):
        _untar(root, "/tmp", ("x/secret", "file", b"pwned"))
    assert (outside / "secret").read_text() == "host\n"


def test_untar_metadata_never_follows_a_symlink(tree):
    root, outside = tree
    before = os.stat(outside / "secret")
    # a symlink entry whose metadata (mode 0777, owner 1234) must go to the link only
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("s")
        info.type, info.linkname, info.mode, info.uid, info.gid = \
            tarfile.SYMTYPE, str(outside / "secret"), 0o777, 1234, 1234
        tf.addfile(info)
    buf.seek(0)
    rfd = _fd(root)
    untar(buf, rfd, "/tmp")
    os.close(rfd)
    after = os.stat(outside / "secret")
    assert (after.st_mode, after.st_uid) == (before.st_mode, before.st_uid)
    assert os.lstat(root / "tmp" / "s").st_uid == 1234


def test_untar_no_overwrite_dir_non_dir(tree):
    root, _ = tree
    (root / "tmp" / "d").mkdir()
    with pytest.raises(OSError, match='cannot overwrite directory "/tmp/d" with non-directory "/tmp"'):
        _untar(root, "/tmp", ("d", "file", None), no_overwrite_dir_non_dir=True)
    _untar(root, "/tmp", ("d", "file", b"now a file"))  # moby's default allows it
    assert (root / "tmp" / "d").read_bytes() == b"now a file"


def test_untar_chown_applies_the_container_user(tree):
    root, _ = tree
    _untar(root, "/tmp", ("f", "file", None), chown=(4321, 99))
    st = os.stat(root / "tmp" / "f")
    assert (st.st_uid, st.st_gid) == (4321, 99)


def test_write_tar_names_a_directory_after_itself(tree):
    root, _ = tree
    rfd = _fd(root)
    obj = open_in_root(rfd, "/etc")
    buf = io.BytesIO()
    write_tar(buf, obj, "etc")
    os.close(obj)
    link = open_in_root(rfd, "/etc/link", follow=False)
    one = io.BytesIO()
    write_tar(one, link, "link")
    os.close(link)
    os.close(rfd)
    buf.seek(0)
    members = {m.name: m for m in tarfile.open(fileobj=buf)}
    assert sorted(members) == ["etc", "etc/link", "etc/passwd"]
    assert members["etc"].isdir() and members["etc/link"].linkname == "passwd"
    one.seek(0)
    (only,) = tarfile.open(fileobj=one).getmembers()
    assert only.name == "link" and only.issym()


def test_path_stat_is_go_file_mode_in_base64_json():
    assert go_file_mode(stat.S_IFDIR | 0o755) == GO_DIR | 0o755
    assert go_file_mode(stat.S_IFLNK | 0o777) == GO_SYMLINK | 0o777
    assert go_file_mode(stat.S_IFREG | stat.S_ISUID | 0o755) == (1 << 23) | 0o755
    assert go_file_mode(stat.S_IFCHR | 0o666) == (1 << 26) | (1 << 21) | 0o666
    assert rfc3339_nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339_nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
    st = PathStat("etc", 4096, GO_DIR | 0o755, "2023-11-14T22:13:20Z", "")
    doc = json.loads(base64.b64decode(st.header()))
    assert doc == {"name": "etc", "size": 4096, "mode": 2147484141,
                   "mtime": "2023-11-14T22:13:20Z", "linkTarget": ""}
    assert PathStat.from_header(st.header()) == st


# -- the engine's side, on a "running" container whose rootfs is a plain directory ----------

class _State:
    alive = True


class _Rec:
    id = "c" * 64
    name = "box"
    image = "busybox"
    state = _State()
    host_config: dict = {}
    config: dict = {}
    mounts: list = []  # ContainerRecord.mounts: no volume or bind


class _Lifecycle:
    def __init__(self):
        import asyncio
        from types import SimpleNamespace

        from ketch.engine.events import EventBus
        self.bus = EventBus()
        self.machine = SimpleNamespace(bus=self.bus)
        self._lock = asyncio.Lock()

    def lock(self, cid):
        return self._lock


def _files(tmp_path, rec):
    from ketch.engine.containers.archive import ContainerFiles
    from ketch.engine.containers.bundle import Paths
    paths = Paths(str(tmp_path / "data"), str(tmp_path / "exec"))
    rootfs = paths.bundle_rootfs(rec.id)
    os.makedirs(rootfs + "/etc")
    with open(rootfs + "/etc/passwd", "w") as f:
        f.write("root:x:0:0::/root:/bin/sh\n")
    return ContainerFiles(_Lifecycle(), None, paths), rootfs


def test_engine_stat_get_put_and_their_events(tmp_path):
    import asyncio

    from ketch import errors
    rec = _Rec()
    files, rootfs = _files(tmp_path, rec)

    async def chunks(data):
        yield data

    async def scenario():
        st = await files.stat_path(rec, "box", "/etc")
        assert (st.name, st.is_dir) == ("etc", True)
        with pytest.raises(errors.NotFound, match="^Could not find the file /nope in container box$"):
            await files.stat_path(rec, "box", "/nope")
        with pytest.raises(errors.Internal, match="^lstat /etc/passwd/: not a directory$"):
            await files.stat_path(rec, "box", "/etc/passwd/")
        with pytest.raises(errors.InvalidArgument, match="path cannot be empty"):
            await files.stat_path(rec, "box", "")
        st, body = await files.archive(rec, "box", "/etc/.")
        data = b"".join([c async for c in body])
        assert [m.name for m in tarfile.open(fileobj=io.BytesIO(data))] == [".", "./passwd"]
        await files.extract(rec, "box", "/etc", chunks(_tar(("new", "file", b"n")).getvalue()), False, True)
        assert open(rootfs + "/etc/new").read() == "n"
        with pytest.raises(errors.InvalidArgument, match="extraction point is not a directory"):
            await files.extract(rec, "box", "/etc/passwd", chunks(b""), False, True)
        rec.host_config = {"ReadonlyRootfs": True}
        with pytest.raises(errors.InvalidArgument, match="^container rootfs is marked read-only$"):
            await files.extract(rec, "box", "/etc", chunks(b""), False, True)
        rec.host_config = {}

    asyncio.run(scenario())
    actions = [(e.action, e.attributes) for e in files.lifecycle.bus.history]
    assert actions == [("archive-path", {"name": "box", "image": "busybox"}),
                       ("extract-to-dir", {"name": "box", "image": "busybox"})]


def test_cli_cp_arguments_and_sizes():
    from ketch.cli.commands.cp import human_size, split_cp_arg
    assert split_cp_arg("c:/etc") == ("c", "/etc")
    assert split_cp_arg("/abs:x") == ("", "/abs:x")
    assert split_cp_arg("./a:b") == ("", "./a:b")
    assert split_cp_arg("plain") == ("", "plain")
    assert human_size(2048) == "2.05kB"  # docker 28's "Successfully copied 2.05kB to ..."
    assert human_size(512) == "512B" and human_size(1_500_000) == "1.5MB"


def test_untar_rebase_renames_the_first_component(tree):
    root, _ = tree
    _untar(root, "/tmp", ("src/", "dir", None), ("src/f", "file", b"1"), rebase=("src", "dst"))
    assert (root / "tmp" / "dst" / "f").read_bytes() == b"1"


def test_copy_to_the_host_keeps_host_directories_and_the_extracting_users_ids(tree):
    """docker cp CONTAINER:SRC HOST: the container's tar can neither replace a host
    directory with a file nor give host files the container's uids (NoLchown)."""
    import dataclasses
    from ketch.cli.commands.cp import TO_HOST
    root, _ = tree
    (root / "tmp" / "d").mkdir()
    (root / "tmp" / "d" / "precious").write_text("keep")
    rfd = _fd(root)
    try:
        with pytest.raises(OSError, match="cannot overwrite directory"):
            untar(_tar(("d", "file", b"x")), rfd, "/tmp", TO_HOST)
        assert (root / "tmp" / "d" / "precious").read_text() == "keep"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            info = tarfile.TarInfo("owned")
            info.uid, info.gid, info.size = 1234, 4321, 1
            tf.addfile(info, io.BytesIO(b"x"))
        buf.seek(0)
        untar(buf, rfd, "/tmp", dataclasses.replace(TO_HOST, rebase=None))
    finally:
        os.close(rfd)
    st = os.stat(root / "tmp" / "owned")
    assert (st.st_uid, st.st_gid) == (os.geteuid(), os.getegid())


def _unpadded(*entries) -> bytes:
    """``_tar`` cut right after the last entry's data: no padding, no end-of-archive
    blocks, as docker/cli's ReplaceFileTarWrapper sends ``docker build -f-``'s context."""
    raw = _tar(*entries).getvalue()
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        last = tf.getmembers()[-1]
    return raw[:last.offset_data + last.size]


def test_untar_takes_a_tar_that_ends_after_the_last_data(tree):
    root, _ = tree
    stream = _unpadded(("a.txt", "file", b"hello\n"), (".dockerfile.x", "file", b"FROM busybox\n" * 3))
    assert len(stream) % 512  # the cut is inside the last block
    rfd = _fd(root)
    try:
        untar(io.BytesIO(stream), rfd, "/tmp")
    finally:
        os.close(rfd)
    assert (root / "tmp" / "a.txt").read_bytes() == b"hello\n"
    assert (root / "tmp" / ".dockerfile.x").read_bytes() == b"FROM busybox\n" * 3


@pytest.mark.parametrize("cut", [1, 100])
def test_untar_still_refuses_a_tar_cut_in_the_data(tree, cut):
    root, _ = tree
    stream = _unpadded(("a.txt", "file", b"hello\n"), ("b.txt", "file", b"x" * 200))[:-cut]
    rfd = _fd(root)
    try:
        with pytest.raises(tarfile.ReadError, match="unexpected end of data"):
            untar(io.BytesIO(stream), rfd, "/tmp")
    finally:
        os.close(rfd)

