"""`docker build` (the classic builder: DOCKER_BUILDKIT=0) against ketchd and against a
real dockerd: the same Dockerfiles give the same stream, errors, exit codes, image config
and history, files and cache behaviour (build_table.py says what each row compares).

Run alone: flock /tmp/ketch-test.lock .venv/bin/python3 -m pytest -p no:cacheprovider
-q tests/integration/differential/test_build.py
"""

import gzip
import http.server
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.integration.differential.build_table import (BUILD_PARTS, DIR, MTIME, REMOTE, ROWS, BuildRow,
                                                        Link, Mode, Rebuild, TarGz)
from tests.integration.differential.dockerd import _UnixHTTP, api
from tests.integration.differential.harness import KETCH, Target, docker_client
from tests.integration.differential.normalise import Norm, Side, normalise, normalise_text
from tests.integration.differential.table import Expect

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("differential")]

TIMEOUT = 120
# how the classic builder wraps each chunk of a RUN's stderr in the stream
STDERR_START, STDERR_END = "\x1b[91m", "\x1b[0m"
# docker 28's legacy builder notice, on stderr in some runs and not others
DEPRECATED = re.compile(r"DEPRECATED: The legacy builder is deprecated.*?environment-variable\.\n", re.S)


@dataclass(frozen=True)
class Built:
    stdout: str
    stderr: str
    exit: int


@dataclass
class Outcome:
    """What one daemon made of a row."""
    first: Built
    image: dict | None
    probe: str | None
    after: list[tuple[str, Built]]
    containers: list[str]   # the states of the containers the builds left (sorted)
    changed: tuple[str, ...]


# -- the context ----------------------------------------------------------------------

