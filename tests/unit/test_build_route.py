"""POST /build and /build/prune over real HTTP (the Engine API server on a loopback port,
httpx) with an in-memory build service: the options as moby reads them, the context
unpacked and removed, the classic builder's stream, errors before and after the first
line, ``q``, cancellation when the client leaves."""

import asyncio
import base64
import gzip
import io
import json
import os
import tarfile
import threading
import time

import httpx
import pytest

from ketch import errors
from ketch.api.http import Router, Server
from ketch.api.httpstatus import error_response
from ketch.api.routes.build import BuildRoutes
from ketch.build.request import (BuildResult, Message, PullProgress, StageDone, StepCached,
                                 StepDone, StepOutput, StepRunning, StepStart)
from ketch.engine.builds.contexts import BuildContexts

FLOOD_MAX = 256 << 20
IMAGE = "sha256:" + "ab" * 32
BASE = "sha256:" + "cd" * 32
CONTAINER = "ef" * 32


class FakeBuilds:
    """A BuildBackendService that reads the context and plays a scripted build."""

    def __init__(self) -> None:
        self.calls = []
        self.script = "ok"
        self.started = threading.Event()
        self.cancelled = threading.Event()
        self.pruned = []
        self.flooded = 0

    async def build(self, request, context_dir, emit):
        files = {}
        for dirpath, _, names in os.walk(context_dir):
            for n in names:
                p = os.path.join(dirpath, n)
                files[os.path.relpath(p, context_dir)] = open(p, "rb").read()
        self.calls.append((request, context_dir, files))
        if self.script == "early":
            raise errors.InvalidArgument("dockerfile parse error line 1: unknown instruction: RUNN")
        emit(StepStart(1, 2, "FROM busybox"))
        emit(PullProgress({"status": "Pulling from library/busybox", "id": "latest"}))
        emit(StepDone(1, BASE))
        emit(StepStart(2, 2, "RUN echo hi"))
        if self.script == "cached":
            emit(StepCached(2))
        else:
            emit(StepRunning(2, CONTAINER))
            # from a thread, as the backend's output comes
            await asyncio.to_thread(emit, StepOutput(2, b"hi\n"))
            emit(StepOutput(2, b"\x1b[91merr\n\x1b[0m"))
        if self.script == "fail":
            raise errors.BuildStepFailed("The command '/bin/sh -c echo hi' returned a non-zero code: 3", 3)
        if self.script == "flood":  # a RUN printing without end, awaiting what emit answers
            chunk = StepOutput(2, b"y" * 65536)
            while self.flooded < FLOOD_MAX:
                pending = emit(chunk)
                self.flooded += len(chunk.data)
                if pending is not None:
                    await pending
                else:
                    await asyncio.sleep(0)
        if self.script == "hang":
            self.started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        emit(StepDone(2, IMAGE, removed_container="" if self.script == "cached" else CONTAINER))
        if self.script == "stages":
            emit(StageDone(IMAGE))
        emit(Message("[Warning] One or more build-args [X] were not consumed\n"))
        return BuildResult(IMAGE, request.tags)

    async def prune(self, all, filters, keep_storage=0):
        self.pruned.append((all, filters, keep_storage))
        return ["a1", "b2"], 1234

    def usage(self):
        return []


class Running:
    def __init__(self, root: str, ignore=None) -> None:
        self.builds = FakeBuilds()
        self.contexts = BuildContexts(os.path.join(root, "context"))
        self.contexts.sweep()
        router = Router()
        BuildRoutes(self.builds, self.contexts, ignore).install(router)
        self.server = Server(router, error_handler=error_response)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        _, port = asyncio.run_coroutine_threadsafe(self.server.serve_tcp("127.0.0.1", 0), self.loop).result(10)
        self.base = f"http://127.0.0.1:{port}"
        self.client = httpx.Client(base_url=self.base, timeout=10)

    def build(self, body: bytes, **params):
        headers = params.pop("headers", {})
        path = params.pop("path", "/v1.45/build")
        return self.client.post(path, params=params, content=body, headers=headers)

    def close(self) -> None:
        self.client.close()
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def api(tmp_path):
    r = Running(str(tmp_path))
    yield r
    r.close()


