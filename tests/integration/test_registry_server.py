"""ketch's registry server as a process (`ketch registry serve` on a free loopback port,
stopped by pid) against real clients: skopeo copying in and out, httpx for chunked and
cross-repository uploads, htpasswd and token auth, TLS, gc, distribution's own storage."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import time

import bcrypt
import httpx
import pytest
from urllib.parse import urlsplit

from tests.integration.conftest import PYTHON, REPO
from tests.registry_helpers import TokenIssuer, oci_layout, pem, tls_files

SKOPEO = shutil.which("skopeo")
needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")


def ketch(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                           "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO, *args],
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


class Registry:
    """`ketch registry serve` through the CLI, on port 0; the port from its first log line."""

    def __init__(self, storage: str, *args: str) -> None:
        self.storage = storage
        self.proc = subprocess.Popen(
            [PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
             "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO,
             "registry", "serve", "--addr", "127.0.0.1:0", "--storage", storage, *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        if "listening on" not in line:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"registry did not start: {line}{self.proc.stderr.read()}")
        self.url = line.split("listening on ")[1].split()[0]
        self.host = self.url.split("://")[1]
        self.log: list[str] = []

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.proc.stderr.closed:  # stopped already
            return self.proc.returncode
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)
        try:
            code = self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.log = self.proc.stderr.read().splitlines()
        self.proc.stderr.close()
        return code


@pytest.fixture
def serve(tmp_path):
    started: list[Registry] = []

    def start(*args: str, storage: str | None = None) -> Registry:
        started.append(Registry(storage or str(tmp_path / f"storage{len(started)}"), *args))
        return started[-1]
    yield start
    for registry in started:
        registry.stop()


def skopeo(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run([SKOPEO, "--insecure-policy", *args], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    if check and res.returncode != 0:
        raise AssertionError(f"skopeo {args} exited {res.returncode}: {res.stderr}")
    return res


@needs_skopeo
def test_skopeo_copies_in_and_out(serve, tmp_path):
    digest = oci_layout(tmp_path / "layout", "1")
    registry = serve()
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/layout:1", f"docker://{registry.host}/x:1")
    inspect = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/x:1").stdout)
    assert (inspect["Digest"], inspect["RepoTags"], inspect["Os"]) == (digest, ["1"], "linux")
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/x@{digest}").stdout)
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/x:1", f"oci:{tmp_path}/out:1")
    index = json.loads((tmp_path / "out" / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    # a docker-archive goes in as Docker's schema 2
    skopeo("copy", f"oci:{tmp_path}/layout:1", f"docker-archive:{tmp_path}/image.tar:team/app:2")
    skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{tmp_path}/image.tar",
           f"docker://{registry.host}/team/app:2")
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/team/app:2").stdout)
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/team/app").stdout)
    assert tags["Tags"] == ["2"]
    assert httpx.get(f"{registry.url}/v2/_catalog").json() == {"repositories": ["team/app", "x"]}
    assert registry.stop() == 0
    assert any('"PUT /v2/x/manifests/1 HTTP/1.1" 201' in line for line in registry.log)


def test_chunked_and_mounted_uploads_over_http(serve):
    registry = serve()
    data = os.urandom(300_000)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=registry.url, timeout=10) as client:
        start = client.post("/v2/src/blobs/uploads/")
        location = start.headers["Location"]
        offset = 0
        for size in (100_000, 150_000, 50_000):
            r = client.patch(location, content=data[offset:offset + size],
                             headers={"Content-Range": f"{offset}-{offset + size - 1}",
                                      "Content-Type": "application/octet-stream"})
            assert (r.status_code, r.headers["Range"]) == (202, f"0-{offset + size - 1}")
            location = r.headers["Location"]
            offset += size
        done = client.put(location, params={"digest": digest})
        assert (done.status_code, done.headers["Docker-Content-Digest"]) == (201, digest)
        mount = client.post("/v2/dst/blobs/uploads/", params={"mount": digest, "from": "src"})
        assert mount.status_code == 201
        assert client.get(f"/v2/dst/blobs/{digest}", headers={"Range": "bytes=299990-"}).content == data[-10:]
    # what was written is in distribution's layout, whole
    blob = os.path.join(registry.storage, "docker/registry/v2/blobs/sha256", digest[7:9], digest[7:], "data")
    with open(blob, "rb") as f:
        assert f.read() == data
    assert os.listdir(os.path.join(registry.storage, "docker/registry/v2/repositories/src/_uploads")) == []


@needs_skopeo
def test_htpasswd_auth(serve, tmp_path):
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(5)).decode().replace("$2b$", "$2y$") + "\n")
    registry = serve("--htpasswd", str(htpasswd))
    r = httpx.get(f"{registry.url}/v2/")
    assert (r.status_code, r.headers["WWW-Authenticate"]) == (401, 'Basic realm="Registry Realm"')
    assert r.json() == {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": None}]}
    r = httpx.get(f"{registry.url}/v2/x/tags/list")
    assert r.json()["errors"][0]["detail"] == [{"Type": "repository", "Class": "", "Name": "x", "Action": "pull"}]
    assert httpx.get(f"{registry.url}/v2/", auth=("alice", "s3cret")).status_code == 200
    assert httpx.get(f"{registry.url}/v2/", auth=("alice", "wrong")).status_code == 401
    oci_layout(tmp_path / "layout")
    denied = skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/layout:1",
                    f"docker://{registry.host}/x:1", check=False)
    assert denied.returncode != 0 and "authentication required" in denied.stderr
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret", f"oci:{tmp_path}/layout:1",
           f"docker://{registry.host}/x:1")
    assert registry.stop() == 0
    assert any("alice" in line and "PUT /v2/x/manifests/1" in line for line in registry.log)


@needs_skopeo
def test_token_auth(serve, tmp_path):
    issuer = TokenIssuer("test-issuer", "ketch-registry", {"alice": "s3cret"})
    try:
        key = tmp_path / "token.pem"
        key.write_bytes(pem(issuer.cert))
        registry = serve("--token-realm", issuer.realm, "--token-service", "ketch-registry",
                         "--token-issuer", "test-issuer", "--token-key", str(key))
        r = httpx.post(f"{registry.url}/v2/team/app/blobs/uploads/")
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"] == (f'Bearer realm="{issuer.realm}",service="ketch-registry",'
                                                 'scope="repository:team/app:pull,push"')
        oci_layout(tmp_path / "layout")
        anonymous = skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/layout:1",
                           f"docker://{registry.host}/team/app:1", check=False)
        assert anonymous.returncode != 0  # the issuer grants anonymous pulls only
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", "alice:s3cret", f"oci:{tmp_path}/layout:1",
               f"docker://{registry.host}/team/app:1")
        inspect = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/team/app:1").stdout)
        assert inspect["RepoTags"] == ["1"]
        assert {"user": "alice", "scope": ["repository:team/app:pull,push"], "service": "ketch-registry"} \
            in issuer.requests
    finally:
        issuer.close()


@needs_skopeo
def test_tls(serve, tmp_path):
    cert, key = tls_files(tmp_path)
    registry = serve("--tls-cert", cert, "--tls-key", key)
    assert registry.url.startswith("https://")
    r = httpx.get(f"{registry.url}/v2/", verify=ssl.create_default_context(cafile=cert))
    assert (r.status_code, r.headers["Docker-Distribution-API-Version"]) == (200, "registry/2.0")
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(cert, certs / "ca.crt")
    oci_layout(tmp_path / "layout")
    skopeo("copy", "--dest-cert-dir", str(certs), f"oci:{tmp_path}/layout:1", f"docker://{registry.host}/x:1")
    start = httpx.post(f"{registry.url}/v2/x/blobs/uploads/", verify=ssl.create_default_context(cafile=cert))
    assert start.headers["Location"].startswith(f"https://{registry.host}/v2/x/blobs/uploads/")
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://{registry.host}/v2/", timeout=5)


@needs_skopeo
def test_gc_and_config_file(serve, tmp_path):
    storage = tmp_path / "storage"
    config = tmp_path / "registry.yaml"
    config.write_text(f"version: 0.1\nhttp:\n  addr: 127.0.0.1:0\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {storage}\n  delete:\n    enabled: true\n")
    oci_layout(tmp_path / "one", payload=b"one\n")
    oci_layout(tmp_path / "two", payload=b"two\n")
    registry = serve("--config", str(config), storage=str(storage))
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/one:1", f"docker://{registry.host}/x:1")
    skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/two:1", f"docker://{registry.host}/x:2")
    digest = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/x:2").stdout)["Digest"]
    assert httpx.delete(f"{registry.url}/v2/x/manifests/{digest}").status_code == 202
    assert registry.stop(signal.SIGINT) == 0
    dry = ketch("registry", "gc", "--config", str(config), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "3 blobs marked, 3 blobs and 0 manifests eligible for deletion" in dry.stdout
    assert "Deleting blob" not in dry.stdout
    blobs = os.path.join(storage, "docker/registry/v2/blobs/sha256")
    count = sum(len(os.listdir(os.path.join(blobs, p))) for p in os.listdir(blobs))
    assert count == 6  # two configs, two layers, two manifests
    done = ketch("registry", "gc", "--storage", str(storage))
    assert done.returncode == 0 and done.stdout.count("Deleting blob: ") == 3, done.stdout
    assert sum(len(os.listdir(os.path.join(blobs, p))) for p in os.listdir(blobs)) == 3  # x:1 whole
    registry = serve(storage=str(storage))
    skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/x:1")


def test_bad_flags_and_help():
    res = ketch("registry", "serve", "--tls-cert", "/nonexistent")
    assert (res.returncode, res.stderr.strip()) == (1, "ketch registry: --tls-cert and --tls-key go together")
    assert ketch("registry", "serve", "--help").stdout.startswith("usage: ketch registry serve")
    assert ketch("registry", "nope").returncode == 1


@needs_skopeo
@pytest.mark.skipif(not os.path.exists("/usr/bin/docker-registry"), reason="docker-registry is not installed")
def test_serves_what_docker_registry_stored(serve, tmp_path):
    """distribution's on-disk layout is ketch's: a directory docker-registry filled is served."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    storage = tmp_path / "shared"
    config = tmp_path / "distribution.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "docker-registry did not start"
                time.sleep(0.05)
        digest = oci_layout(tmp_path / "layout")
        skopeo("copy", "--dest-tls-verify=false", f"oci:{tmp_path}/layout:1", f"docker://127.0.0.1:{port}/d:1")
    finally:
        proc.terminate()
        proc.wait(10)
    registry = serve(storage=str(storage))
    inspect = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/d:1").stdout)
    assert inspect["Digest"] == digest
    skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/d:1", f"oci:{tmp_path}/back:1")


