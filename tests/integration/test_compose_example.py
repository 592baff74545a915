"""The notes' node + postgres app end to end (examples/node-postgres, the README's tour).

The base images `node` and `postgres` are made from Debian's packages by the example's
make-images.sh (mmdebstrap; once per test run, ~1 min, the tarballs kept in a temporary
directory until the run ends) and imported into a ketchd of this module's own. Then
`ketch compose up -d --build` builds the app (its `RUN npm install` reaches the npm
registry through the container's NAT), the published port answers with rows that went
through postgres over the project's network, the row survives `down` + `up` (the named
volume keeps it), and `down --rmi all --volumes` leaves nothing of the project.

It needs the network (Debian's mirror, the npm registry): without mmdebstrap or without
the network the module is skipped, with the reason. KETCH_TEST_NOTES_TARS=DIR keeps the
tarballs in DIR and reuses them in later runs (while working on the example).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from tests.integration.conftest import PYTHON, REPO, Daemon, destroy_daemon, make_daemon

EXAMPLE = os.path.join(REPO, "examples", "node-postgres")
MAKE_IMAGES = os.path.join(EXAMPLE, "make-images.sh")
DEFAULT_NETWORKS = {"bridge", "host", "none"}

# One worker runs the module, in order: the images are made once, and test_notes_app's
# `down --rmi all` removes the postgres image test_base_images uses.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("compose_example")]


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=5).close()
        return True
    except OSError:
        return False


def make_images(*args: str, env: dict | None = None, timeout: float) -> None:
    """make-images.sh ARGS; on a timeout its whole process group is ended (mmdebstrap
    cleans up its mounts and temporary root on SIGTERM)."""
    proc = subprocess.Popen([MAKE_IMAGES, *args], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        raise AssertionError(f"make-images.sh {' '.join(args)} took over {timeout} s:\n{out}")
    assert proc.returncode == 0, f"make-images.sh {' '.join(args)} exited {proc.returncode}:\n{out}"


@pytest.fixture(scope="module")
def base_tars():
    """The directory of node.tar and postgres.tar, made once per run (this module alone
    uses them) and removed when the module is done."""
    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed (scripts/install.sh --with-tests installs it)")
    for host, port in (("deb.debian.org", 80), ("registry.npmjs.org", 443)):
        if not _reachable(host, port):
            pytest.skip(f"{host}:{port} is not reachable: the example needs Debian's mirror and npm's registry")
    kept = os.environ.get("KETCH_TEST_NOTES_TARS")
    tars = kept or tempfile.mkdtemp(prefix="ketch-notes-images-")
    try:
        make_images("--tars", tars, "--no-import", timeout=600)
        yield tars
    finally:
        if not kept:
            shutil.rmtree(tars, ignore_errors=True)


@pytest.fixture(scope="module")
def notes_daemon(base_tars):
    """A ketchd of this module's own with the base images imported (make-images.sh with
    the tarballs already made). Its user networks come from its own /24s (daemon.json's
    default-address-pools), never the default pools other test daemons pick from."""
    d = make_daemon()
    try:
        d.write_config(**{"default-address-pools": [{"base": d.subnet(k), "size": 24} for k in (0, 1)]})
        d.restart()
        launcher = os.path.join(d.root, "ketch")
        with open(launcher, "w") as f:
            f.write(f"#!{PYTHON} -IS\nimport sys; sys.path.insert(0, {REPO!r})\n"
                    "from ketch.cli.main import main; sys.exit(main())\n")
        os.chmod(launcher, 0o755)
        make_images("--tars", base_tars, env=d.env() | {"KETCH": launcher}, timeout=300)
        yield d
    finally:
        destroy_daemon(d)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, body: str | None = None) -> tuple[int, str]:
    """GET / (or POST / with ``body``) on the published port: (status, text); 0 when no
    HTTP answer came (not listening yet)."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=None if body is None else body.encode(),
                                 method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except (OSError, urllib.error.URLError):
        return 0, ""


def answer(port: int, timeout: float = 90) -> tuple[int, str]:
    """The first answer to GET / that is not 'not yet' (none, or 503 while postgres starts)."""
    deadline = time.monotonic() + timeout
    while True:
        status, text = request(port)
        if status not in (0, 503) or time.monotonic() > deadline:
            return status, text
        time.sleep(0.2)


class Compose:
    """`ketch compose -p PROJECT -f examples/node-postgres/docker-compose.yml ...` with the
    published ports chosen by the test (NOTES_PORT, POSTGRES_PORT in the environment)."""

    def __init__(self, daemon: Daemon, project: str) -> None:
        self.daemon, self.project = daemon, project
        self.web_port, self.db_port = free_port(), free_port()

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        env = self.daemon.env() | {"NOTES_PORT": str(self.web_port), "POSTGRES_PORT": str(self.db_port)}
        cmd = Daemon._ketch_cmd(("compose", "-p", self.project, "-f",
                                 os.path.join(EXAMPLE, "docker-compose.yml"), *args))
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