def tar_of(files: dict[str, bytes], extra=()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra:
            tf.addfile(info)
    return buf.getvalue()


def lines(resp) -> list[dict]:
    return [json.loads(x) for x in resp.content.split(b"\r\n") if x.strip()]


DOCKERFILE = {"Dockerfile": b"FROM busybox\nRUN echo hi\n", "a.txt": b"A"}


def test_a_build_streams_the_classic_builders_lines(api):
    resp = api.build(tar_of(DOCKERFILE), t=["app", "app:v1", "app"])
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert lines(resp) == [
        {"stream": "Step 1/2 : FROM busybox"}, {"stream": "\n"},
        {"status": "Pulling from library/busybox", "id": "latest"},
        {"stream": " ---> cdcdcdcdcdcd\n"},
        {"stream": "Step 2/2 : RUN echo hi"}, {"stream": "\n"},
        {"stream": " ---> Running in efefefefefef\n"},
        {"stream": "hi\n"},
        {"stream": "\x1b[91merr\n\x1b[0m"},
        {"stream": "Removing intermediate container efefefefefef\n"},
        {"stream": " ---> abababababab\n"},
        {"stream": "[Warning] One or more build-args [X] were not consumed\n"},
        {"aux": {"ID": IMAGE}},
        {"stream": "Successfully built abababababab\n"},
        {"stream": "Successfully tagged app:latest\n"},
        {"stream": "Successfully tagged app:v1\n"},
    ]
    # Go's json.Marshal, byte for byte as dockerd writes them
    assert resp.content.split(b"\r\n")[3] == b'{"stream":" ---\\u003e cdcdcdcdcdcd\\n"}'
    assert b'{"stream":"\\u001b[91merr\\n\\u001b[0m"}\r\n' in resp.content
    request, context_dir, files = api.builds.calls[0]
    assert files == DOCKERFILE
    assert request.tags == ("app:latest", "app:v1")
    assert request.dockerfile == "Dockerfile"
    assert request.dockerfile_text == "FROM busybox\nRUN echo hi\n"
    assert not os.path.exists(context_dir)  # removed after the build
    assert os.listdir(api.contexts.root) == []


def test_options_reach_the_build_request(api):
    secrets = base64.b64encode(json.dumps({"tok": base64.b64encode(b"s3cret").decode()}).encode())
    resp = api.build(tar_of({"sub/Dfile": b"FROM x\n"}), dockerfile="sub/Dfile",
                     buildargs=json.dumps({"A": "1", "B": None}), labels='{"l": "v"}',
                     target="t1", nocache="1", pull="true", networkmode="none",
                     platform="linux/amd64", extrahosts=["h:1.2.3.4"], cachefrom='["c1"]',
                     rm="0", shmsize="1024", memory="1000000", cpushares="512", cgroupparent="cg",
                     headers={"X-Ketch-Build-Secrets": secrets.decode()})
    assert resp.status_code == 200, resp.text
    req = api.builds.calls[0][0]
    assert req.dockerfile == "sub/Dfile" and req.dockerfile_text == "FROM x\n"
    assert req.build_args == {"A": "1", "B": None}
    assert req.labels == {"l": "v"}
    assert (req.target, req.no_cache, req.pull, req.network) == ("t1", True, True, "none")
    assert req.platform == "linux/amd64" and req.extra_hosts == ("h:1.2.3.4",)
    assert req.cache_from == ("c1",) and req.rm is False and req.force_rm is False
    assert req.shm_size == 1024 and req.cgroup_parent == "cg"
    assert req.resources == {"Memory": 1000000, "CpuShares": 512}
    assert req.secrets == {"tok": b"s3cret"}
    assert req.quiet is False and req.tags == ()
    assert req.no_cache_filter == () and req.source_date_epoch is None


def test_ketch_extensions(api):
    api.build(tar_of(DOCKERFILE), nocachefilter=["a", "b"], sourcedateepoch="1700000000")
    api.build(tar_of(DOCKERFILE), buildargs='{"SOURCE_DATE_EPOCH": "5"}')
    first, second = (c[0] for c in api.builds.calls)
    assert first.no_cache_filter == ("a", "b") and first.source_date_epoch == 1700000000
    assert second.source_date_epoch == 5
    resp = api.build(tar_of(DOCKERFILE), sourcedateepoch="yesterday")
    assert (resp.status_code, resp.json()) == (400, {"message": "invalid SOURCE_DATE_EPOCH: yesterday"})


def test_entitlements(api):
    """``allow`` (BuildKit's --allow), and networkmode=host grants network.host as dockerd's
    BuildKit does; security.insecure is never granted, an unknown name is refused."""
    api.build(tar_of(DOCKERFILE))
    api.build(tar_of(DOCKERFILE), allow=["network.host"])
    api.build(tar_of(DOCKERFILE), networkmode="host")
    assert [c[0].allow for c in api.builds.calls] == [(), ("network.host",), ("network.host",)]
    resp = api.build(tar_of(DOCKERFILE), allow=["security.insecure"])
    assert (resp.status_code, resp.json()) == (400, {"message": "granting entitlement "
                                                     "security.insecure is not allowed by build daemon configuration"})
    resp = api.build(tar_of(DOCKERFILE), allow=["device"])
    assert (resp.status_code, resp.json()) == (400, {"message": "unknown entitlement device"})
    assert len(api.builds.calls) == 3


def test_rm_defaults_to_true_and_forcerm_implies_it(api):
    api.build(tar_of(DOCKERFILE))
    api.build(tar_of(DOCKERFILE), rm="0", forcerm="1")
    first, second = (c[0] for c in api.builds.calls)
    assert first.rm is True and first.force_rm is False
    assert second.rm is True and second.force_rm is True


@pytest.mark.parametrize("params, status, message", [
    ({"buildargs": "{bad"}, 400,
     "error reading build args: invalid character 'b' looking for beginning of object key string"),
    ({"labels": '{"a": 1}'}, 400,
     "error reading labels: json: cannot unmarshal number into Go value of type string"),
    ({"version": "2"}, 400, "buildkit is not enabled on daemon"),
    ({"version": "3"}, 400, 'invalid version "3"'),
    ({"squash": "1"}, 400, "squash is only supported with experimental mode"),
    ({"t": "Bad:Tag"}, 500, "invalid reference format: repository name must be lowercase"),
    # dockerd 20.10 takes UPPER for a Docker Hub path, not a registry (the CLI accepts it)
    ({"t": "UPPER/x"}, 500, "invalid reference format: repository name must be lowercase"),
    ({"t": "Reg.Example:5000/x"}, 200, None),
    ({"t": "app@sha256:" + "0" * 64}, 500, "build tag cannot contain a digest"),
    ({"isolation": "vm"}, 400, 'Unsupported isolation: "vm"'),
    ({"shmsize": "x"}, 500, 'strconv.ParseInt: parsing "x": invalid syntax'),
    ({"dockerfile": "nope"}, 400, "Cannot locate specified Dockerfile: nope"),
])
def test_bad_options_are_errors_before_the_stream(api, params, status, message):
    resp = api.build(tar_of(DOCKERFILE), **params)
    if message is None:  # a registry host may have capitals
        assert resp.status_code == status and api.builds.calls[0][0].tags == (params["t"] + ":latest",)
        return
    assert (resp.status_code, resp.json()) == (status, {"message": message})
    assert api.builds.calls == []
    assert os.listdir(api.contexts.root) == []


def test_an_empty_dockerfile_and_the_lowercase_fallback(api):
    resp = api.build(tar_of({"Dockerfile": b""}))
    assert (resp.status_code, resp.json()) == (400, {"message": "the Dockerfile (Dockerfile) cannot be empty"})
    resp = api.build(tar_of({"dockerfile": b"FROM y\n"}))
    assert resp.status_code == 200
    assert api.builds.calls[0][0].dockerfile == "dockerfile"
    resp = api.build(b"")  # no body at all: an empty context
    assert (resp.status_code, resp.json()) == (400, {"message": "Cannot locate specified Dockerfile: Dockerfile"})


def test_a_compressed_context(api):
    resp = api.build(gzip.compress(tar_of(DOCKERFILE)))
    assert resp.status_code == 200
    assert api.builds.calls[0][2] == DOCKERFILE


def test_a_context_that_ends_after_the_last_files_data(api):
    """docker/cli's ``docker build -f- .`` (or ``-f`` outside the context) adds the
    Dockerfile with ReplaceFileTarWrapper: the tar ends after its data, with no padding
    and no end-of-archive blocks. dockerd (Go's archive/tar) takes it."""
    files = {"a.txt": b"A", ".dockerfile.1e2d": b"FROM busybox\nCOPY a.txt /\n"}
    raw = tar_of(files)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        last = tf.getmembers()[-1]
    resp = api.build(raw[:last.offset_data + last.size], dockerfile=".dockerfile.1e2d")
    assert resp.status_code == 200, resp.text
    assert api.builds.calls[0][2] == files


def test_a_context_cannot_write_outside_its_directory(api, tmp_path):
    evil = tarfile.TarInfo("../../escaped")
    evil.size = 0
    link = tarfile.TarInfo("up")
    link.type, link.linkname = tarfile.SYMTYPE, "/"
    through = tarfile.TarInfo("up/etc-escaped")
    resp = api.build(tar_of(DOCKERFILE, extra=(evil,)))
    assert resp.status_code == 400 and "is outside of" in resp.json()["message"]
    resp = api.build(tar_of(DOCKERFILE, extra=(link, through)))
    assert resp.status_code == 200  # an absolute link is kept, writes through it stay inside
    assert not (tmp_path / "escaped").exists() and not os.path.exists("/etc-escaped")
    assert api.builds.calls[0][2]["etc-escaped"] == b""
    assert os.listdir(api.contexts.root) == []


def test_a_symlinked_dockerfile_is_read_inside_the_context(api):
    link = tarfile.TarInfo("Dockerfile")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/hostname"
    resp = api.build(tar_of({}, extra=(link,)))
    assert (resp.status_code, resp.json()) == (400, {"message": "Cannot locate specified Dockerfile: Dockerfile"})


def test_quiet_writes_only_the_id(api):
    resp = api.build(tar_of(DOCKERFILE), q="1", t="app")
    assert lines(resp) == [{"stream": IMAGE + "\n"}]


def test_a_failed_step_ends_the_stream_with_its_code(api):
    api.builds.script = "fail"
    resp = api.build(tar_of(DOCKERFILE))
    assert resp.status_code == 200
    msg = "The command '/bin/sh -c echo hi' returned a non-zero code: 3"
    assert lines(resp)[-2:] == [{"stream": "\x1b[91merr\n\x1b[0m"},
                                {"errorDetail": {"code": 3, "message": msg}, "error": msg}]
    assert resp.content.endswith(b'{"errorDetail":{"code":3,"message":"' + msg.encode() + b'"},"error":"'
                                 + msg.encode() + b'"}\r\n')


def test_quiet_failure_writes_what_was_held_back_then_the_error(api):
    api.builds.script = "fail"
    out = lines(api.build(tar_of(DOCKERFILE), q="true"))
    assert out[0] == {"stream": "Step 1/2 : FROM busybox"}
    assert out[-1]["errorDetail"]["code"] == 3
    assert len(out) == 10


def test_an_error_before_any_line_is_an_error_response(api):
    api.builds.script = "early"
    resp = api.build(tar_of(DOCKERFILE))
    assert (resp.status_code, resp.json()) == (
        400, {"message": "dockerfile parse error line 1: unknown instruction: RUNN"})


def test_cached_steps_and_old_api_versions_without_aux(api):
    api.builds.script = "cached"
    out = lines(api.build(tar_of(DOCKERFILE), path="/v1.29/build"))
    assert {"stream": " ---> Using cache\n"} in out
    assert not any("aux" in m for m in out)
    assert "Removing intermediate container" not in json.dumps(out)


def test_dockerignore_removes_the_dockerfile_and_itself(tmp_path):
    def ignore(text):
        patterns = [p.strip() for p in text.splitlines() if p.strip()]
        return lambda path: path in patterns
    r = Running(str(tmp_path), ignore)
    try:
        files = {**DOCKERFILE, ".dockerignore": b"Dockerfile\n.dockerignore\n"}
        assert r.build(tar_of(files)).status_code == 200
        request, _, seen = r.builds.calls[0]
        assert seen == {"a.txt": b"A"}
        assert request.dockerfile_text == "FROM busybox\nRUN echo hi\n"
    finally:
        r.close()


def test_the_build_is_cancelled_when_the_client_goes(api):
    api.builds.script = "hang"
    with httpx.Client(base_url=api.base, timeout=10) as c:
        with c.stream("POST", "/build", content=tar_of(DOCKERFILE)) as resp:
            assert resp.status_code == 200
            assert api.builds.started.wait(10)
    assert api.builds.cancelled.wait(10)
    deadline = time.monotonic() + 10
    while os.listdir(api.contexts.root) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(api.contexts.root) == []


def test_prune(api):
    resp = api.client.post("/v1.45/build/prune", params={"all": "1", "filters": '{"until": ["1h"]}',
                                                         "keep-storage": "1000"})
    assert resp.json() == {"CachesDeleted": ["a1", "b2"], "SpaceReclaimed": 1234}
    assert api.builds.pruned == [(True, {"until": ["1h"]}, 1000)]
    api.client.post("/build/prune", params={"keep-storage": "1000"})
    assert api.builds.pruned[-1] == (False, {}, 1000)
    resp = api.client.post("/build/prune", params={"filters": '{"nope": ["x"]}'})
    assert (resp.status_code, resp.json()) == (400, {"message": "invalid filter 'nope'"})
    resp = api.client.post("/build/prune", params={"keep-storage": "1GB"})
    assert (resp.status_code, resp.json()) == (
        400, {"message": "keep-storage is in bytes and expects an integer, got 1GB"})


def test_a_stage_done_is_an_aux_and_the_final_one_is_not_repeated(api):
    api.builds.script = "stages"
    out = lines(api.build(tar_of(DOCKERFILE)))
    assert out[-3:] == [{"aux": {"ID": IMAGE}},
                        {"stream": "[Warning] One or more build-args [X] were not consumed\n"},
                        {"stream": "Successfully built abababababab\n"}]
    assert sum("aux" in m for m in out) == 1


def test_the_daemon_applies_dockerignore_to_the_dockerfile_by_default(api):
    files = {**DOCKERFILE, "sub/x": b"x", ".dockerignore": b"# moby's patterns\nDocker*\n!sub\n"}
    assert api.build(tar_of(files)).status_code == 200
    _, _, seen = api.builds.calls[0]
    assert seen == {"a.txt": b"A", "sub/x": b"x", ".dockerignore": files[".dockerignore"]}


def test_remote_contexts(api, tmp_path):
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def guess_type(self, path):
            return "text/plain" if path.endswith("Dockerfile") else "application/x-tar"

    www = tmp_path / "www"
    www.mkdir()
    (www / "ctx.tar").write_bytes(tar_of(DOCKERFILE))
    (www / "Dockerfile").write_bytes(b"FROM scratch\n")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(www)))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert api.build(b"", remote=url + "/ctx.tar").status_code == 200
        request, context_dir, seen = api.builds.calls[-1]
        assert seen == DOCKERFILE and request.dockerfile_text == DOCKERFILE["Dockerfile"].decode()
        assert api.build(b"", remote=url + "/Dockerfile").status_code == 200
        request, _, seen = api.builds.calls[-1]
        assert seen == {} and request.dockerfile_text == "FROM scratch\n"
        resp = api.build(b"", remote=url + "/nosuch.tar")
        assert resp.status_code == 404
        assert resp.json()["message"].startswith(f"error downloading remote context {url}/nosuch.tar: failed to GET")
        resp = api.build(b"", remote="ftp://x")
        assert resp.status_code == 400 and resp.json()["message"] == "remoteURL (ftp://x) could not be recognized as URL"
        assert os.listdir(api.contexts.root) == []  # every context removed after its build
    finally:
        server.shutdown()
        server.server_close()


