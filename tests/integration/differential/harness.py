"""Playing a row of the table (a client on a daemon), and comparing two plays.

A ``Target`` is a daemon as its clients see it: its socket, the environment a client
runs in (a config directory of its own, so no user's ``psFormat`` leaks in), and the
containers and references that make its baseline (the fixtures). After each row
``reset`` puts it back to that baseline (containers, tags, networks, volumes) through the API and says what the row changed
(``compare`` fails on it).
"""

import os
import shutil
import subprocess
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from tests.integration.conftest import PYTHON, REPO
from tests.integration.differential.dockerd import api
from tests.integration.differential.normalise import Side, normalise
from tests.integration.differential.table import FIXTURE_NAMES, FIXTURES, PARTS, Expect, Row

KETCH = [PYTHON, "-I", "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from ketch.cli.main import main; sys.exit(main(sys.argv[2:]))", REPO]
TIMEOUT = 60


@dataclass(frozen=True)
class Result:
    stdout: str
    stderr: str
    exit: int
    setup: tuple[int, ...] = ()   # the setup steps' exit codes
    changed: tuple[str, ...] = ()  # how the row changed the fixtures (reset repaired tags)


def docker_client() -> str | None:
    """The docker client the comparison uses: the first on PATH (docker 28 in
    /usr/local/bin on CI machines, else docker.io's /usr/bin/docker)."""
    return shutil.which("docker")


class Target:
    def __init__(self, name: str, socket: str, root: str, config_dir: str) -> None:
        self.name = name
        self.socket = socket
        self.host = f"unix://{socket}"
        self.root = root
        os.makedirs(config_dir, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "KETCH_"))}
        env.update(DOCKER_HOST=self.host, KETCH_HOST=self.host, DOCKER_CONFIG=config_dir,
                   KETCH_CONFIG=config_dir, DOCKER_CLI_HINTS="false")
        self.env = env
        self.baseline_containers: dict[str, str] = {}   # id -> "name state"
        self.baseline_tags: dict[str, str] = {}         # repo:tag -> image id
        self.baseline_networks: dict[str, str] = {}     # id -> name
        self.baseline_volumes: set[str] = set()          # names

    def side(self, program: str) -> Side:
        return Side(self.host, self.root, program)

    def run(self, argv: tuple[str, ...], program: str = "docker", stdin: str | None = None) -> Result:
        cmd = ([docker_client()] if program == "docker" else KETCH) + list(argv)
        raw = subprocess.run(cmd, input=stdin.encode() if stdin is not None else None,
                             stdin=None if stdin is not None else subprocess.DEVNULL,
                             capture_output=True, env=self.env, timeout=TIMEOUT)
        return Result(raw.stdout.decode(errors="replace"), raw.stderr.decode(errors="replace"),
                      raw.returncode)

    # -- baseline ------------------------------------------------------------------
    def make_fixtures(self) -> None:
        for argv, code in FIXTURES:
            res = self.run(argv)
            if res.exit != code:
                raise RuntimeError(f"{self.name}: docker {' '.join(argv)} exited {res.exit}, "
                                   f"not {code}:\n{res.stdout}{res.stderr}")
        self.baseline_containers = self._containers()
        self.baseline_tags = self._tags()
        self.baseline_networks = self._networks()
        self.baseline_volumes = self._volumes()
        names = sorted(v.split()[0] for v in self.baseline_containers.values())
        assert names == sorted(FIXTURE_NAMES), (self.name, names)

    def _containers(self) -> dict[str, str]:
        status, items = api(self.socket, "GET", "/containers/json?all=1")
        assert status == 200, (self.name, status, items)
        return {c["Id"]: f"{c['Names'][0].lstrip('/')} {c['State']}" for c in items}

    def _tags(self) -> dict[str, str]:
        """Every reference (tags, and digests a row may have made) -> image id; not the
        "<none>:<none>" and "<none>@<none>" dockerd 20.10 lists for an untagged image (a
        build's last image of a stage)."""
        status, items = api(self.socket, "GET", "/images/json")
        assert status == 200, (self.name, status, items)
        return {ref: image["Id"] for image in items
                for ref in (image.get("RepoTags") or []) + (image.get("RepoDigests") or [])
                if not ref.startswith("<none>")}

    def _networks(self) -> dict[str, str]:
        status, items = api(self.socket, "GET", "/networks")
        assert status == 200, (self.name, status, items)
        return {n["Id"]: n["Name"] for n in items}

    def _volumes(self) -> set[str]:
        status, body = api(self.socket, "GET", "/volumes")
        assert status == 200, (self.name, status, body)
        return {v["Name"] for v in body["Volumes"] or []}

    def _remove_networks(self, timeout: float = 10) -> None:
        """The networks a row made, once their containers are gone (dockerd releases a removed
        container's endpoints a moment after answering: "has active endpoints" until then)."""
        deadline = time.monotonic() + timeout
        while True:
            left = set(self._networks()) - set(self.baseline_networks)
            if not left or time.monotonic() > deadline:
                return
            for nid in left:
                api(self.socket, "DELETE", f"/networks/{nid}")
            if set(self._networks()) & left:
                time.sleep(0.1)

    def reset(self) -> list[str]:
        """Remove what a row made; returns how the fixtures were changed (empty: not)."""
        now = self._containers()
        for cid in set(now) - set(self.baseline_containers):
            api(self.socket, "DELETE", f"/containers/{cid}?force=1")
        self._remove_networks()
        for name in self._volumes() - self.baseline_volumes:  # its containers are gone
            api(self.socket, "DELETE", f"/volumes/{urllib.parse.quote(name, safe='')}?force=1")
        for tag in set(self._tags()) - set(self.baseline_tags):
            api(self.socket, "DELETE", f"/images/{urllib.parse.quote(tag, safe='')}")
        tags = self._tags()
        changed = [f"{cid[:12]} was {was}, now {now.get(cid, 'gone')}"
                   for cid, was in self.baseline_containers.items() if now.get(cid) != was]
        changed += [f"reference {ref} cannot be removed" for ref in sorted(set(tags) - set(self.baseline_tags))]
        networks = self._networks()
        changed += [f"network {name} was removed" for nid, name in self.baseline_networks.items()
                    if nid not in networks]
        changed += [f"network {name} cannot be removed" for nid, name in networks.items()
                    if nid not in self.baseline_networks]
        volumes = self._volumes()
        changed += [f"volume {name} was removed" for name in sorted(self.baseline_volumes - volumes)]
        changed += [f"volume {name} cannot be removed" for name in sorted(volumes - self.baseline_volumes)]
        for tag, image in sorted(self.baseline_tags.items()):
            if tags.get(tag) != image:  # put it back, so that the next rows do not fail too
                changed.append(f"tag {tag} was {image[:19]}, now {tags.get(tag, 'gone')}")
                repo, _, name = tag.rpartition(":")
                query = urllib.parse.urlencode({"repo": repo, "tag": name})
                api(self.socket, "POST", f"/images/{image}/tag?{query}")
        return changed

    def play(self, row: Row, program: str) -> Result:
        """The row's setup (docker client), its command (``program``), then the reset."""
        try:
            codes = tuple(self.run(step).exit for step in row.setup)
            res = self.run(row.argv, program, row.stdin)
        finally:
            changed = self.reset()
        return Result(res.stdout, res.stderr, res.exit, codes, tuple(changed))


