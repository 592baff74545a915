"""pull, push, login/logout and run --pull against Debian's docker-registry (distribution
2.8), through ketch's CLI, the docker CLI and the docker SDK. Loopback only."""

import base64
import json
import os
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from tests.integration.conftest import wait_until
from tests.integration.leftovers import reap
from tests.integration.registries import DockerRegistry


class LoggedRegistry(DockerRegistry):
    """A docker-registry whose access log says which blobs were fetched."""

    def _config(self) -> str:
        path = super()._config()
        with open(path) as f:
            text = f.read().replace("    disabled: true", "    disabled: false")
        with open(path, "w") as f:
            f.write(text)
        return path

    def blob_gets(self, digest: str) -> int:
        return sum(1 for line in self.logs().splitlines()
                   if '"GET /v2/' in line and f"/blobs/{digest} " in line and '" 200 ' in line)


@pytest.fixture(scope="module")
def registry():
    with LoggedRegistry() as reg:
        yield reg


def ok(res) -> str:
    assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def random_image(d, tmp_path, ref: str, size: int = 3_000_000, files: int = 2) -> str:
    """Import a tarball of random files as ``ref``; its id."""
    root = tmp_path / f"rootfs-{ref.replace('/', '_').replace(':', '_')}"
    root.mkdir()
    for i in range(files):
        (root / f"f{i}").write_bytes(os.urandom(size // files))
    tar = tmp_path / f"{root.name}.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    return ok(d.ketch("import", str(tar), ref)).strip()


def image_ids(d) -> list[str]:
    return sorted(ok(d.ketch("images", "-a", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")).split("\n"))


def layer_dirs(d) -> list[str]:
    snapshots = os.path.join(d.data_root, "snapshots")
    return sorted(os.listdir(snapshots)) if os.path.isdir(snapshots) else []


def _released(diff_ids: list[str]) -> str:
    """rmi's lines for the layers an image alone had, top-most first (as dockerd prints)."""
    from ketch.oci import digest as dg
    return "".join(f"Deleted: {chain}\n" for chain in reversed(dg.chain_ids(diff_ids)))


def test_push_rmi_pull_run(fresh_daemon, registry):
    """busybox pushed, every local copy removed, pulled back (its layer downloaded for
    real) and run; the progress lines and the final lines are Docker's."""
    d = fresh_daemon
    ref = f"{registry.host}/tools/busybox:1.0"
    ok(d.ketch("tag", "busybox", ref))
    out = ok(d.ketch("push", ref))
    lines = out.splitlines()
    assert lines[0] == f"The push refers to repository [{ref.rsplit(':', 1)[0]}]"
    assert lines[-1].startswith("1.0: digest: sha256:") and " size: " in lines[-1]
    assert any(line.endswith(": Pushed") for line in lines)
    digest = lines[-1].split()[2]
    ok(d.ketch("rmi", ref))
    ok(d.ketch("rmi", "busybox"))
    assert layer_dirs(d) == []  # nothing left to reuse: the pull downloads
    res = d.ketch("run", "--rm", ref, "echo", "pulled and ran")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "pulled and ran\n"
    assert f"Unable to find image '{ref}' locally" in res.stderr
    assert f"Digest: {digest}" in res.stderr
    assert f"Status: Downloaded newer image for {ref}" in res.stderr
    out = ok(d.ketch("pull", ref))
    assert out.splitlines()[-2:] == [f"Status: Image is up to date for {ref}", ref]
    doc = json.loads(ok(d.ketch("image", "inspect", ref)))[0]
    assert doc["RepoDigests"] == [f"{ref.rsplit(':', 1)[0]}@{digest}"]
    assert doc["RepoTags"] == [ref]
    # the last tag of a repository takes its digest reference along, as moby's rmi does
    assert ok(d.ketch("rmi", ref)) == (f"Untagged: {ref}\nUntagged: {ref.rsplit(':', 1)[0]}@{digest}\n"
                                       f"Deleted: {doc['Id']}\n" + _released(doc["RootFS"]["Layers"]))


def test_pull_by_digest_and_all_tags(daemon, registry, tmp_path):
    d = daemon
    repo = f"{registry.host}/h5/alltags"
    random_image(d, tmp_path, f"{repo}:a")
    random_image(d, tmp_path, f"{repo}:b", files=3)
    digests = {}
    for tag in ("a", "b"):
        digests[tag] = ok(d.ketch("push", f"{repo}:{tag}")).splitlines()[-1].split()[2]
        ok(d.ketch("rmi", f"{repo}:{tag}"))
    by_digest = f"{repo}@{digests['a']}"
    out = ok(d.ketch("pull", by_digest))
    assert out.splitlines()[0] == f"{digests['a']}: Pulling from h5/alltags"
    assert out.splitlines()[-1] == by_digest
    rows = ok(d.ketch("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}", repo))
    assert rows == f"{repo} <none> {digests['a']}\n"
    assert ok(d.ketch("inspect", "-f", "{{.RepoTags}}", by_digest)) == "[]\n"
    image_id = ok(d.ketch("inspect", "-f", "{{.Id}}", by_digest)).strip()
    diff_ids = json.loads(ok(d.ketch("inspect", "-f", "{{json .RootFS.Layers}}", by_digest)))
    assert ok(d.ketch("rmi", by_digest)) == f"Untagged: {by_digest}\nDeleted: {image_id}\n" + _released(diff_ids)
    out = ok(d.ketch("pull", "-a", repo))
    assert out.splitlines()[-1] == repo
    assert f"Status: Downloaded newer image for {repo}" in out
    rows = ok(d.ketch("images", "--format", "{{.Tag}}", repo)).split()
    assert sorted(rows) == ["a", "b"]
    res = d.ketch("pull", "-a", f"{repo}:a")
    assert res.returncode == 1 and res.stderr == "tag can't be used with --all-tags/-a\n"
    for tag in ("a", "b"):
        ok(d.ketch("rmi", f"{repo}:{tag}"))


def test_failed_pulls_change_nothing(daemon, registry):
    d = daemon
    before, dirs = image_ids(d), layer_dirs(d)
    res = d.ketch("pull", f"{registry.host}/h5/nosuch:nope")
    assert res.returncode == 1
    assert res.stderr == (f"Error response from daemon: manifest for {registry.host}/h5/nosuch:nope "
                          "not found: manifest unknown: manifest unknown\n")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = d.ketch("pull", f"127.0.0.1:{port}/x:1")
    assert res.returncode == 1
    assert f'"http://127.0.0.1:{port}/v2/"' in res.stderr and "connection refused" in res.stderr
    res = d.ketch("run", "--rm", f"127.0.0.1:{port}/x:1", "true")
    assert res.returncode == 125
    assert res.stderr.startswith(f"Unable to find image '127.0.0.1:{port}/x:1' locally\n")
    res = d.ketch("run", "--rm", "--pull", "never", f"{registry.host}/h5/nosuch:1", "true")
    assert res.returncode == 125 and "No such image" in res.stderr
    assert image_ids(d) == before and layer_dirs(d) == dirs


def test_docker_cli_and_sdk(daemon, registry, tmp_path):
    """The docker CLI pushes and pulls through ketchd (its own renderer reads our stream);
    the SDK's pull and push too."""
    d = daemon
    repo = f"{registry.host}/h5/viadocker"
    random_image(d, tmp_path, f"{repo}:1")
    env_config = tmp_path / "docker-config"
    env_config.mkdir()
    res = d._run(["docker", "--config", str(env_config), "push", f"{repo}:1"], None, 60, False)
    assert res.returncode == 0, res.stderr
    assert f"The push refers to repository [{repo}]" in res.stdout
    assert "1: digest: sha256:" in res.stdout
    ok(d.ketch("rmi", f"{repo}:1"))
    res = d._run(["docker", "--config", str(env_config), "pull", f"{repo}:1"], None, 60, False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == f"{repo}:1"
    ok(d.ketch("tag", "busybox", f"{repo}:sh"))
    ok(d.ketch("push", f"{repo}:sh"))
    ok(d.ketch("rmi", f"{repo}:sh"))
    res = d._run(["docker", "--config", str(env_config), "run", "--rm", f"{repo}:sh", "echo", "via docker"],
                 None, 60, False)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "via docker\n"
    assert f"Unable to find image '{repo}:sh' locally" in res.stderr
    ok(d.ketch("rmi", f"{repo}:sh"))
    res = d._run(["docker", "--config", str(env_config), "pull", f"{repo}:nope"], None, 60, False)
    assert res.returncode == 1
    assert "manifest for" in res.stderr and "manifest unknown" in res.stderr
    client = d.sdk()
    try:
        image = client.images.get(f"{repo}:1")
        image.tag(repo, "2")
        lines = list(client.images.push(repo, "2", stream=True, decode=True))
        assert lines[-1]["aux"]["Tag"] == "2"
        client.images.remove(f"{repo}:2")
        client.images.remove(f"{repo}:1")
        pulled = client.images.pull(repo, tag="2")
        assert f"{repo}:2" in pulled.tags
        client.images.remove(f"{repo}:2")
    finally:
        client.close()


HELPER = """#!/bin/sh
# docker-credential-test: keeps credentials in {store}, one JSON file per server
store={store}
read -r line_or_empty || true
case "$1" in
store) printf '%s' "$line_or_empty" > "$store/$(printf '%s' "$line_or_empty" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/' | tr ':/' '__')" ;;
get) f="$store/$(printf '%s' "$line_or_empty" | tr ':/' '__')"
     if [ -f "$f" ]; then sed 's/"ServerURL":"[^"]*",//' "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) rm -f "$store/$(printf '%s' "$line_or_empty" | tr ':/' '__')" ;;
esac
"""


def test_login_logout_with_htpasswd(daemon, tmp_path):
    d = daemon
    with DockerRegistry(htpasswd={"alice": "s3cret"}) as reg:
        cfg = tmp_path / "cfg"
        env = dict(d.env(), KETCH_CONFIG=str(cfg))

        def ketch(*args, input=None):
            return _run_env(d._ketch_cmd(args), input, env)
        ref = f"{reg.host}/private/bb:1"
        ok(d.ketch("tag", "busybox", ref))
        res = ketch("push", ref)
        assert res.returncode == 1 and "no basic auth credentials" in res.stderr
        res = ketch("login", "-u", "alice", "-p", "wrong", reg.host)
        assert res.returncode == 1
        assert res.stderr.startswith("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n")
        assert f"login attempt to http://{reg.host}/v2/ failed with status: 401 Unauthorized" in res.stderr
        res = ketch("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n")
        assert res.returncode == 0, res.stderr
        assert res.stdout == "Login Succeeded\n"
        assert f"WARNING! Your credentials are stored unencrypted in '{cfg}/config.json'." in res.stderr
        path = cfg / "config.json"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        doc = json.loads(path.read_text())
        assert doc["auths"][reg.host] == {"auth": base64.b64encode(b"alice:s3cret").decode()}
        ok(ketch("push", ref))
        ok(d.ketch("rmi", ref))
        ok(ketch("pull", ref))
        # the docker CLI's login goes through ketchd's POST /auth too
        dcfg = tmp_path / "docker-cfg"
        res = _run_env(["docker", "--config", str(dcfg), "login", "-u", "alice", "--password-stdin",
                        reg.host], "s3cret", env)
        assert res.returncode == 0 and res.stdout.endswith("Login Succeeded\n"), res.stderr
        res = _run_env(["docker", "--config", str(dcfg), "login", "-u", "alice", "--password-stdin",
                        reg.host], "wrong", env)
        assert res.returncode == 1
        assert f"login attempt to http://{reg.host}/v2/ failed with status: 401 Unauthorized" in res.stderr
        res = ketch("logout", reg.host)
        assert res.returncode == 0 and res.stdout == f"Removing login credentials for {reg.host}\n"
        assert json.loads(path.read_text())["auths"] == {}
        res = ketch("logout", reg.host)
        assert res.stdout == f"Not logged in to {reg.host}\n"
        res = ketch("pull", ref)
        assert res.returncode == 1 and "no basic auth credentials" in res.stderr

        # a credential helper on PATH: credsStore sends the secret there, not to the file
        store = tmp_path / "helper-store"
        store.mkdir()
        bindir = tmp_path / "bin"
        bindir.mkdir()
        helper = bindir / "docker-credential-test"
        helper.write_text(HELPER.format(store=store))
        helper.chmod(0o755)
        path.write_text(json.dumps({"credsStore": "test"}))
        env["PATH"] = f"{bindir}:{env['PATH']}"
        res = ketch("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret")
        assert res.returncode == 0, res.stderr
        assert "unencrypted" not in res.stderr
        assert json.loads(path.read_text())["auths"] == {reg.host: {}}
        kept = json.loads((store / reg.host.replace(":", "_")).read_text())
        assert kept == {"ServerURL": reg.host, "Username": "alice", "Secret": "s3cret"}
        ok(d.ketch("rmi", ref))
        ok(ketch("pull", ref))
        ok(ketch("logout", reg.host))
        assert os.listdir(store) == []
        ok(d.ketch("rmi", ref))


def _run_env(cmd, input, env):
    raw = subprocess.run(cmd, input=input.encode() if isinstance(input, str) else input,
                         capture_output=True, timeout=60, env=env,
                         stdin=None if input is not None else subprocess.DEVNULL)
    return subprocess.CompletedProcess(cmd, raw.returncode, raw.stdout.decode(errors="replace"),
                                       raw.stderr.decode(errors="replace"))


def test_concurrent_pulls_download_each_blob_once(daemon, registry, tmp_path):
    d = daemon
    repo = f"{registry.host}/h5/concurrent"
    random_image(d, tmp_path, f"{repo}:1", size=8_000_000)
    ok(d.ketch("push", f"{repo}:1"))
    doc = json.loads(ok(d.ketch("image", "inspect", f"{repo}:1")))[0]
    ok(d.ketch("rmi", f"{repo}:1"))
    procs = [d.popen_ketch("pull", f"{repo}:1") for _ in range(3)]
    for p in procs:
        assert p.wait(60) == 0
    out = ok(d.ketch("images", "--no-trunc", "--format", "{{.ID}}", repo))
    assert out == f"{doc['Id']}\n"
    layer = doc["RepoDigests"][0].split("@")[1]  # (the manifest: fetched once per pull)
    manifest_doc = json.loads(subprocess.run(
        ["curl", "-s", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
         f"http://{registry.host}/v2/h5/concurrent/manifests/{layer}"],
        capture_output=True, check=True).stdout)
    blob = manifest_doc["layers"][0]["digest"]
    assert registry.blob_gets(blob) == 1
    ok(d.ketch("rmi", f"{repo}:1"))


class SlowProxy:
    """A TCP proxy to the registry that sends its answers at ``rate`` bytes a second."""

    def __init__(self, target: int, rate: int) -> None:
        self.target, self.rate = target, rate
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stopped:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, self.rate), daemon=True).start()

    def _pipe(self, src, dst, rate) -> None:
        try:
            while data := src.recv(16384):
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.stopped = True
        self.sock.close()


def test_kill9_mid_pull_then_pull_again(fresh_daemon, registry, tmp_path):
    """ketchd killed while a layer streams in: after a restart nothing half-made shows,
    and the same pull completes."""
    d = fresh_daemon
    try:
        repo_path = "h5/slow"
        random_image(d, tmp_path, f"{registry.host}/{repo_path}:1", size=12_000_000, files=3)
        ok(d.ketch("push", f"{registry.host}/{repo_path}:1"))
        ok(d.ketch("rmi", f"{registry.host}/{repo_path}:1"))
        before = image_ids(d)
        proxy = SlowProxy(registry.port, 2_000_000)
        try:
            slow = f"127.0.0.1:{proxy.port}/{repo_path}:1"
            pull = d.popen_ketch("pull", slow)
            ingest = os.path.join(d.data_root, "content", "ingest")
            assert wait_until(lambda: any(os.path.getsize(os.path.join(ingest, f)) > 1_000_000
                                          for f in os.listdir(ingest)), 30)
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
            d.proc = None
            pull.wait(30)
            assert pull.returncode != 0
        finally:
            proxy.close()
        d.start()
        assert image_ids(d) == before
        assert os.listdir(os.path.join(d.data_root, "content", "ingest")) == []
        out = ok(d.ketch("pull", f"{registry.host}/{repo_path}:1"))
        assert f"Status: Downloaded newer image for {registry.host}/{repo_path}:1" in out
        ok(d.ketch("rmi", f"{registry.host}/{repo_path}:1"))
    finally:
        reap(d)


def _put_image(repo, blobs) -> None:
    """Upload an ImageBlobs (config, layers, manifest) with ketch's registry client."""
    from tests.integration.registries import sha256
    for blob in blobs.blobs:
        if repo.blob_exists(sha256(blob)) is None:
            repo.upload_blob(sha256(blob), len(blob), blob)
    repo.put_manifest(blobs.digest, blobs.manifest, blobs.media_type)


def test_platforms_of_an_index(daemon, registry):
    from ketch.oci import reference
    from ketch.registry.client import remote
    from ketch.registry.client.transport import Session
    from tests.integration.registries import ImageBlobs, sha256
    d = daemon
    amd, arm = ImageBlobs.random(2, architecture="amd64"), ImageBlobs.random(1, architecture="arm64")
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
                        "manifests": [{"mediaType": b.media_type, "digest": b.digest, "size": len(b.manifest),
                                       "platform": {"os": "linux", "architecture": b.architecture}}
                                      for b in (amd, arm)]}).encode()
    with Session() as session:
        repo = remote.open_repository(session, reference.parse(f"{registry.host}/h5/multi"), push=True)
        for blobs in (amd, arm):
            _put_image(repo, blobs)
        repo.put_manifest("1", index, "application/vnd.docker.distribution.manifest.list.v2+json")
    ref = f"{registry.host}/h5/multi:1"
    out = ok(d.ketch("pull", ref))
    assert f"Digest: {sha256(index)}" in out  # the index's digest: what the tag names
    assert ok(d.ketch("inspect", "-f", "{{.Architecture}} {{.RepoDigests}}", ref)) == \
        f"amd64 [{registry.host}/h5/multi@{sha256(index)}]\n"
    ok(d.ketch("pull", "--platform", "linux/arm64", ref))
    assert ok(d.ketch("inspect", "-f", "{{.Architecture}}", ref)) == "arm64\n"
    res = d.ketch("pull", "--platform", "linux/s390x", ref)
    assert res.returncode == 1
    assert res.stderr == ("Error response from daemon: no matching manifest for linux/s390x "
                          "in the manifest list entries\n")
    ok(d.ketch("rmi", ref))
    for image in json.loads(ok(d.ketch("image", "inspect", f"{registry.host}/h5/multi@{sha256(index)}")) or "[]"):
        ok(d.ketch("rmi", image["Id"]))


def test_search_filters_and_table(daemon):
    """GET /images/search through the registry's v1 search endpoint, filtered by ketchd."""
    import http.server
    results = [{"name": "h5/app", "description": "an app\nwith a description longer than forty-five "
                "characters", "star_count": 12, "is_official": True, "is_automated": False},
               {"name": "h5/tool", "description": "a tool", "star_count": 2,
                "is_official": False, "is_automated": False}]
    asked = []

    class Index(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            asked.append(self.path)
            body = b"{}" if self.path == "/v2/" else json.dumps(
                {"num_results": 2, "query": "app", "results": results}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    try:
        out = ok(daemon.ketch("search", f"{host}/app"))
        assert out.splitlines() == [
            "NAME      DESCRIPTION                                     STARS     OFFICIAL",
            "h5/app    an app with a description longer than forty-…   12        [OK]",
            "h5/tool   a tool                                          2         "]
        assert "/v1/search?q=app&n=25" in asked
        out = ok(daemon.ketch("search", "--filter", "stars=5", "--format", "{{.Name}}:{{.StarCount}}",
                              f"{host}/app"))
        assert out == "h5/app:12\n"
        out = ok(daemon.ketch("search", "--filter", "is-official=false", "--no-trunc", "--limit", "3",
                              "--format", "{{.Name}} {{.Description}}", f"{host}/app"))
        assert out == "h5/tool a tool\n" and "/v1/search?q=app&n=3" in asked
        res = daemon.ketch("search", "--filter", "stars=many", f"{host}/app")
        assert res.returncode == 1 and res.stderr == "Error response from daemon: invalid filter 'stars=many'\n"
        res = daemon.ketch("search", "--limit", "101", f"{host}/app")
        assert res.stderr == "Error response from daemon: limit 101 is outside the range of [1, 100]\n"
    finally:
        server.shutdown()
        server.server_close()


def test_daemon_json_mirror_and_download_limit(fresh_daemon, registry, tmp_path):
    """registry-mirrors: a Docker Hub name is pulled from the mirror; max-concurrent-downloads
    1: the other layers wait."""
    from ketch.oci import reference
    from ketch.registry.client import remote
    from ketch.registry.client.transport import Session
    from tests.integration.registries import ImageBlobs
    d = fresh_daemon
    blobs = ImageBlobs.random(3, size=200_000)
    with Session() as session:
        repo = remote.open_repository(session, reference.parse(f"{registry.host}/library/h5mirrored"),
                                      push=True)
        _put_image(repo, blobs)
        repo.put_manifest("1", blobs.manifest, blobs.media_type)
    d.write_config(**{"registry-mirrors": [f"http://{registry.host}"], "max-concurrent-downloads": 1})
    d.restart()
    out = ok(d.ketch("pull", "h5mirrored:1"))
    assert out.splitlines()[0] == "1: Pulling from library/h5mirrored"
    assert sum(line.endswith(": Waiting") for line in out.splitlines()) == 2
    assert out.splitlines()[-2:] == ["Status: Downloaded newer image for h5mirrored:1",
                                     "docker.io/library/h5mirrored:1"]
    assert ok(d.ketch("images", "--format", "{{.Repository}}:{{.Tag}}", "h5mirrored")) == "h5mirrored:1\n"


def test_token_login_keeps_the_identity_token(daemon, tmp_path):
    from tests.integration.registries import TokenServer
    d = daemon
    with TokenServer(users={"alice": "s3cret"}) as ts, DockerRegistry(token=ts) as reg:
        env = dict(d.env(), KETCH_CONFIG=str(tmp_path / "cfg"))
        res = _run_env(d._ketch_cmd(["pull", f"{reg.host}/team/bb:1"]), None, env)  # anonymous
        assert res.returncode == 1
        assert res.stderr.startswith(f"Error response from daemon: pull access denied for {reg.host}/team/bb, "
                                     "repository does not exist or may require 'docker login': "), res.stderr
        res = _run_env(d._ketch_cmd(["login", "-u", "alice", "--password-stdin", reg.host]), "s3cret", env)
        assert res.returncode == 0, res.stderr
        entry = json.loads((tmp_path / "cfg" / "config.json").read_text())["auths"][reg.host]
        assert entry["auth"] == base64.b64encode(b"alice:").decode()  # the password is not kept
        assert entry["identitytoken"] in ts.refresh_tokens
        ref = f"{reg.host}/team/bb:1"
        ok(d.ketch("tag", "busybox", ref))
        res = _run_env(d._ketch_cmd(["push", ref]), None, env)
        assert res.returncode == 0, res.stderr
        assert any(r.method == "POST" and r.user == "alice" for r in ts.requests)  # refresh_token grant
        ok(d.ketch("rmi", ref))


def test_terminal_progress_and_quiet(daemon, registry, tmp_path):
    """On a terminal each layer's line is rewritten in place (cursor up, clear line); -q
    prints the reference alone."""
    import pty
    d = daemon
    ref = f"{registry.host}/h5/tty:1"
    random_image(d, tmp_path, ref, size=2_000_000)
    ok(d.ketch("push", ref))
    ok(d.ketch("rmi", ref))
    pid, fd = pty.fork()
    if pid == 0:  # a 150-column terminal: wide enough for the bars
        import fcntl
        import struct
        import termios
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
        os.execve(d._ketch_cmd(["pull", ref])[0], d._ketch_cmd(["pull", ref]), d.env())
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    text = out.decode()
    assert "\x1b[1A\x1b[2K\r" in text and "Downloading [" in text and "Pull complete" in text
    ok(d.ketch("rmi", ref))
    res = d.ketch("pull", "-q", ref)
    assert res.returncode == 0 and res.stdout == f"{ref}\n"
    res = d.ketch("push", "-q", ref)
    assert res.returncode == 0 and res.stdout == f"{ref}\n"
    res = d.ketch("run", "--rm", "--pull", "always", "-q", ref, "true")
    assert "Pulling" not in res.stderr
    ok(d.ketch("rmi", ref))


def test_a_corrupt_blob_fails_the_stream_and_keeps_nothing(daemon, registry, tmp_path):
    """An error after the progress began is the stream's last message: printed as is (no
    "Error response from daemon"), exit 1, and no image, tag or layer is left."""
    d = daemon
    ref = f"{registry.host}/h5/corrupt:1"
    random_image(d, tmp_path, ref, size=500_000, files=1)
    ok(d.ketch("push", ref))
    doc = json.loads(ok(d.ketch("image", "inspect", ref)))[0]
    ok(d.ketch("rmi", ref))
    manifest = json.loads(subprocess.run(
        ["curl", "-s", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
         f"http://{registry.host}/v2/h5/corrupt/manifests/1"], capture_output=True, check=True).stdout)
    blob = manifest["layers"][0]["digest"]
    hexpart = blob.split(":")[1]
    data = os.path.join(registry.directory, "data", "docker", "registry", "v2", "blobs", "sha256",
                        hexpart[:2], hexpart, "data")
    with open(data, "r+b") as f:  # same size, other bytes
        f.seek(1000)
        f.write(b"\0" * 64)
    before, dirs = image_ids(d), layer_dirs(d)
    res = d.ketch("pull", ref)
    assert res.returncode == 1
    assert res.stderr == f"filesystem layer verification failed for digest {blob}\n"
    assert "Pulling fs layer" in res.stdout
    assert image_ids(d) == before and layer_dirs(d) == dirs
    assert doc["Id"] not in ok(d.ketch("images", "-a", "-q", "--no-trunc"))


def test_push_all_tags_sends_only_what_is_missing_and_mounts(daemon, registry, tmp_path):
    d = daemon
    repo = f"{registry.host}/h5/pusha"
    random_image(d, tmp_path, f"{repo}:x", size=400_000, files=1)
    ok(d.ketch("tag", f"{repo}:x", f"{repo}:y"))
    out = ok(d.ketch("push", "-a", repo))
    lines = out.splitlines()
    assert lines[0] == f"The push refers to repository [{repo}]"
    assert [line.split(":")[0] for line in lines if ": digest: " in line] == ["x", "y"]
    assert sum(line.endswith(": Pushed") for line in lines) == 1  # the second tag's layer is there
    assert sum(line.endswith(": Layer already exists") for line in lines) == 1
    res = d.ketch("push", "-a", f"{repo}:x")
    assert res.returncode == 1 and res.stderr == "tag can't be used with --all-tags/-a\n"
    res = d.ketch("push", f"{repo}:nope")  # an error in the stream, after moby's first line
    assert res.returncode == 1
    assert res.stdout == f"The push refers to repository [{repo}]\n"
    assert res.stderr == f"tag does not exist: {repo}:nope\n"
    res = d.ketch("push", f"{registry.host}/h5/nothing:1")
    assert res.stderr == f"An image does not exist locally with the tag: {registry.host}/h5/nothing\n"
    # the same image into another repository of the registry: its blob is mounted, not sent
    ok(d.ketch("tag", f"{repo}:x", f"{registry.host}/h5/elsewhere:1"))
    out = ok(d.ketch("push", f"{registry.host}/h5/elsewhere:1"))
    assert any(line.endswith(": Mounted from h5/pusha") for line in out.splitlines()), out
    doc = json.loads(ok(d.ketch("image", "inspect", f"{repo}:x")))[0]
    assert sorted(r.split("@")[0] for r in doc["RepoDigests"]) == [f"{registry.host}/h5/elsewhere", repo]
    for ref in (f"{repo}:x", f"{repo}:y", f"{registry.host}/h5/elsewhere:1"):
        ok(d.ketch("rmi", ref))


def test_create_pulls_what_is_missing(daemon, registry):
    d = daemon
    ref = f"{registry.host}/h5/forcreate:1"
    ok(d.ketch("tag", "busybox", ref))
    ok(d.ketch("push", ref))
    ok(d.ketch("rmi", ref))
    res = d.ketch("create", ref, "true")
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith(f"Unable to find image '{ref}' locally\n")
    cid = res.stdout.strip()
    ok(d.ketch("rm", cid))
    res = d.ketch("create", "--pull", "never", f"{registry.host}/h5/forcreate:2", "true")
    assert res.returncode == 1 and res.stderr == f"Error response from daemon: No such image: {registry.host}/h5/forcreate:2\n"
    ok(d.ketch("rmi", ref))


def test_push_of_a_layer_kept_under_another_compression(daemon, registry, tmp_path):
    """A pulled image whose layer was already here (imported, so gzip'd by ketch) names a
    blob ketch never stored: pushed elsewhere, the layer goes as the blob ketch has."""
    import gzip
    import hashlib
    from ketch.oci import reference
    from ketch.registry.client import remote
    from ketch.registry.client.transport import Session
    d = daemon
    root = tmp_path / "rootfs"
    root.mkdir()
    (root / "data").write_bytes(os.urandom(300_000))
    tar = tmp_path / "layer.tar"
    subprocess.run(["tar", "-C", str(root), "-cf", str(tar), "."], check=True)
    raw = tar.read_bytes()
    ok(d.ketch("import", str(tar), "h5-local:1"))  # the layer is here, compressed by ketch
    blob = gzip.compress(raw, 1)  # the registry's copy: another compression of the same tar

    def digest(b: bytes) -> str:
        return "sha256:" + hashlib.sha256(b).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [digest(raw)]}}).encode()
    media = "application/vnd.docker.distribution.manifest.v2+json"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": media,
                           "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                                      "digest": digest(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                                       "digest": digest(blob), "size": len(blob)}]}).encode()
    with Session() as session:
        repo = remote.open_repository(session, reference.parse(f"{registry.host}/h5/othergzip"), push=True)
        for b in (blob, config):
            repo.upload_blob(digest(b), len(b), b)
        repo.put_manifest("1", manifest, media)
    out = ok(d.ketch("pull", f"{registry.host}/h5/othergzip:1"))
    assert ": Already exists" in out
    with DockerRegistry() as other:
        target = f"{other.host}/h5/copy:1"
        ok(d.ketch("tag", f"{registry.host}/h5/othergzip:1", target))
        out = ok(d.ketch("push", target))
        assert any(line.endswith(": Pushed") for line in out.splitlines())
        ok(d.ketch("rmi", target))
        ok(d.ketch("pull", target))
        ok(d.ketch("rmi", target))
    ok(d.ketch("rmi", f"{registry.host}/h5/othergzip:1"))
    ok(d.ketch("rmi", "h5-local:1"))