def test_dockerignore_on_the_daemon_is_moby_20_10s(api):
    # moby's removeDockerfile uses the deprecated Matches: a parent only as deep as the pattern
    files = {"a/b/foo/Dockerfile": b"FROM scratch\n", ".dockerignore": b"**/foo\n"}
    assert api.build(tar_of(files), dockerfile="a/b/foo/Dockerfile").status_code == 200
    assert "a/b/foo/Dockerfile" in api.builds.calls[-1][2]
    # a malformed pattern is no error there (moby ignores Matches' error): nothing removed
    files = {**DOCKERFILE, ".dockerignore": b"[\n"}
    assert api.build(tar_of(files)).status_code == 200
    assert "Dockerfile" in api.builds.calls[-1][2]


def test_cache_records_as_the_api_shows_them():
    from ketch.api.buildviews import cache_json
    from ketch.build.request import CacheRecord
    rec = CacheRecord("k1", ("p1",), "regular", "RUN make", False, True, 10,
                      "2026-12-07T00:00:00Z", None, 0)
    assert cache_json(rec, "1.45") == {
        "ID": "k1", "Parents": ["p1"], "Type": "regular", "Description": "RUN make", "InUse": False,
        "Shared": True, "Size": 10, "CreatedAt": "2026-12-07T00:00:00Z", "LastUsedAt": None,
        "UsageCount": 0}
    old = cache_json(rec, "1.41")
    assert old["Parent"] == "p1" and "Parents" not in old


