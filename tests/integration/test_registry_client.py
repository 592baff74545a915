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
