"""builder.build() from Dockerfile text: the real parser, the real context and copier
(build.copyfiles) on the fake backend; histories compared with dockerd 20.10's (ORACLE12)."""

import asyncio
import os

import pytest

from ketch.build import builder
from ketch.build.request import BuildRequest, Message, StepStart
from ketch.errors import InvalidArgument
from tests.unit.buildfake import FakeBackend

A_TXT = "file:aec08426edefc75f205424b22fe8c93576ea0fd9822f7721f72d73f3aae898ea"


def context(tmp_path, dockerfile: str) -> str:
    files = {"a.txt": b"A\n", "b.txt": b"B\n", "dir/x": b"X\n", "dir/sub/y": b"Y\n",
             "Dockerfile": dockerfile.encode()}
    for name, data in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o644)
    for d in ("dir", "dir/sub"):
        (tmp_path / d).chmod(0o755)
    return str(tmp_path)


def build(backend, context_dir, events=None, **request):
    return asyncio.run(builder.build(BuildRequest(**request), context_dir, backend,
                                     (events if events is not None else []).append))


def test_copy_files_as_dockerd(tmp_path):
    ctx = context(tmp_path, "\n".join([
        "FROM busybox", "COPY a.txt /a.txt", "COPY a.txt /dest/", "COPY dir /d",
        "COPY dir/ /d2/", "COPY *.txt /g/", "COPY a.txt dir /multi/", "COPY a.txt relative",
        "WORKDIR /w", "COPY a.txt ."]) + "\n")
    backend = FakeBackend()
    result = build(backend, ctx)
    history = [h["created_by"] for h in backend.images[result.image_id].document["history"][1:]]
    assert history == [
        f"/bin/sh -c #(nop) COPY {A_TXT} in /a.txt ",
        f"/bin/sh -c #(nop) COPY {A_TXT} in /dest/ ",
        "/bin/sh -c #(nop) COPY dir:567ffb566b52f3aa17ba4dbed52ef230c8f65e2c8dadcd0ddcdd9b71a1a54bf3 in /d ",
        "/bin/sh -c #(nop) COPY dir:567ffb566b52f3aa17ba4dbed52ef230c8f65e2c8dadcd0ddcdd9b71a1a54bf3 in /d2/ ",
        "/bin/sh -c #(nop) COPY multi:45610053e726cbbc8db4345937274b723fcc966bdcd698d5d6e7cca3dc12d0e4 in /g/ ",
        "/bin/sh -c #(nop) COPY multi:b546d00db31ae4e828d243d3138efa3ba336682ee67af279c2c156985d36fa48 in /multi/ ",
        f"/bin/sh -c #(nop) COPY {A_TXT} in relative ",
        "/bin/sh -c #(nop) WORKDIR /w",
        f"/bin/sh -c #(nop) COPY {A_TXT} in . "]
    files = backend.files[result.image_id]
    assert files["/a.txt"] == files["/dest/a.txt"] == files["/relative"] == files["/w/a.txt"] == b"A\n"
    assert files["/d/x"] == files["/d2/x"] == files["/multi/x"] == b"X\n" and files["/d/sub/y"] == b"Y\n"
    assert files["/g/a.txt"] == b"A\n" and files["/g/b.txt"] == b"B\n"


def test_onbuild_in_a_parent_then_from_it(tmp_path):
    ctx = context(tmp_path, "FROM busybox\nONBUILD RUN echo trig > /trig\nONBUILD ENV T=1\n"
                            "ONBUILD COPY a.txt /trig.txt\n")
    backend = FakeBackend()
    parent = build(backend, ctx, tags=("parent",))
    assert backend.images[parent.image_id].config["OnBuild"] == [
        "RUN echo trig > /trig", "ENV T=1", "COPY a.txt /trig.txt"]
    (tmp_path / "Dockerfile").write_text("FROM parent\nRUN cat /trig\n")
    events = []
    child = build(backend, ctx, events)
    doc = backend.images[child.image_id].document
    assert [h["created_by"] for h in doc["history"][-4:]] == [
        "/bin/sh -c echo trig > /trig", "/bin/sh -c #(nop)  ENV T=1",
        f"/bin/sh -c #(nop) COPY {A_TXT} in /trig.txt ", "/bin/sh -c cat /trig"]
    assert doc["config"]["OnBuild"] is None
    assert "".join(e.text for e in events if isinstance(e, Message)).startswith("# Executing 3 build triggers\n")


def test_errors_from_the_file_and_the_context(tmp_path):
    backend = FakeBackend()
    ctx = context(tmp_path, "FROM busybox\nCOPY nosuch /x\n")
    with pytest.raises(InvalidArgument) as exc:
        build(backend, ctx)
    assert str(exc.value) == ("COPY failed: file not found in build context or excluded by "
                              ".dockerignore: stat nosuch: file does not exist")
    (tmp_path / "Dockerfile").write_text("FROM busybox\nCOPY a.txt b.txt /notadir\n")
    with pytest.raises(InvalidArgument, match="^When using COPY with more than one source file, "
                                              "the destination must be a directory and end with a /$"):
        build(backend, ctx)
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUNN x\n")
    with pytest.raises(InvalidArgument, match="^dockerfile parse error line 2: unknown instruction: RUNN$"):
        build(backend, ctx)
    with pytest.raises(InvalidArgument, match="^Cannot locate specified Dockerfile: Nope$"):
        build(backend, ctx, dockerfile="Nope")
    # no context (a Dockerfile on stdin): COPY finds nothing, with moby's text
    with pytest.raises(InvalidArgument, match="^COPY failed: file not found in build context"):
        build(backend, None, dockerfile_text="FROM busybox\nCOPY a.txt /a\n")


def test_empty_continuation_warning_comes_first(tmp_path):
    ctx = context(tmp_path, "FROM busybox\nRUN echo a \\\n\n  b\n")
    events = []
    build(FakeBackend(), ctx, events)
    assert isinstance(events[0], Message) and isinstance(events[1], StepStart)
    assert events[0].text.startswith("\x1b[91m[WARNING]: Empty continuation line found in:\n")
    assert events[0].text.endswith("become errors in a future release.\n\x1b[0m")


def test_no_context_dir_is_not_touched_by_a_stdin_build():
    result = build(FakeBackend(), None, dockerfile_text="FROM busybox\nENV A=1\n")
    assert result.image_id.startswith("sha256:")
    assert not [p for p in os.listdir("/tmp") if p.startswith("ketch-nocontext-")]


def test_the_dockerfile_is_read_inside_the_context(tmp_path):
    ctx = context(tmp_path, "FROM busybox\nENV A=1\n")
    (tmp_path / "Dockerfile").rename(tmp_path / "dockerfile")
    assert build(FakeBackend(), ctx).image_id.startswith("sha256:")  # moby's lower-case fallback
    outside = tmp_path.parent / "outside.Dockerfile"
    outside.write_text("FROM busybox\n")
    os.symlink(str(outside), str(tmp_path / "link"))
    os.symlink("../outside.Dockerfile", str(tmp_path / "rel"))
    for name in ("link", "rel", "../outside.Dockerfile"):
        with pytest.raises(InvalidArgument, match=f"^Cannot locate specified Dockerfile: {name}$"):
            build(FakeBackend(), ctx, dockerfile=name)
    (tmp_path / "empty").write_text("")
    with pytest.raises(InvalidArgument, match=r"^the Dockerfile \(empty\) cannot be empty$"):
        build(FakeBackend(), ctx, dockerfile="empty")
