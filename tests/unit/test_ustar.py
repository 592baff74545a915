"""archive/ustar and the CLI's tar of a directory context (cli/buildcontext) without
tarfile: the very bytes tarfile writes (PAX_FORMAT, owners 0:0), and tarfile itself for
what needs a PAX record."""

import io
import os
import tarfile

import pytest

from ketch.archive import ustar
from ketch.cli import buildcontext as bc


@pytest.mark.parametrize("info", [
    dict(name="a.txt", mode=0o100644, size=0, mtime=1700000000, type=ustar.REGTYPE),
    dict(name="dir/sub/file", mode=0o100755, size=513, mtime=5, type=ustar.REGTYPE),
    dict(name="dir", mode=0o40755, size=0, mtime=1, type=ustar.DIRTYPE),
    dict(name="link", mode=0o120777, size=0, mtime=1, type=ustar.SYMTYPE, linkname="../x y"),
    dict(name="hard", mode=0o100600, size=0, mtime=1, type=ustar.LNKTYPE, linkname="a.txt"),
    dict(name="null", mode=0o20666, size=0, mtime=1, type=ustar.CHRTYPE, devmajor=1, devminor=3),
    dict(name="loop", mode=0o60660, size=0, mtime=1, type=ustar.BLKTYPE, devmajor=7, devminor=0),
    dict(name="fifo", mode=0o10644, size=0, mtime=1, type=ustar.FIFOTYPE),
    dict(name="n" * 100, mode=0o4755, size=8 ** 11 - 1, mtime=8 ** 11 - 1, type=ustar.REGTYPE),
])
def test_a_header_is_tarfiles_own(info):
    ti = tarfile.TarInfo(info["name"])
    ti.mode, ti.size, ti.mtime, ti.type = info["mode"], info["size"], info["mtime"], info["type"]
    ti.linkname = info.get("linkname", "")
    ti.devmajor, ti.devminor = info.get("devmajor", 0), info.get("devminor", 0)
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    assert ustar.header(**info) == ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


@pytest.mark.parametrize("info", [
    dict(name="n" * 101, mode=0o644, size=0, mtime=0, type=ustar.REGTYPE),
    dict(name="caf\u00e9", mode=0o644, size=0, mtime=0, type=ustar.REGTYPE),
    dict(name="l", mode=0o644, size=0, mtime=0, type=ustar.SYMTYPE, linkname="x" * 101),
    dict(name="big", mode=0o644, size=8 ** 11, mtime=0, type=ustar.REGTYPE),
    dict(name="old", mode=0o644, size=0, mtime=-1, type=ustar.REGTYPE),
])
def test_what_needs_a_pax_record_is_left_to_tarfile(info):
    with pytest.raises(ustar.NeedsPax):
        ustar.header(**info)


def _context_tree(root) -> str:
    (root / "src" / "deep").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM busybox\nCOPY . /\n")
    (root / ".dockerignore").write_text("*.log\n")
    (root / "skip.log").write_text("no")
    (root / "empty").write_bytes(b"")
    (root / "block").write_bytes(b"x" * 512)
    (root / "src" / "a.txt").write_bytes(os.urandom(1500))
    (root / "src" / "deep" / "b").write_text("b\n")
    os.link(root / "src" / "a.txt", root / "src" / "a-again")
    os.symlink("src/a.txt", root / "sym")
    os.mkfifo(root / "pipe")
    os.chmod(root / "block", 0o4750)
    return str(root)


@pytest.mark.parametrize("random_name", ["", ".dockerfile.0123456789abcdef0123"])
def test_the_context_tar_is_the_one_tarfile_writes(tmp_path, monkeypatch, random_name):
    root = _context_tree(tmp_path)
    monkeypatch.setattr(bc.time, "time", lambda: 1700000000.5)
    names = list(bc.dockerignore.walk_context(root, ["*.log"], "Dockerfile"))
    fast, slow = io.BytesIO(), io.BytesIO()
    extra = b"FROM scratch\n" if random_name else None
    end = bc._write_ustar(fast, root, names, random_name, extra)
    slow_end = bc._write_tar(slow, root, names, random_name, extra)
    assert end == slow_end == len(fast.getvalue())
    assert fast.getvalue() == slow.getvalue()[:slow_end]
    with tarfile.open(fileobj=io.BytesIO(fast.getvalue())) as tf:
        assert tf.getmember("src/a.txt").islnk() and tf.getmember("sym").issym()


def test_a_long_name_in_the_context_falls_back_to_pax(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    long = "d" * 120
    (tmp_path / long).write_text("long")
    (tmp_path / "caf\u00e9").write_text("accent")
    ctx = bc.prepare(str(tmp_path), "", io.BytesIO())
    data = ctx.body.read()
    ctx.close()
    assert len(data) == ctx.size
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.extractfile(long).read() == b"long"
        assert tf.extractfile("caf\u00e9").read() == b"accent"


def test_a_plain_tag_skips_the_reference_parser_only_where_it_agrees():
    import random

    from ketch.cli.commands import build as buildcmd
    from ketch.errors import InvalidArgument
    from ketch.oci import reference
    for common in ("kbench-build:latest", "app", "user/app_x:v1.2-rc", "my.app:1"):
        assert buildcmd._plain_tag(common), common
    for other in ("localhost/app", "host.io/app:1", "host:5000/app", "a@sha256:" + "0" * 64,
                  "App", "a:-x", "a:.x", "a__b", "a--b", "0" * 64, "a:" + "x" * 129):
        assert not buildcmd._plain_tag(other), other
    rng = random.Random(12)
    for _ in range(20000):
        text = "".join(rng.choice("ab0._-:/@A") for _ in range(rng.randint(1, 10)))
        if buildcmd._plain_tag(text):
            try:
                reference.parse(text, default_tag=False)
            except InvalidArgument:
                pytest.fail(f"{text!r}: taken without the parser, which refuses it")


def test_the_cli_build_path_imports_no_slow_modules(tmp_path):
    """tarfile, tempfile, secrets, dataclasses, re, json, subprocess: each costs ketch
    build's start-up more than the work it does there (bench/build.py, cached build)."""
    import subprocess
    import sys
    root = pathlib_root()
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from ketch.cli.main import main\n"
            "try:\n    main(sys.argv[2:])\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", code, root, "-H", f"unix://{tmp_path}/none",
                          "build", "-t", "app:1", str(tmp_path)], capture_output=True, text=True,
                         timeout=30).stdout.split()
    assert "ketch.cli.buildcontext" in out and "ketch.client.build" in out
    slow = {"tarfile", "tempfile", "secrets", "dataclasses", "re", "json", "subprocess", "base64",
            "enum", "collections", "ketch.oci.reference"}
    assert slow.isdisjoint(out), sorted(slow & set(out))


def pathlib_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