def test_what_the_build_emits_at_once_goes_out_in_one_write(monkeypatch):
    """A cached step's lines (and the ending's) are one send each, not one per line: the
    client wakes up once for them (bench/build.py's cached build)."""
    from types import SimpleNamespace

    from ketch.api.routes import build as route
    writes = []

    class Response:
        def __init__(self, status, content_type):
            pass

        async def prepare(self, request):
            pass

        async def write(self, data):
            writes.append(data)

        async def finish(self):
            pass

    class Request:
        async def wait_disconnected(self):
            await asyncio.sleep(60)

    async def start(emit):
        emit(StepStart(1, 1, "FROM busybox"))
        emit(StepCached(1))
        emit(StepDone(1, IMAGE))
        return BuildResult(IMAGE, ("app:1",))

    async def ended():
        pass

    monkeypatch.setattr(route, "StreamResponse", Response)
    run = route._Run(Request(), SimpleNamespace(quiet=False, tags=("app:1",)), True)
    asyncio.run(run.run(start, ended))
    lines = [json.loads(line) for data in writes for line in data.split(b"\r\n") if line]
    assert [m.get("stream") for m in lines[:4]] == ["Step 1/1 : FROM busybox", "\n", " ---> Using cache\n",
                                                    f" ---> {IMAGE[7:19]}\n"]
    assert lines[-1] == {"stream": "Successfully tagged app:1\n"}
    assert len(writes) == 2  # the step's lines, then the ending (aux, built, tagged)


def test_a_client_reading_slowly_holds_the_runs_output_back(api):
    # REVIEW12 #9: the output was queued without bound (ketchd's memory grew with it)
    import socket
    api.builds.script = "flood"
    body = tar_of(DOCKERFILE)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(api.base.rsplit(":", 1)[1])))
    try:
        sock.sendall(b"POST /build HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-tar\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(1.5)  # never read: only the socket buffers and the backlog are filled
        assert 0 < api.builds.flooded < 32 << 20
    finally:
        sock.close()


def test_a_remote_context_fetch_stops_when_the_client_goes(api):
    # REVIEW12 #6: the remote= phase was outside the disconnect watch, its thread never stopped
    from tests.unit.test_build_netpool import Silent
    server = Silent()
    try:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(api.base + "/build", params={"remote": server.url + "/ctx.tar"}, timeout=1)
        assert server.accepted.is_set()
        assert server.closed.wait(5)  # ketchd's connection to it was shut down
    finally:
        server.close()
