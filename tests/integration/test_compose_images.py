"""``ketch compose build | pull | push | images`` and ``down --rmi``'s image removal against
ketchd: builds of small Dockerfiles on busybox (args, labels, tags, dockerfile_inline, a
failing RUN), a push to and a pull from Debian's docker-registry on loopback, pull policies,
the images table. Every test removes the images it made and the build's leftovers."""

import base64
import json
import os
import subprocess
import sys
import textwrap
import types
import uuid

import pytest

from tests.integration.buildclean import remove_build_leftovers
from tests.integration.conftest import PYTHON, REPO
from tests.integration.registries import DockerRegistry


def compose(daemon, cwd, *args, check=True, timeout=120, env=None):
    res = subprocess.run(
        [PYTHON, "-I", "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
         "from ketch.compose.main import main; sys.exit(main(sys.argv[2:]))", REPO, *args],
        cwd=cwd, env={**daemon.env(), **(env or {})}, capture_output=True, text=True, timeout=timeout)
    if check:
        assert res.returncode == 0, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def write(directory, files: dict[str, str]) -> str:
    for name, text in files.items():
        path = os.path.join(directory, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
    return str(directory)


def inspect(daemon, name):
    status, doc = daemon.api("GET", f"/images/{name}/json")
    return doc if status == 200 else None


@pytest.fixture
def project(daemon, tmp_path):
    """A project directory and name; the images tagged with the name are removed after."""
    name = f"h6{uuid.uuid4().hex[:8]}"
    yield str(tmp_path), name
    status, images = daemon.api("GET", "/images/json")
    for image in images:
        for tag in image.get("RepoTags") or []:
            if name in tag:
                daemon.api("DELETE", f"/images/{tag}?force=1")
    remove_build_leftovers(daemon)


DOCKERFILE = """\
    FROM busybox
    ARG GREETING=none
    ARG FROM_ENV
    RUN echo "$GREETING" > /greeting
    LABEL greeting=$GREETING from_env=$FROM_ENV
    """


def test_build_tags_labels_args_and_inline_dockerfiles(daemon, project):
    cwd, name = project
    write(cwd, {"app/Dockerfile.dev": DOCKERFILE, ".env": "FROM_ENV=dotenv\n", "compose.yaml": f"""\
        name: {name}
        services:
          web:
            build:
              context: app
              dockerfile: Dockerfile.dev
              args:
                GREETING: hello
                FROM_ENV:
              labels:
                team: h6
              tags: ["{name}-extra:1"]
          inline:
            image: {name}-inline:2
            build:
              dockerfile_inline: |
                FROM busybox
                RUN echo inline > /inline
          box:
            image: busybox
        """})
    res = compose(daemon, cwd, "build")
    assert res.stdout.startswith("Sending build context to Docker daemon ") and "Step 1/" in res.stdout and f"Successfully tagged {name}-web:latest" in res.stdout
    assert f"Successfully tagged {name}-extra:1" in res.stdout
    web = inspect(daemon, f"{name}-web")
    labels = web["Config"]["Labels"]
    assert labels["greeting"] == "hello" and labels["from_env"] == "dotenv" and labels["team"] == "h6"
    assert labels["com.docker.compose.project"] == name and labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.version"] and labels["com.docker.compose.image.builder"] == "classic"
    assert inspect(daemon, f"{name}-extra:1")["Id"] == web["Id"]
    assert inspect(daemon, f"{name}-inline:2") is not None
    # --build-arg wins over the file; -q prints nothing on stdout; one service alone
    res = compose(daemon, cwd, "build", "-q", "--build-arg", "GREETING=flag", "web")
    assert res.stdout == ""
    assert inspect(daemon, f"{name}-web")["Config"]["Labels"]["greeting"] == "flag"
    res = compose(daemon, cwd, "build", "nosuch", check=False)
    assert (res.returncode, res.stderr) == (1, "no such service: nosuch\n")


def test_a_failing_build_exits_with_the_runs_code(daemon, project):
    cwd, name = project
    write(cwd, {"Dockerfile": "FROM busybox\nRUN exit 3\n", "compose.yaml": f"""\
        name: {name}
        services:
          web:
            build: .
        """})
    res = compose(daemon, cwd, "build", check=False)
    assert res.returncode == 3, res.stderr
    assert res.stderr.endswith("The command '/bin/sh -c exit 3' returned a non-zero code: 3\n")
    assert inspect(daemon, f"{name}-web") is None


@pytest.fixture(scope="module")
def registry():
    with DockerRegistry() as reg:
        yield reg


def test_push_pull_and_pull_policies(daemon, project, registry):
    cwd, name = project
    repo = f"{registry.host}/h6/{name}"
    write(cwd, {"Dockerfile": "FROM busybox\nRUN echo pushed > /pushed\n", "compose.yaml": f"""\
        name: {name}
        services:
          app:
            image: {repo}:1
            build:
              context: .
              tags: ["{repo}:extra"]
          cached:
            image: {repo}:1
            pull_policy: missing
          local:
            build: .
          gone:
            image: {registry.host}/h6/{name}-nosuch:1
            profiles: [broken]
        """})
    compose(daemon, cwd, "build", "--push", "app")
    built = inspect(daemon, f"{repo}:1")["Id"]
    res = compose(daemon, cwd, "--progress", "plain", "push")
    assert " local Skipped " in res.stderr.splitlines() and " cached Skipped " in res.stderr.splitlines()
    assert any(line.startswith(f" Pushing {repo}:1: ") for line in res.stderr.splitlines())
    for tag in ("1", "extra"):
        assert daemon.api("DELETE", f"/images/{repo}:{tag}")[0] == 200
    res = compose(daemon, cwd, "--progress", "plain", "pull", "app", "cached")
    lines = res.stderr.splitlines()
    assert " app Pulling " in lines and " app Pulled " in lines
    assert " cached Skipped - Image is already being pulled by app " in lines
    assert inspect(daemon, f"{repo}:1")["Id"] == built
    res = compose(daemon, cwd, "--progress", "plain", "pull", "cached")
    assert res.stderr.splitlines() == [" cached Skipped - Image is already present locally "]
    res = compose(daemon, cwd, "--progress", "plain", "pull", "-q", "--policy", "always", "cached")
    assert res.stderr == ""
    # an image no registry has: compose's error, unless ignored
    res = compose(daemon, cwd, "--progress", "plain", "pull", "gone", check=False)
    assert res.returncode == 1 and " gone Error " in res.stderr
    assert res.stderr.splitlines()[-1].startswith("Error response from daemon: ")
    compose(daemon, cwd, "pull", "--ignore-pull-failures", "gone")
    daemon.api("DELETE", f"/images/{repo}:1?force=1")


def test_images_lists_the_containers_images(daemon, project, names):
    cwd, name = project
    write(cwd, {"compose.yaml": f"""\
        name: {name}
        services:
          web:
            image: busybox
        """})
    created = []
    try:
        for service, number in (("web", 2), ("web", 1), ("db", 1)):
            cname = f"{name}-{service}-{number}"
            daemon.ketch("create", "--name", cname, "--label", f"com.docker.compose.project={name}",
                         "--label", f"com.docker.compose.service={service}", "busybox", check=True)
            created.append(cname)
        busybox = inspect(daemon, "busybox")
        short = busybox["Id"].split(":")[1][:12]
        res = compose(daemon, cwd, "images")
        lines = res.stdout.splitlines()
        assert lines[0].split() == ["CONTAINER", "REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"]
        assert [line.split()[:4] for line in lines[1:]] == [
            [f"{name}-db-1", "busybox", "latest", short], [f"{name}-web-1", "busybox", "latest", short],
            [f"{name}-web-2", "busybox", "latest", short]]
        res = compose(daemon, cwd, "images", "--format", "json", "web")
        docs = json.loads(res.stdout)
        assert [d["ContainerName"] for d in docs] == [f"{name}-web-1", f"{name}-web-2"]
        assert docs[0] == {"ID": busybox["Id"], "ContainerName": f"{name}-web-1", "Repository": "busybox",
                           "Tag": "latest", "Size": busybox["Size"]}
        assert compose(daemon, cwd, "images", "-q").stdout == busybox["Id"].split(":")[1] + "\n"
        # -p alone: no compose file needed
        assert compose(daemon, "/", "-p", name, "images", "-q").stdout == busybox["Id"].split(":")[1] + "\n"
        res = compose(daemon, cwd, "images", "--format", "yaml", check=False)
        assert (res.returncode, res.stderr) == (1, 'format value "yaml" could not be parsed: parsing failed\n')
    finally:
        for cname in created:
            daemon.api("DELETE", f"/containers/{cname}?force=1")


def test_remove_images_for_down_rmi(daemon, project):
    """``down --rmi local`` removes what the project built; ``all`` also its ``image:``s."""
    sys.path.insert(0, REPO)
    from ketch.client.api import APIClient
    from ketch.compose import imageops
    from ketch.compose.model import Project, from_canonical
    from ketch.compose.progress import Progress
    cwd, name = project
    write(cwd, {"Dockerfile": "FROM busybox\nRUN true\n"})
    daemon.ketch("tag", "busybox", f"{name}-base:1", check=True)
    proj = from_canonical(Project, {"name": name, "working_dir": cwd, "services": {
        "web": {"name": "web", "build": {"context": cwd}},
        "named": {"name": "named", "image": f"{name}-named:1", "build": {"context": cwd}},
        "base": {"name": "base", "image": f"{name}-base:1"}}})
    import io
    ctx = types.SimpleNamespace(options={"parallel": -1}, host=daemon.host, out=io.StringIO(),
                                err=io.StringIO(), client=lambda: APIClient(daemon.host))
    refs = imageops.ensure_images(ctx, proj)
    assert refs["web"] == f"{name}-web" and refs["web"].id == inspect(daemon, f"{name}-web")["Id"]
    assert refs["base"].id == inspect(daemon, "busybox")["Id"]
    out = io.StringIO()
    imageops.remove_images(ctx, proj, "local", progress=Progress(out, "plain"))
    assert out.getvalue().splitlines() == [
        f" Image {name}-named:1  Removing", f" Image {name}-named:1  Removed",
        f" Image {name}-web:latest  Removing", f" Image {name}-web:latest  Removed"]
    assert inspect(daemon, f"{name}-base:1") is not None
    imageops.remove_images(ctx, proj, "all")
    assert inspect(daemon, f"{name}-base:1") is None and inspect(daemon, "busybox") is not None


def test_up_builds_the_missing_image_a_rebuild_recreates_down_rmi_removes(daemon, project):
    cwd, name = project
    write(cwd, {"Dockerfile": 'FROM busybox\nRUN echo v1 > /v\nCMD ["sleep", "1000"]\n', "compose.yaml": f"""\
        name: {name}
        services:
          web:
            build: .
        """})
    try:
        res = compose(daemon, cwd, "up", "-d")
        assert f"Successfully tagged {name}-web:latest" in res.stdout
        first = inspect(daemon, f"{name}-web")["Id"]
        status, doc = daemon.api("GET", f"/containers/{name}-web-1/json")
        assert doc["Image"] == first and doc["Config"]["Labels"]["com.docker.compose.image"] == first
        res = compose(daemon, cwd, "up", "-d")  # nothing built again
        assert res.stdout == ""
        write(cwd, {"Dockerfile": 'FROM busybox\nRUN echo v2 > /v\nCMD ["sleep", "1000"]\n'})
        res = compose(daemon, cwd, "--progress", "plain", "up", "-d", "--build")
        second = inspect(daemon, f"{name}-web")["Id"]
        assert second != first and f" Container {name}-web-1  Recreated" in res.stderr.splitlines()
        assert daemon.api("GET", f"/containers/{name}-web-1/json")[1]["Image"] == second
        res = compose(daemon, cwd, "--progress", "plain", "down", "--rmi", "local", "-t", "0")
        assert res.stderr.splitlines()[-2:] == [f" Image {name}-web:latest  Removing",
                                                f" Image {name}-web:latest  Removed"]
        assert inspect(daemon, f"{name}-web") is None and inspect(daemon, "busybox") is not None
    finally:
        compose(daemon, cwd, "down", "-t", "0", check=False)


def test_logins_reach_pull_push_and_the_builds_from(daemon, project, tmp_path):
    """The stored login (KETCH_CONFIG's config.json) goes with pull, push, and the build's
    X-Registry-Config (its FROM a private image)."""
    cwd, name = project
    with DockerRegistry(htpasswd={"alice": "s3cret"}) as reg:
        config = tmp_path / "config"
        config.mkdir()
        (config / "config.json").write_text(json.dumps(
            {"auths": {reg.host: {"auth": base64.b64encode(b"alice:s3cret").decode()}}}))
        login = {"KETCH_CONFIG": str(config)}
        base, app = f"{reg.host}/private/{name}-base:1", f"{reg.host}/private/{name}-app:1"
        write(cwd, {"base/Dockerfile": "FROM busybox\nRUN echo base > /base\n",
                    "app/Dockerfile": f"FROM {base}\nRUN cat /base\n", "compose.yaml": f"""\
            name: {name}
            services:
              base:
                image: {base}
                build: base
              app:
                image: {app}
                build: app
            """})
        res = compose(daemon, cwd, "build", "--push", "base", check=False, env={"KETCH_CONFIG": str(tmp_path / "none")})
        assert res.returncode == 1 and "no basic auth credentials" in res.stderr
        compose(daemon, cwd, "push", "base", env=login)
        assert daemon.api("DELETE", f"/images/{base}")[0] == 200
        res = compose(daemon, cwd, "build", "app", env=login)  # FROM the private image: pulled
        assert f"Successfully tagged {app}" in res.stdout
        assert daemon.api("DELETE", f"/images/{base}")[0] == 200
        compose(daemon, cwd, "pull", "base", env=login)
        assert inspect(daemon, base) is not None
        for ref in (base, app):
            daemon.api("DELETE", f"/images/{ref}?force=1")
