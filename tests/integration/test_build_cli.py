"""``ketch build`` and ``ketch builder prune`` against ketchd: the context as the docker CLI
sends it (.dockerignore, -f outside the context, a Dockerfile or a tar on stdin), the
classic output and exit codes (ORACLE12: dockerd 20.10 with docker 28.2, DOCKER_BUILDKIT=0),
-q, --iidfile, the tty view, the build cache in ``system df`` and ``builder prune``.

Every test removes the images it tagged; the build cache is pruned at the end.
"""

import io
import re
import secrets
import tarfile

import pytest
from tests.integration.buildclean import remove_build_leftovers

SENDING = re.compile(r"Sending build context to Docker daemon +[0-9.]+[kMG]?B\r\r\n")


def _tag() -> str:
    return f"kb-{secrets.token_hex(4)}:latest"


@pytest.fixture
def tags(daemon):
    made: list[str] = []

    def make() -> str:
        made.append(_tag())
        return made[-1]

    yield make
    for tag in made:
        daemon.api("DELETE", f"/images/{tag}?force=1")
    remove_build_leftovers(daemon)


def _ctx(tmp_path, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


def _normal(out: str) -> str:
    """Ids as X: they differ per run."""
    return re.sub(r"\b[0-9a-f]{12}\b", "X", out)


def test_a_build_prints_the_classic_lines_and_tags(daemon, tags, tmp_path):
    tag = tags()
    ctx = _ctx(tmp_path, {"Dockerfile": "FROM busybox\nENV A=1\nRUN echo hello && echo err >&2\n"
                                        'CMD ["echo", "hi"]\n'})
    res = daemon.ketch("build", "-t", tag, ctx)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Sending build context to Docker daemon  2.048kB\r\r\n")  # as docker's
    body = _normal(SENDING.sub("", res.stdout, count=1))
    assert body == (
        "Step 1/4 : FROM busybox\n ---> X\n"
        "Step 2/4 : ENV A=1\n ---> Running in X\nRemoving intermediate container X\n ---> X\n"
        "Step 3/4 : RUN echo hello && echo err >&2\n ---> Running in X\nhello\n\x1b[91merr\n\x1b[0m"
        "Removing intermediate container X\n ---> X\n"
        'Step 4/4 : CMD ["echo", "hi"]\n ---> Running in X\nRemoving intermediate container X\n ---> X\n'
        f"Successfully built X\nSuccessfully tagged {tag}\n")
    out = daemon.ketch("run", "--rm", tag, check=True)
    assert out.stdout == "hi\n"
    # built again: every step from the cache
    again = daemon.ketch("build", "-t", tag, ctx, check=True)
    assert _normal(again.stdout).count(" ---> Using cache\n") == 3


def test_quiet_and_iidfile(daemon, tags, tmp_path):
    tag = tags()
    ctx = _ctx(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo loud\n"})
    iid = tmp_path / "iid"
    res = daemon.ketch("build", "-q", "-t", tag, "--iidfile", str(iid), ctx)
    assert res.returncode == 0, res.stderr
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", res.stdout)
    assert iid.read_text() == res.stdout  # -q: docker writes the line as printed
    status, image = daemon.api("GET", f"/images/{tag}/json")
    assert image["Id"] == res.stdout.strip()
    res = daemon.ketch("build", "-t", tag, "--iidfile", str(iid), ctx, check=True)
    assert iid.read_text() == image["Id"]


def test_a_failed_run_exits_with_its_code(daemon, tags, tmp_path):
    tag = tags()
    ctx = _ctx(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo out; exit 3\nRUN echo never\n"})
    res = daemon.ketch("build", "-t", tag, ctx)
    assert res.returncode == 3
    assert res.stdout.endswith("out\n")
    assert res.stderr == "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3\n"
    assert daemon.api("GET", f"/images/{tag}/json")[0] == 404
    quiet = daemon.ketch("build", "-q", "-t", tag, ctx)
    assert quiet.returncode == 3 and quiet.stdout == ""
    assert SENDING.match(quiet.stderr)
    assert quiet.stderr.endswith("out\nThe command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3\n")


def test_errors_before_the_build(daemon, tags, tmp_path):
    ctx = _ctx(tmp_path, {"Dockerfile": "FROM busybox\nRUNN echo hi\n"})
    res = daemon.ketch("build", ctx)
    assert (res.returncode, res.stderr) == (
        1, "Error response from daemon: dockerfile parse error line 2: unknown instruction: RUNN\n")
    res = daemon.ketch("build", "-f", str(tmp_path / "Nope"), ctx)
    assert res.returncode == 1
    assert res.stderr == ("unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
                          f"lstat {tmp_path}/Nope: no such file or directory\n")
    res = daemon.ketch("build", str(tmp_path / "nowhere"))
    assert (res.returncode, res.stderr) == (1, f'unable to prepare context: path "{tmp_path}/nowhere" not found\n')
    res = daemon.ketch("build", "--target", "nosuch", ctx)
    assert res.returncode == 1


def test_dockerignore_and_a_dockerfile_outside_the_context(daemon, tags, tmp_path):
    tag = tags()
    ctx = _ctx(tmp_path / "ctx", {"a.txt": "A", "x.log": "no", "keep.log": "yes", "secret/k": "no",
                                  "sub/ok": "ok", "sub/z.tmp": "no",
                                  ".dockerignore": "*.log\n!keep.log\nsecret/\n**/*.tmp\n"})
    dockerfile = tmp_path / "elsewhere" / "Dockerfile"
    dockerfile.parent.mkdir()
    dockerfile.write_text("FROM busybox\nCOPY . /ctx\nCMD find /ctx\n")
    daemon.ketch("build", "-q", "-f", str(dockerfile), "-t", tag, ctx, check=True)
    listing = daemon.ketch("run", "--rm", tag, check=True).stdout.split()
    assert sorted(listing) == ["/ctx", "/ctx/.dockerignore", "/ctx/a.txt", "/ctx/keep.log",
                               "/ctx/sub", "/ctx/sub/ok"]  # the random-named Dockerfile dropped too


def test_a_dockerfile_or_a_tar_on_stdin(daemon, tags, tmp_path):
    tag = tags()
    res = daemon.ketch("build", "-t", tag, "-", input="FROM busybox\nLABEL from=stdin\n")
    assert res.returncode == 0, res.stderr
    status, image = daemon.api("GET", f"/images/{tag}/json")
    assert image["Config"]["Labels"] == {"from": "stdin"}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        data = b"FROM busybox\nCOPY f /f\n"
        for name, content in (("Dfile", data), ("f", b"from the tar")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    res = daemon.ketch("build", "-f", "Dfile", "-t", tag, "-", input=buf.getvalue())
    assert res.returncode == 0, res.stderr
    assert daemon.ketch("run", "--rm", tag, "cat", "/f", check=True).stdout == "from the tar"
    ctx = _ctx(tmp_path, {"g": "G"})
    res = daemon.ketch("build", "-f", "-", "-t", tag, ctx, input="FROM busybox\nCOPY g /g\n")
    assert res.returncode == 0, res.stderr
    res = daemon.ketch("build", "-f", "-", "-", input="FROM busybox\n")
    assert (res.returncode, res.stderr) == (
        1, "invalid argument: can't use stdin for both build context and dockerfile\n")


def test_the_tty_view(daemon, tags, tmp_path):
    tag = tags()
    ctx = _ctx(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo building\n"})
    res = daemon.ketch("build", "--progress", "tty", "-t", tag, ctx)
    assert res.returncode == 0, res.stderr
    last = res.stdout.rsplit("[+] Building", 1)[1]
    assert re.match(r" [0-9.]+s \(2/2\) FINISHED", last)
    assert "[2/2] RUN echo building" in last and f"naming to {tag}" in last
    assert "Sending build context" not in res.stdout
    res = daemon.ketch("build", "--progress", "quiet", "-t", tag, ctx)
    assert (res.returncode, res.stdout) == (0, "")


def test_build_cache_in_df_and_builder_prune(daemon, tags, tmp_path):
    tag = tags()
    ctx = _ctx(tmp_path, {"Dockerfile": f"FROM busybox\nRUN echo {secrets.token_hex(4)} > /f\n"})
    daemon.ketch("build", "-q", "-t", tag, ctx, check=True)
    status, df = daemon.api("GET", "/system/df")
    assert df["BuildCache"], df
    rows = daemon.ketch("system", "df", check=True).stdout
    assert re.search(r"^Build Cache +[1-9]", rows, re.M), rows
    assert "Build cache usage: " in daemon.ketch("system", "df", "-v", check=True).stdout
    res = daemon.ketch("builder", "prune", "-af")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Deleted build cache objects:\n")
    assert res.stdout.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    assert daemon.ketch("builder", "prune", "-af", check=True).stdout == "Total reclaimed space: 0B\n"


def test_a_url_context_is_fetched_by_the_daemon(daemon, tags, tmp_path):
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    tag = tags()
    www = tmp_path / "www"
    www.mkdir()
    with tarfile.open(www / "ctx.tar.gz", "w:gz") as tf:
        for name, content in (("Dockerfile", b"FROM busybox\nCOPY f /f\nCMD cat /f\n"), ("f", b"remote")):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/ctx.tar.gz"
        res = daemon.ketch("build", "-t", tag, url)
        assert res.returncode == 0, res.stderr
        assert "Sending build context" not in res.stdout  # nothing sent: the daemon fetched it
        assert daemon.ketch("run", "--rm", tag, check=True).stdout == "remote"
    finally:
        server.shutdown()
        server.server_close()