def objects(d: Daemon) -> dict[str, list[str]]:
    """What the daemon holds: containers, networks beyond the defaults, volumes, image tags."""
    _, containers = d.api("GET", "/containers/json?all=1")
    _, networks = d.api("GET", "/networks")
    _, volumes = d.api("GET", "/volumes")
    _, images = d.api("GET", "/images/json")
    return {"containers": sorted(c["Names"][0].lstrip("/") for c in containers),
            "networks": sorted(n["Name"] for n in networks if n["Name"] not in DEFAULT_NETWORKS),
            "volumes": sorted(v["Name"] for v in volumes.get("Volumes") or []),
            "images": sorted(tag for i in images for tag in i.get("RepoTags") or [])}


def test_base_images(notes_daemon):
    """The images alone: Debian's node and npm; postgres refuses to start without a
    password, as the official image does, and makes POSTGRES_DB with one."""
    d = notes_daemon
    r = d.ketch("run", "--rm", "node", "node", "-e", "console.log(process.version)")
    assert r.returncode == 0 and r.stdout.startswith("v"), r.stderr
    r = d.ketch("run", "--rm", "node", "npm", "--version")
    assert r.returncode == 0 and r.stdout.strip()[:1].isdigit(), r.stderr
    r = d.ketch("run", "--rm", "postgres")
    assert r.returncode == 1
    assert "Error: Database is uninitialized and superuser password is not specified." in r.stderr
    db = f"notes-pg-{os.getpid()}"
    try:
        d.ketch("run", "-d", "--name", db, "-e", "POSTGRES_PASSWORD=pw", "-e", "POSTGRES_DB=my-db",
                "postgres", check=True)
        deadline = time.monotonic() + 60
        while True:
            r = d.ketch("exec", db, "psql", "-U", "postgres", "-d", "my-db", "-Atc", "SELECT current_database()")
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.stdout.strip() == "my-db", r.stderr
        r = d.ketch("logs", db)
        assert "PostgreSQL init process complete; ready for start up." in r.stdout
    finally:
        d.ketch("rm", "-f", "-v", db)


def test_notes_app(notes_daemon):
    d = notes_daemon
    before = objects(d)
    project = f"notes{os.getpid()}"
    compose = Compose(d, project)
    try:
        r = compose("up", "-d", "--build")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        now = objects(d)
        assert now["containers"] == sorted([f"{project}-node-1", "postgres"])
        assert now["networks"] == [f"{project}_nodeapp-network"]
        assert now["volumes"] == [f"{project}_pgdata"]
        assert f"{project}-node:latest" in now["images"]

        # once the app and postgres answer, it (its `pg` from npm install) writes a row in
        # postgres and reads it back (one POST: a retried one could write two)
        status, text = answer(compose.web_port)
        assert (status, text.splitlines()[1:]) == (200, []), text
        status, text = request(compose.web_port, "hello from ketch")
        assert status == 201, text
        assert text.splitlines()[0].startswith("1 note(s) in postgres-db (PostgreSQL 15"), text
        assert text.splitlines()[1:] == ["1. hello from ketch"], text
        assert _reachable("127.0.0.1", compose.db_port)  # postgres' published port

        # the notes' other commands on the running project
        r = compose("ps")
        assert r.returncode == 0 and f"{project}-node-1" in r.stdout and "postgres" in r.stdout, r.stderr
        r = compose("logs", "node")
        assert "notes listening on port 3000" in r.stdout, r.stderr
        r = compose("exec", "-T", "postgres", "sh", "-c", "psql -U postgres -d postgres-db -Atc 'SELECT body FROM notes'")
        assert (r.returncode, r.stdout) == (0, "hello from ketch\n"), r.stderr
        r = compose("build", "node")  # the cache: nothing changed
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        r = compose("up", "-d", "--no-deps", "node")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        for command in ("stop", "start"):
            r = compose(command)
            assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        status, text = answer(compose.web_port)
        assert status == 200 and text.splitlines()[1:] == ["1. hello from ketch"], text

        # down keeps the named volume; up again (no build: the image is there) finds the row
        r = compose("down")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        assert objects(d)["volumes"] == [f"{project}_pgdata"] and objects(d)["containers"] == []
        r = compose("up", "-d")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        status, text = answer(compose.web_port)
        assert status == 200 and text.splitlines()[1:] == ["1. hello from ketch"], text

        r = compose("down", "--rmi", "all", "--volumes")
        assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
        after = objects(d)
        # --rmi all removes the images the services use: the built one and postgres
        assert after == before | {"images": sorted(set(before["images"]) - {"postgres:latest"})}, \
            json.dumps(after)
    finally:
        compose("down", "--rmi", "all", "--volumes", "-t", "1")