@dataclass(frozen=True)
class Play:
    """One way of running a row: a client on a daemon."""
    target: Target
    program: str   # "docker" or "ketch"

    @property
    def label(self) -> str:
        return f"{self.program} -> {self.target.name}"


def play_both(ref: Play, got: Play, row: Row, cache: dict) -> tuple[Result, Result]:
    """The row played both ways (concurrently when on two daemons); results are cached
    per (row, client, daemon), since a row leaves its daemon as it found it."""
    keys = [(row.name, p.label) for p in (ref, got)]
    todo = [(k, p) for k, p in zip(keys, (ref, got)) if k not in cache]
    if len(todo) == 2 and ref.target is not got.target:
        with ThreadPoolExecutor(2) as pool:
            futures = [(k, pool.submit(p.target.play, row, p.program)) for k, p in todo]
            for k, future in futures:
                cache[k] = future.result()
    else:
        for k, p in todo:
            cache[k] = p.target.play(row, p.program)
    return cache[keys[0]], cache[keys[1]]


def _views(row: Row, expect: Expect, ref: Play, a: Result, got: Play, b: Result, masked: bool) -> dict:
    def norm(text: str, play: Play) -> list:
        return normalise(text, play.target.side(play.program), row.norm,
                         expect.mask if masked else ())
    return {"stdout": (norm(a.stdout, ref), norm(b.stdout, got)),
            "stderr": (norm(a.stderr, ref), norm(b.stderr, got)),
            "exit": (a.exit, b.exit)}


def compare(row: Row, expect: Expect, ref: Play, a: Result, got: Play, b: Result) -> None:
    """Fail with both raw outputs and the parts that differ, as the row's ``expect`` says."""
    report = (f"\n{got.label} vs {ref.label}: {' '.join(row.argv)}\n"
              f"--- {ref.label} (exit {a.exit}, setup {a.setup})\nstdout:\n{a.stdout}stderr:\n{a.stderr}"
              f"--- {got.label} (exit {b.exit}, setup {b.setup})\nstdout:\n{b.stdout}stderr:\n{b.stderr}")
    assert a.setup == b.setup, f"setup steps exited differently{report}"
    assert not a.changed and not b.changed, (
        f"the row changed the fixtures: {ref.label} {a.changed}, {got.label} {b.changed}{report}")
    views = _views(row, expect, ref, a, got, b, masked=True)
    ignored = expect.parts if expect.kind == "differs" else ()
    wrong = {p: views[p] for p in PARTS if p not in ignored and views[p][0] != views[p][1]}
    assert not wrong, "differs in " + ", ".join(
        f"{p}:\n  {ref.label:16} {x!r}\n  {got.label:16} {y!r}" for p, (x, y) in wrong.items()) + report
    if expect.kind != "differs":
        return
    now_same = [p for p in ignored if views[p][0] == views[p][1]]
    assert not now_same, (f"row {row.name} is marked differs ({expect.reason}) in {ignored}, "
                          f"but {now_same} now match: narrow or drop the mark{report}")
    if expect.mask:
        raw = _views(row, expect, ref, a, got, b, masked=False)
        assert any(raw[p][0] != raw[p][1] for p in PARTS), (
            f"row {row.name} masks {expect.mask} ({expect.reason}), but nothing differs "
            f"without the mask: drop it{report}")