def _start_docker_registry(tmp_path, storage) -> tuple[subprocess.Popen, int]:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "distribution.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
                      f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen(["/usr/bin/docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return proc, port
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                proc.terminate()
                proc.wait(10)
                raise AssertionError("docker-registry did not start")
            time.sleep(0.05)


def _conversation(base: str) -> list[tuple]:
    """The same requests to a registry, what each answer was: status, error codes, and the
    headers clients read (Locations as paths, upload ids and digests as their shape)."""
    data = b"hello blob"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    zero = "sha256:" + "0" * 64
    oci = "application/vnd.oci.image.manifest.v1+json"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": oci, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest, "size": len(data)},
        "layers": []}).encode()
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    out = []
    client = httpx.Client(base_url=base, timeout=10)

    def record(label, r):
        try:
            codes = [e["code"] for e in r.json().get("errors", [])]
        except ValueError:
            codes = []
        headers = {}
        for name in ("range", "content-type", "content-length", "docker-content-digest", "link",
                     "content-range", "etag", "accept-ranges", "docker-distribution-api-version"):
            if name in r.headers:
                headers[name] = r.headers[name]
        if "location" in r.headers:
            headers["location"] = urlsplit(r.headers["location"]).path.replace(r.headers.get("docker-upload-uuid", "?"), "UUID")
        headers["uuid"] = "docker-upload-uuid" in r.headers
        if codes:  # the details, and so the lengths, are ketch's own
            headers.pop("content-length", None)
        out.append((label, r.status_code, codes, headers))
        return r

    def url(location: str, **query) -> str:
        return location + ("&" if "?" in location else "?") + "&".join(f"{k}={v}" for k, v in query.items())

    with client:
        record("ping", client.get("/v2/"))
        record("blob unknown", client.head(f"/v2/a/blobs/{digest}"))
        record("blob unknown body", client.get(f"/v2/a/blobs/{digest}"))
        record("bad digest", client.get("/v2/a/blobs/sha256:abc"))
        location = record("start", client.post("/v2/a/blobs/uploads/")).headers["location"]
        location = record("patch", client.patch(location, content=data[:5],
                                                headers={"Content-Range": "0-4"})).headers["location"]
        record("status", client.get(location))
        record("finish", client.put(url(location, digest=digest), content=data[5:]))
        record("head", client.head(f"/v2/a/blobs/{digest}"))
        record("get", client.get(f"/v2/a/blobs/{digest}"))
        record("range", client.get(f"/v2/a/blobs/{digest}", headers={"Range": "bytes=2-4"}))
        record("mount", client.post(f"/v2/b/blobs/uploads/?mount={digest}&from=a"))
        record("mount from nowhere", client.post(f"/v2/c/blobs/uploads/?mount={zero}&from=a"))
        location = client.post("/v2/a/blobs/uploads/").headers["location"]
        record("finish, wrong digest", client.put(url(location, digest=zero), content=b"other"))
        record("manifest, wrong digest", client.put(f"/v2/a/manifests/{zero}", content=manifest,
                                                    headers={"Content-Type": oci}))
        record("manifest, blob unknown", client.put("/v2/c/manifests/t", content=manifest,
                                                    headers={"Content-Type": oci}))
        record("manifest, ambiguous", client.put("/v2/a/manifests/t", content=json.dumps(
            {**json.loads(manifest), "manifests": []}).encode(), headers={"Content-Type": oci}))
        record("manifest, types disagree", client.put("/v2/a/manifests/t", content=manifest,
                                                      headers={"Content-Type": "application/vnd.oci.image.index.v1+json"}))
        record("manifest", client.put("/v2/a/manifests/t", content=manifest, headers={"Content-Type": oci}))
        record("manifest get", client.get("/v2/a/manifests/t", headers={"Accept": oci}))
        record("manifest head", client.head(f"/v2/a/manifests/{manifest_digest}", headers={"Accept": oci}))
        record("manifest unknown", client.get("/v2/a/manifests/nope", headers={"Accept": oci}))
        record("tags", client.get("/v2/a/tags/list"))
        record("tags unknown", client.get("/v2/zz/tags/list"))
        record("catalog", client.get("/v2/_catalog"))
        record("catalog page", client.get("/v2/_catalog?n=1"))
        record("bad name", client.get("/v2/A/tags/list"))
        record("delete blob", client.delete(f"/v2/b/blobs/{digest}"))
        record("delete blob again", client.delete(f"/v2/b/blobs/{digest}"))
        record("delete manifest", client.delete(f"/v2/a/manifests/{manifest_digest}"))
        record("delete manifest again", client.delete(f"/v2/a/manifests/{manifest_digest}"))
        record("not a route", client.get("/v2/a/nothing"))
    return out


@pytest.mark.skipif(not os.path.exists("/usr/bin/docker-registry"), reason="docker-registry is not installed")
def test_answers_as_docker_registry_does(serve, tmp_path):
    """The same conversation with distribution 2.8 and with ketch: the same statuses, error
    codes and headers (the details of errors are ketch's own; see the README)."""
    proc, port = _start_docker_registry(tmp_path, tmp_path / "distribution")
    try:
        theirs = _conversation(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(10)
    registry = serve()
    ours = _conversation(registry.url)
    assert [(mine, dist) for mine, dist in zip(ours, theirs) if mine != dist] == []