def write_context(root: str, files) -> None:
    for name, spec in files:
        path = os.path.join(root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if spec is DIR:
            os.makedirs(path, exist_ok=True)
        elif isinstance(spec, Link):
            os.symlink(spec.target, path)
            continue
        elif isinstance(spec, TarGz):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tf:
                for entry, content in spec.entries:
                    info = tarfile.TarInfo(entry)
                    info.size, info.mtime, info.uid, info.gid, info.mode = len(content), 1000000000, 1234, 5678, 0o640
                    tf.addfile(info, io.BytesIO(content.encode()))
            with open(path, "wb") as f:
                f.write(gzip.compress(buf.getvalue(), mtime=0))
        else:
            content, mode = (spec.content, spec.mode) if isinstance(spec, Mode) else (spec, 0o644)
            with open(path, "w") as f:
                f.write(content)
            os.chmod(path, mode)
        os.utime(path, (MTIME, MTIME))


@dataclass(frozen=True)
class Workspace:
    where: str   # the contexts' parent directory
    url: str     # a loopback HTTP server's (ADD <url> rows): "{url}" in a Dockerfile


def make_context(row: BuildRow, ws: Workspace) -> str:
    ctx = tempfile.mkdtemp(prefix=f"{row.name}-", dir=ws.where)
    files = list(row.files)
    if row.dockerfile is not None:
        files.append(("Dockerfile", row.dockerfile.replace("{url}", ws.url)))
    write_context(ctx, files)
    os.utime(ctx, (MTIME, MTIME))
    return ctx


# -- one daemon ------------------------------------------------------------------------

def docker_build(target: Target, args, ctx: str, stdin: str | None, path: str | None,
                 program: str = "docker") -> Built:
    """`docker build` with the classic builder, or `ketch build` (program "ketch")."""
    env = dict(target.env, DOCKER_BUILDKIT="0")
    client = [docker_client()] if program == "docker" else KETCH
    argv = [*client, "build", *(a.replace("{ctx}", ctx) for a in args), path or ctx]
    raw = subprocess.run(argv, input=stdin.encode() if stdin is not None else None,
                         stdin=None if stdin is not None else subprocess.DEVNULL,
                         capture_output=True, env=env, timeout=TIMEOUT, cwd=ctx)
    return Built(raw.stdout.decode(errors="replace"), raw.stderr.decode(errors="replace"), raw.returncode)


def image_document(target: Target, ref: str) -> dict | None:
    """The image's config document as the daemon stored it (through GET /images/{ref}/get)."""
    conn = _UnixHTTP(target.socket, TIMEOUT)
    try:
        conn.request("GET", f"/images/{ref}/get")
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            return None
    finally:
        conn.close()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        return json.load(tf.extractfile(manifest[0]["Config"]))


def image_view(doc: dict | None, base: dict) -> dict | None:
    """What a build decides in the document: the rest (ids, times, the daemon's version,
    the step container's hostname) is the daemon's own."""
    if doc is None:
        return None

    def config(c):
        return {k: v for k, v in (c or {}).items() if k not in ("Image", "Hostname")}
    skip = len(base.get("history") or [])
    return {
        "architecture": doc.get("architecture"), "os": doc.get("os"), "author": doc.get("author"),
        "config": config(doc.get("config")),
        "container_config": config(doc.get("container_config")),
        "history": [{k: v for k, v in h.items() if k != "created"} for h in (doc.get("history") or [])[skip:]],
        "layers added": len(doc["rootfs"]["diff_ids"]) - len(base["rootfs"]["diff_ids"]),
    }


def play(target: Target, row: BuildRow, ws: Workspace, program: str = "docker") -> Outcome:
    """Build the row on one daemon (its parent row first), probe, rebuild; then remove the
    tags and containers (target.reset) and every image it made."""
    before = image_ids(target)
    try:
        if row.parent is not None:
            parent = next(r for r in ROWS if r.name == row.parent)
            pctx = make_context(parent, ws)
            res = docker_build(target, ("-t", parent.tag, *parent.args), pctx, parent.stdin, parent.context)
            assert res.exit == 0, (target.name, parent.name, res)
        ctx = make_context(row, ws)
        base = image_document(target, "busybox:latest")
        if re.search(r"(?im)^from\s+scratch\s*$", row.dockerfile or ""):
            base = {"history": [], "rootfs": {"diff_ids": []}}
        first = docker_build(target, ("-t", row.tag, *row.args), ctx, row.stdin, row.context, program)
        doc = image_document(target, row.tag) if first.exit == 0 else None
        probe = None
        if row.probe is not None and first.exit == 0:
            res = target.run(("run", "--rm", "--network", "none", row.tag, "sh", "-c", row.probe))
            probe = f"{res.stdout}{res.stderr}exit {res.exit}"
        after = []
        for step in row.after:
            rebuild(ctx, step)
            args = row.args if step.args is None else step.args
            after.append((step.what, docker_build(target, ("-t", row.tag, *args), ctx, row.stdin, row.context,
                                                  program)))
        left = sorted(left_behind(target))
    finally:
        changed = tuple(target.reset())
        remove_new_images(target, before)
    return Outcome(first, image_view(doc, base) if doc else None, probe, after, left, changed)


def left_behind(target: Target) -> list[str]:
    """The state and command of each container the row's builds left (moby keeps a failed
    RUN's container unless --force-rm, and every step's with --rm=false)."""
    status, items = api(target.socket, "GET", "/containers/json?all=1")
    assert status == 200, (target.name, status, items)
    return [f"{c['State']} {c['Command']}" for c in items if c["Id"] not in target.baseline_containers]


def image_ids(target: Target) -> set[str]:
    status, items = api(target.socket, "GET", "/images/json?all=1")
    assert status == 200, (target.name, status, items)
    return {image["Id"] for image in items}


def remove_new_images(target: Target, before: set[str]) -> None:
    """Every image the row made, its steps' too: each row starts from the same cache on
    both daemons, whatever the rows before it left (dockerd's rmi of a tag also deletes
    its untagged parents, so a build that failed on one daemon only would leave them
    different)."""
    for _ in range(20):  # children before parents: each pass removes the leaves
        new = image_ids(target) - before
        if not new:
            return
        for image in new:
            api(target.socket, "DELETE", f"/images/{image}")
    raise AssertionError(f"{target.name}: images the row made cannot be removed: {sorted(new)}")


def rebuild(ctx: str, step: Rebuild) -> None:
    for name, content in step.files:
        with open(os.path.join(ctx, name), "w") as f:
            f.write(content)
        os.utime(os.path.join(ctx, name), (MTIME, MTIME))
    for name, mtime in step.mtimes:
        os.utime(os.path.join(ctx, name), (mtime, mtime))
    for name, mode in step.modes:
        os.chmod(os.path.join(ctx, name), mode)


# -- comparing ---------------------------------------------------------------------------

def _lines(text: str, side: Side, mask) -> list:
    text = DEPRECATED.sub("", text)
    # each stderr chunk comes wrapped in red; where chunks end is the pipe's timing
    text = text.replace(STDERR_END + STDERR_START, "")
    # the client's blank line after "Sending build context" comes and goes (its progress output)
    return [line for line in normalise(text, side, Norm(), mask) if line]


def _image(view: dict | None, side: Side, mask) -> str | None:
    if view is None:
        return None
    text = json.dumps(view, indent=1, sort_keys=True)
    return normalise_text(text, side, Norm(), mask)


def views(out: Outcome, side: Side, mask=()) -> dict:
    return {
        "stream": _lines(out.first.stdout, side, mask),
        "stderr": _lines(out.first.stderr, side, mask),
        "exit": out.first.exit,
        "image": _image(out.image, side, mask),
        "probe": None if out.probe is None else _lines(out.probe, side, mask),
        "after": [(what, _lines(b.stdout, side, mask), _lines(b.stderr, side, mask), b.exit)
                  for what, b in out.after],
        "containers": [normalise_text(c, side, Norm(), mask) for c in out.containers],
    }


def _report(row: BuildRow, a: Outcome, b: Outcome, labels: tuple[str, str]) -> str:
    def side(name, o):
        text = (f"--- {name}: exit {o.first.exit}\nstdout:\n{o.first.stdout}stderr:\n{o.first.stderr}"
                f"image: {json.dumps(o.image, indent=1, sort_keys=True)}\nprobe:\n{o.probe}\n")
        for what, built in o.after:
            text += f"then {what}: exit {built.exit}\n{built.stdout}{built.stderr}"
        text += f"containers left: {o.containers}\n"
        return text
    return f"\nrow {row.name}: {row.dockerfile!r} {row.args}\n" + side(labels[0], a) + side(labels[1], b)


def compare(row: BuildRow, expect: Expect, a: Outcome, b: Outcome, ref: Side, got: Side,
            labels: tuple[str, str]) -> None:
    report = _report(row, a, b, labels)
    assert not a.changed and not b.changed, f"the row changed the fixtures: {a.changed} {b.changed}{report}"
    mask = expect.mask if expect.kind == "differs" else ()
    va, vb = views(a, ref, mask), views(b, got, mask)
    ignored = expect.parts if expect.kind == "differs" else ()
    wrong = {p: (va[p], vb[p]) for p in BUILD_PARTS if p not in ignored and va[p] != vb[p]}
    assert not wrong, "differs in " + ", ".join(
        f"{p}:\n  {labels[0]} {x!r}\n  {labels[1]}  {y!r}" for p, (x, y) in wrong.items()) + report
    if expect.kind == "differs":
        now_same = [p for p in ignored if va[p] == vb[p]]
        assert not now_same, (f"row {row.name} is marked differs ({expect.reason}) in {ignored}, "
                              f"but {now_same} now match: narrow or drop the mark{report}")


def _params(which: str) -> list:
    out = []
    for row in ROWS:
        expect = row.expect if which == "api" else row.cli
        if expect is None:
            continue
        marks = [pytest.mark.xfail(strict=True, reason=expect.reason)] if expect.kind == "pending" else []
        out.append(pytest.param(row, expect, id=row.name, marks=marks))
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The contexts' directory, and a loopback HTTP server for ADD <url> (the daemons
    download from the host's network namespace) serving REMOTE with mtime 1500000000."""
    where = str(tmp_path_factory.mktemp("build-contexts"))
    www = os.path.join(where, "www")
    for name, content in REMOTE.items():
        path = os.path.join(www, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(content)
        os.utime(path, (1500000000, 1500000000))

    class Files(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=www, **kwargs)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Workspace(where, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("row, expect", _params("api"))
def test_docker_build(pair, workspace, row, expect):
    """docker build -> ketchd   vs   docker build -> dockerd (does ketchd build as dockerd does?)."""
    with ThreadPoolExecutor(2) as pool:
        fa = pool.submit(play, pair.dockerd, row, workspace)
        fb = pool.submit(play, pair.ketchd, row, workspace)
        a, b = fa.result(), fb.result()
    try:
        compare(row, expect, a, b, pair.dockerd.side("docker"), pair.ketchd.side("docker"),
                ("docker -> dockerd", "docker -> ketchd"))
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n({pair.versions})") from None


@pytest.mark.parametrize("row, expect", _params("cli"))
def test_ketch_build(pair, workspace, row, expect):
    """ketch build -> ketchd   vs   docker build -> ketchd (does ketch's CLI print what the
    docker client prints, given the same daemon?). One after the other: each play leaves
    the daemon's images as it found them."""
    a = play(pair.ketchd, row, workspace)
    b = play(pair.ketchd, row, workspace, "ketch")
    compare(row, expect, a, b, pair.ketchd.side("docker"), pair.ketchd.side("ketch"),
            ("docker -> ketchd", "ketch -> ketchd"))
