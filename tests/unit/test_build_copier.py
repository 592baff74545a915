"""COPY/ADD into an image root: moby's rules, and nothing ever written outside the root."""

import bz2
import gzip
import io
import lzma
import os
import stat
import tarfile

import pytest
import zstandard

from ketch import errors
from ketch.build import copier
from ketch.build.context import resolve_sources
from ketch.build.copier import CopyOptions, Owner, copy_sources, resolve_chown, write_heredoc


class Roots:
    def __init__(self, tmp_path):
        self.ctx = tmp_path / "ctx"
        self.img = tmp_path / "img"
        self.outside = tmp_path / "outside"
        for d in (self.ctx, self.img, self.outside):
            d.mkdir()
        (self.img / "etc").mkdir()
        (self.img / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n")
        (self.img / "etc/group").write_text("root:x:0:\nstaff:x:50:\napp:x:1001:\n")
        self.ctx_fd = os.open(self.ctx, os.O_PATH | os.O_DIRECTORY)
        self.img_fd = os.open(self.img, os.O_PATH | os.O_DIRECTORY)

    def file(self, path, text="x", mode=0o644, mtime=1_600_000_000.5):
        p = self.ctx / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        os.chmod(p, mode)
        os.utime(p, (mtime, mtime))
        return p

    def copy(self, words, dest, **kw):
        copy_sources(self.ctx_fd, resolve_sources(self.ctx_fd, words), self.img_fd, dest, CopyOptions(**kw))

    def close(self):
        os.close(self.ctx_fd)
        os.close(self.img_fd)


@pytest.fixture
def r(tmp_path):
    roots = Roots(tmp_path)
    yield roots
    roots.close()


def test_file_destinations(r):
    r.file("a.txt", "A", mode=0o640)
    r.copy(["a.txt"], "/new/name")  # parents made, the file named as dest
    r.copy(["a.txt"], "/dir/")  # trailing /: into it
    (r.img / "exists").mkdir()
    r.copy(["a.txt"], "/exists")  # an existing directory: into it
    assert (r.img / "new/name").read_text() == "A"
    assert (r.img / "dir/a.txt").read_text() == "A"
    assert (r.img / "exists/a.txt").read_text() == "A"
    st = os.stat(r.img / "new/name")
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_mtime == 1_600_000_000  # whole seconds
    assert stat.S_IMODE(os.stat(r.img / "new").st_mode) == 0o755


def test_directory_content_is_copied_and_merged(r):
    r.file("d/one", "1")
    r.file("d/sub/two", "2", mode=0o600)
    os.symlink("one", r.ctx / "d/link")
    os.link(r.ctx / "d/one", r.ctx / "d/hard")
    (r.img / "dest").mkdir()
    (r.img / "dest/keep").write_text("k")
    (r.img / "dest/sub").write_text("a file where the source has a directory")
    os.utime(r.ctx / "d/sub", (1e9, 1e9))
    os.utime(r.ctx / "d/link", (1e9, 1e9), follow_symlinks=False)
    r.copy(["d"], "/dest")
    assert sorted(os.listdir(r.img / "dest")) == ["hard", "keep", "link", "one", "sub"]
    assert (r.img / "dest/sub/two").read_text() == "2"
    assert os.readlink(r.img / "dest/link") == "one"
    assert os.stat(r.img / "dest/hard").st_ino == os.stat(r.img / "dest/one").st_ino
    r.copy(["."], "/all/")
    assert (r.img / "all/d/sub/two").exists()
    # files keep their mtime; directories and symlinks get the build's time (dockerd 20.10)
    assert os.stat(r.img / "dest/one").st_mtime == 1_600_000_000
    assert os.stat(r.img / "dest/sub").st_mtime > 1_700_000_000
    assert os.lstat(r.img / "dest/link").st_mtime > 1_700_000_000


def test_owner_root_by_default_and_chown_through_the_images_files(r):
    p = r.file("f")
    os.chown(p, 1234, 1234)
    r.file("d/g")
    os.chown(r.ctx / "d/g", 1234, 1234)
    r.copy(["f"], "/f")
    assert (os.stat(r.img / "f").st_uid, os.stat(r.img / "f").st_gid) == (0, 0)
    owner = resolve_chown(r.img_fd, "app:staff")
    assert owner == Owner(1000, 50)
    assert resolve_chown(r.img_fd, "app") == Owner(1000, 1001)
    assert resolve_chown(r.img_fd, "7:app") == Owner(7, 1001)
    assert resolve_chown(r.img_fd, "42") == Owner(42, 42)
    r.copy(["f"], "/owned/deep/f", owner=owner)
    r.copy(["d"], "/newdir", owner=owner)
    for path in ("owned", "owned/deep", "owned/deep/f", "newdir", "newdir/g"):
        st = os.lstat(r.img / path)
        assert (st.st_uid, st.st_gid) == (1000, 50), path
    r.copy(["f"], "/kept", owner=None)  # COPY --from without --chown
    assert os.stat(r.img / "kept").st_uid == 1234


def test_chown_errors(r):
    with pytest.raises(errors.InvalidArgument) as exc:
        resolve_chown(r.img_fd, "nobody")
    assert str(exc.value) == ("unable to convert uid/gid chown string to host mapping: "
                              "can't find uid for user nobody: no such user: nobody")
    with pytest.raises(errors.InvalidArgument, match="can't find gid for group nogroup: no such group: nogroup"):
        resolve_chown(r.img_fd, "app:nogroup")
    with pytest.raises(errors.InvalidArgument, match="invalid chown string format: a:b:c"):
        resolve_chown(r.img_fd, "a:b:c")


def test_chown_reads_passwd_inside_the_root(r, tmp_path):
    os.unlink(r.img / "etc/passwd")
    (r.outside / "passwd").write_text("evil:x:666:666::/:/bin/sh\n")
    os.symlink(str(r.outside / "passwd"), r.img / "etc/passwd")  # absolute: means the image's own path
    with pytest.raises(errors.InvalidArgument, match="no such file or directory"):
        resolve_chown(r.img_fd, "evil")


def test_setuid_dropped_by_the_chown_as_in_docker(r):
    r.file("s", mode=0o4755)
    r.copy(["s"], "/s")
    assert stat.S_IMODE(os.stat(r.img / "s").st_mode) == 0o755
    r.copy(["s"], "/s2", owner=None)
    assert stat.S_IMODE(os.stat(r.img / "s2").st_mode) == 0o4755


def test_destination_symlinks_resolve_inside_the_root(r):
    r.file("f", "payload")
    os.symlink(str(r.outside), r.img / "abs")  # absolute target: the image's own path
    os.symlink("../../../../../../" + str(r.outside).lstrip("/"), r.img / "rel")
    os.symlink(str(r.outside / "file"), r.img / "tofile")
    r.copy(["f"], "/abs/")
    r.copy(["f"], "/rel/x")
    r.copy(["f"], "/tofile")
    assert os.listdir(r.outside) == []
    inside = r.img / str(r.outside).lstrip("/")
    assert sorted(os.listdir(inside)) == ["f", "file", "x"]
    assert os.path.islink(r.img / "tofile")  # followed, not replaced (moby resolves dest)


def test_directory_source_symlinks_stay_links(r):
    os.symlink("/etc/passwd", r.ctx / "lnk")
    (r.ctx / "d").mkdir()
    os.symlink(str(r.outside), r.ctx / "d/out")
    r.copy(["d"], "/d")
    assert os.readlink(r.img / "d/out") == str(r.outside)
    with pytest.raises(errors.InvalidArgument, match="file does not exist"):
        r.copy(["lnk"], "/x")  # /etc/passwd of the context: none


def tar_bytes(entries, compress=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 7
            if kind in ("sym", "lnk"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = data
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return {None: lambda b: b, "gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress,
            "zst": lambda b: zstandard.ZstdCompressor().compress(b)}[compress](raw)


@pytest.mark.parametrize("compress", [None, "gz", "bz2", "xz", "zst"])
def test_add_extracts_local_archives(r, compress):
    (r.ctx / "a.tar").write_bytes(tar_bytes([("top/file", b"hi", "reg")], compress))
    r.copy(["a.tar"], "/x", decompress=True)
    assert (r.img / "x/top/file").read_text() == "hi"
    assert os.stat(r.img / "x/top/file").st_uid == 7  # the archive's owners
    r.copy(["a.tar"], "/y/")  # COPY never extracts
    assert (r.img / "y/a.tar").is_file()


def test_add_a_gzip_that_is_not_a_tar_is_a_file(r):
    (r.ctx / "notatar.gz").write_bytes(gzip.compress(b"just text"))
    r.copy(["notatar.gz"], "/", decompress=True)
    assert (r.img / "notatar.gz").read_bytes() == gzip.compress(b"just text")


@pytest.mark.parametrize("entries", [
    [("sym", "/", "sym"), ("sym/escape", b"x", "reg")],
    [("sym", "../../../../../..", "sym"), ("sym/escape", b"x", "reg")],
    [("lnk", "../../../../outside/f", "lnk")],  # clamped into /x, where there is no such file
])
def test_add_refuses_archive_breakouts(r, entries):
    (r.outside / "f").write_text("host")
    (r.ctx / "evil.tar").write_bytes(tar_bytes(entries))
    with pytest.raises(errors.InvalidArgument, match="failed to copy files"):
        r.copy(["evil.tar"], "/x", decompress=True)
    assert os.listdir(r.outside) == ["f"]
    assert not (r.img.parent / "escape").exists()
    assert not (r.img / "escape").exists()


def test_add_clamps_archive_names_into_the_destination_as_dockerd(r):
    """dockerd unpacks ADD's archive chrooted in the destination: ``../``, ``/`` names and
    hard link targets land inside it; symlink texts are kept (they resolve in the image)."""
    (r.ctx / "a.tar").write_bytes(tar_bytes([
        ("ok.txt", b"x\n", "reg"), ("../../up.txt", b"x\n", "reg"), ("/abs.txt", b"x\n", "reg"),
        ("./a/../b.txt", b"x\n", "reg"), ("hl", "../../ok.txt", "lnk"), ("up", "../../..", "sym")]))
    r.copy(["a.tar"], "/x/", decompress=True)
    assert sorted(os.listdir(r.img / "x")) == ["abs.txt", "b.txt", "hl", "ok.txt", "up", "up.txt"]
    assert os.stat(r.img / "x/hl").st_ino == os.stat(r.img / "x/ok.txt").st_ino
    assert os.readlink(r.img / "x/up") == "../../.."
    assert sorted(os.listdir(r.img)) == ["etc", "x"]
    assert os.listdir(r.outside) == []


def test_add_reports_a_missing_hard_link_target_as_dockerd(r):
    (r.ctx / "hl.tar").write_bytes(tar_bytes([("hl", "../../etc/hostname", "lnk")]))
    with pytest.raises(errors.InvalidArgument) as err:
        r.copy(["hl.tar"], "/x/", decompress=True)
    assert str(err.value) == ("failed to copy files: Error processing tar file(exit status 1): "
                              "link /etc/hostname /hl: no such file or directory")


def test_heredoc(r):
    write_heredoc(r.img_fd, "/etc/", "EOF", b"hello\n")
    write_heredoc(r.img_fd, "/srv/run.sh", "EOF", b"#!/bin/sh\n", CopyOptions(chmod=0o755, owner=Owner(1000, 1000)))
    assert (r.img / "etc/EOF").read_text() == "hello\n"
    assert stat.S_IMODE(os.stat(r.img / "etc/EOF").st_mode) == 0o644
    st = os.stat(r.img / "srv/run.sh")
    assert stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == 1000


def test_a_heredoc_name_never_climbs_out_of_the_root(r):
    """REVIEW12 #1: the name is the Dockerfile's; only its cleaned last component reaches
    dest, as BuildKit's path.Join("/", name). ``..`` there wrote (and first removed) files
    on the host."""
    (r.outside / "victim").write_text("keep")
    for name in ("../outside/victim", "../../outside/victim", "a/../../outside/victim"):
        write_heredoc(r.img_fd, "/", name, b"x")
        write_heredoc(r.img_fd, "/srv/", name, b"y")
    assert (r.outside / "victim").read_text() == "keep"
    assert (r.img / "victim").read_text() == "x" and (r.img / "srv/victim").read_text() == "y"
    for name in ("..", ".", "/", "../.."):
        with pytest.raises(errors.InvalidArgument, match="invalid heredoc name"):
            write_heredoc(r.img_fd, "/", name, b"x")
    assert sorted(os.listdir(r.img.parent)) == ["ctx", "img", "outside"]


def test_a_heredoc_name_never_climbs_out_of_the_image(r):
    """``COPY <<../../x /d/``: the name is a path under the destination, cleaned from "/" as
    BuildKit joins it; it once went to openat() as is and wrote beside the image root."""
    (r.img.parent / "victim").write_text("keep")
    write_heredoc(r.img_fd, "/d/", "../../../victim", b"pwned")
    write_heredoc(r.img_fd, "/d/", "../sub/../../x", b"x")
    assert (r.img.parent / "victim").read_text() == "keep"
    assert (r.img / "d/victim").read_text() == "pwned" and (r.img / "d/x").read_text() == "x"
    with pytest.raises(errors.InvalidArgument):
        write_heredoc(r.img_fd, "/d/", "..", b"")


def test_chmod_parents_excludes(r):
    r.file("a/b/c.txt", mode=0o600)
    r.file("a/b/d.md")
    r.file("x/y/z.txt")
    r.copy(["a/b/c.txt"], "/p/", parents=True, chmod=0o751)
    assert stat.S_IMODE(os.stat(r.img / "p/a/b/c.txt").st_mode) == 0o751
    r.copy(["x/./y/z.txt"], "/q/", parents=True)
    assert (r.img / "q/y/z.txt").exists()
    r.copy(["a"], "/e", excludes=("**/*.md",))
    assert (r.img / "e/b/c.txt").exists() and not (r.img / "e/b/d.md").exists()
    assert copier.parse_chmod("755") == 0o755
    with pytest.raises(errors.InvalidArgument):
        copier.parse_chmod("u+x")


def test_directory_over_a_file_is_an_error(r):
    r.file("d/f")
    (r.img / "file").write_text("")
    with pytest.raises(errors.InvalidArgument) as exc:
        r.copy(["d"], "/file")
    assert str(exc.value) == "failed to copy files: failed to copy directory: mkdir /file: not a directory"


def _in_a_child(fn) -> int:
    """fn() in a forked child with 5 s and 256 MiB: its exit code (3: InvalidArgument,
    0: returned); a child that hangs or grows without end is killed instead of the run."""
    import resource
    import signal
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))
            signal.alarm(5)
            fn()
            os._exit(0)
        except errors.InvalidArgument:
            os._exit(3)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_chown_names_are_not_read_from_a_fifo_or_a_device(tmp_path, kind):
    """The image's /etc/passwd is the image maker's: a fifo would block ketchd's thread,
    a device node such as /dev/zero (1:5) fill its memory. Neither is a user database."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    passwd = root / "etc" / "passwd"
    if kind == "fifo":
        os.mkfifo(passwd)
    else:
        os.mknod(passwd, stat.S_IFCHR | 0o644, os.makedev(1, 5))
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    try:
        assert _in_a_child(lambda: resolve_chown(fd, "app")) == 3
        with pytest.raises(errors.InvalidArgument, match="open /etc/passwd: no such file or directory"):
            resolve_chown(fd, "app")
    finally:
        os.close(fd)
