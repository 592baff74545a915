"""compose's images, without a daemon: pull policies, build args and labels, which images
`up` pulls and builds, what `down --rmi` removes, `pull`'s skips and events, `images`'s
table and JSON (a fake client stands for the daemon)."""

import io
import json
import threading

import pytest

from ketch.client.http import HTTPError
from ketch.compose import imagebuild, imagelist, imageops, imagepull
from ketch.compose.errors import ComposeError
from ketch.compose.model import BuildConfig, Project, Ulimit, from_canonical
from ketch.compose.progress import Progress


class FakeResponse:
    def __init__(self, docs):
        self.docs = docs

    def chunks(self):
        for doc in self.docs:
            yield (json.dumps(doc) + "\n").encode()


class FakeClient:
    """The daemon: images by name, a log of calls; pulls of ``missing_remote`` fail."""

    def __init__(self, images=None, missing_remote=()):
        self.local = dict(images or {})
        self.missing_remote = set(missing_remote)
        self.calls = []
        self.lock = threading.Lock()

    def _log(self, *call):
        with self.lock:
            self.calls.append(call)

    def inspect_image(self, name):
        if name not in self.local:
            raise HTTPError(404, f"No such image: {name}")
        return self.local[name]

    def pull(self, name, tag, platform, auth):
        self._log("pull", f"{name}:{tag}")
        if f"{name}:{tag}" in self.missing_remote:
            raise HTTPError(404, f"pull access denied for {name}")
        self.local[f"{name}:{tag}" if tag != "latest" else name] = {"Id": f"sha256:pulled-{name}"}
        return FakeResponse([{"status": "Pulling fs layer", "id": "abc", "progressDetail": {}},
                             {"status": "Downloading", "id": "abc", "progressDetail": {"current": 1, "total": 2}},
                             {"status": "Pull complete", "id": "abc", "progressDetail": {}},
                             {"status": f"Status: Downloaded newer image for {name}:{tag}"}])

    def push(self, name, tag, auth):
        self._log("push", f"{name}:{tag}")
        return FakeResponse([{"status": "Pushed", "id": "abc", "progressDetail": {}}])

    def build(self, chunks, query, headers):
        self._log("build", query)
        for _ in chunks or ():
            pass
        image_id = f"sha256:built-{query['t'][0]}"
        for tag in query["t"]:
            self.local[tag] = {"Id": image_id}
        return FakeResponse([{"stream": "Step 1/1 : FROM busybox\n"}, {"aux": {"ID": image_id}},
                             {"stream": f"Successfully built {image_id[7:19]}\n"}])

    def images(self, filters=None):
        return [{"RepoTags": [t], "Labels": i.get("Labels") or {}} for t, i in self.local.items()
                if (i.get("Labels") or {}).get("com.docker.compose.project") == "p"]

    def remove_image(self, name):
        self._log("rmi", name)
        if name == "busy:1":
            raise HTTPError(409, "conflict")
        return []

    def containers(self, all=False, filters=None):
        return self.listed

    def close(self):
        pass


class FakeCtx:
    def __init__(self, client):
        self._client = client
        self.options = {"parallel": -1}
        self.host = None
        self.out = io.StringIO()
        self.err = io.StringIO()

    def client(self):
        return self._client


def project(services, environment=None) -> Project:
    return from_canonical(Project, {"name": "p", "working_dir": "/tmp", "environment": environment or {},
                                    "services": {k: {"name": k, **v} for k, v in services.items()}})


# -- pull policies --------------------------------------------------------------------------

@pytest.mark.parametrize("policy,local,pulls", [
    (None, None, True), (None, {}, False), ("missing", {}, False), ("always", {}, True),
    ("never", None, False), ("build", None, False), ("daily", None, True),
])
def test_must_pull(policy, local, pulls):
    assert imagepull.must_pull(policy, local) is pulls


def test_refresh_policies_compare_the_last_tag_time():
    day = 86400
    image = {"Metadata": {"LastTagTime": "2026-01-01T00:00:00Z"}}
    tagged = 1767225600.0  # 2026-01-01
    assert not imagepull.must_pull("daily", image, now=tagged + day - 1)
    assert imagepull.must_pull("daily", image, now=tagged + day + 1)
    assert not imagepull.must_pull("weekly", image, now=tagged + 6 * day)
    assert imagepull.must_pull("every_12h", image, now=tagged + 13 * 3600)
    assert not imagepull.must_pull("every_1h30m", image, now=tagged + 3600)
    with pytest.raises(ComposeError, match="invalid pull_policy: every_x"):
        imagepull.must_pull("every_x", image)


# -- build requests -------------------------------------------------------------------------

def test_build_args_file_then_flags_then_environment_then_proxies():
    proj = project({"web": {"build": {"context": "/c", "args": {"A": "file", "B": None, "C": None}}}},
                   environment={"B": "env", "HTTP_PROXY": "ignored"})
    options = imagebuild.BuildOptions(build_args={"A": "flag", "D": None})
    args = imagebuild.build_args(proj, proj.services["web"].build, options,
                                 {"HTTP_PROXY": "http://proxy", "A": "proxy"})
    assert args == {"A": "flag", "B": "env", "C": None, "D": None, "HTTP_PROXY": "http://proxy"}


def test_image_labels_and_names():
    proj = project({"web": {"build": {"context": "/c", "labels": {"x": "y"}}},
                    "db": {"image": "postgres:16"}})
    assert imagebuild.image_labels(proj, proj.services["web"]) == {
        "x": "y", "com.docker.compose.version": "2.29.7", "com.docker.compose.project": "p",
        "com.docker.compose.service": "web", "com.docker.compose.image.builder": "classic"}
    assert imageops.image_name(proj, proj.services["web"]) == "p-web"
    assert imageops.image_name(proj, proj.services["db"]) == "postgres:16"


def test_dockerfile_paths_hosts_and_ulimits():
    assert imagebuild.dockerfile_path("/ctx", None) == ""
    assert imagebuild.dockerfile_path("/ctx", "sub/Dockerfile.dev") == "/ctx/sub/Dockerfile.dev"
    assert imagebuild.dockerfile_path("/ctx", "/abs/Dockerfile") == "/abs/Dockerfile"
    assert imagebuild.dockerfile_path("https://github.com/a/b.git", "x/Dockerfile") == "x/Dockerfile"
    assert imagebuild._extra_hosts(["db=10.0.0.2", "h:1.2.3.4"]) == ["db:10.0.0.2", "h:1.2.3.4"]
    build = BuildConfig(ulimits={"nofile": Ulimit(soft=10, hard=20), "nproc": Ulimit(single=5)})
    assert imagebuild._ulimits(build) == [{"Name": "nofile", "Hard": 20, "Soft": 10},
                                          {"Name": "nproc", "Hard": 5, "Soft": 5}]


def test_the_classic_builders_limits_are_compose_errors():
    for build in ({"context": "/c", "ssh": ["default"]}, {"context": "/c", "platforms": ["linux/amd64", "linux/arm64"]}):
        proj = project({"web": {"build": build}})
        with pytest.raises(ComposeError, match="the classic builder doesn't support"):
            imagebuild.build_one(FakeClient(), None, proj, proj.services["web"], imagebuild.BuildOptions(), None)


def test_build_sends_tags_labels_args_and_the_inline_dockerfile(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    proj = project({"web": {"build": {"context": str(tmp_path), "tags": ["extra:1"], "target": "t",
                                      "network": "host", "shm_size": 1024, "cache_from": ["c:1"]}},
                    "inline": {"image": "i:2", "build": {"context": str(tmp_path),
                                                         "dockerfile_inline": "FROM busybox\nRUN true\n"}}})
    client = FakeClient()
    ctx = FakeCtx(client)
    built = imageops.build(ctx, proj, build_args={"X": "1"}, no_cache=True, quiet=True)
    assert built == {"web": "sha256:built-p-web", "inline": "sha256:built-i:2"}
    web, inline = [c[1] for c in client.calls if c[0] == "build"]
    assert web["t"] == ["p-web", "extra:1"] and web["dockerfile"] == "Dockerfile"
    assert web["target"] == "t" and web["networkmode"] == "host" and web["shmsize"] == "1024"
    assert web["nocache"] == "1" and json.loads(web["cachefrom"]) == ["c:1"]
    assert json.loads(web["buildargs"])["X"] == "1"
    assert json.loads(web["labels"])["com.docker.compose.service"] == "web"
    assert inline["t"] == ["i:2"] and inline["dockerfile"].startswith(".dockerfile.")
    assert ctx.out.getvalue() == ""  # quiet


def test_a_failed_build_is_the_streams_error(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    proj = project({"web": {"build": {"context": str(tmp_path)}}})

    class Failing(FakeClient):
        def build(self, chunks, query, headers):
            return FakeResponse([{"errorDetail": {"message": "The command '/bin/sh -c false' returned a non-zero code: 3",
                                                  "code": 3}, "error": "x"}])
    with pytest.raises(ComposeError) as info:
        imageops.build(FakeCtx(Failing()), proj, quiet=True)
    assert str(info.value) == "The command '/bin/sh -c false' returned a non-zero code: 3"
    assert info.value.exit_code == 3


# -- ensure_images (up) ---------------------------------------------------------------------

def test_ensure_images_pulls_missing_builds_missing_and_returns_ids(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    proj = project({"web": {"build": {"context": str(tmp_path)}},
                    "db": {"image": "postgres:16"},
                    "cache": {"image": "redis", "pull_policy": "never"},
                    "here": {"image": "here:1"}})
    client = FakeClient({"here:1": {"Id": "sha256:here"}})
    refs = imageops.ensure_images(FakeCtx(client), proj)
    assert refs == {"web": "p-web", "db": "postgres:16", "cache": "redis", "here": "here:1"}
    assert refs["web"].id == "sha256:built-p-web" and refs["db"].id == "sha256:pulled-postgres"
    assert refs["here"].id == "sha256:here" and refs["cache"].id == ""
    assert [c[:2] for c in client.calls if c[0] == "pull"] == [("pull", "postgres:16")]
    # all there now: nothing pulled or built again
    client.calls.clear()
    imageops.ensure_images(FakeCtx(client), proj)
    assert client.calls == []
    # --build: the buildable ones again; --pull always: the others
    imageops.ensure_images(FakeCtx(client), proj, build="always", pull="always")
    assert sorted(c[0] for c in client.calls) == ["build", "pull", "pull", "pull"]


def test_ensure_images_a_buildable_image_that_cannot_be_pulled_is_built(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    proj = project({"web": {"image": "reg/app:1", "build": {"context": str(tmp_path)}}})
    client = FakeClient(missing_remote={"reg/app:1"})
    out = io.StringIO()
    refs = imageops.ensure_images(FakeCtx(client), proj, progress=Progress(out, "plain"))
    assert refs["web"].id == "sha256:built-reg/app:1"
    assert " web Warning Error response from daemon: pull access denied for reg/app" in out.getvalue()


def test_ensure_images_errors():
    proj = project({"db": {"image": "nosuch:1"}})
    with pytest.raises(ComposeError, match="Error response from daemon: pull access denied for nosuch"):
        imageops.ensure_images(FakeCtx(FakeClient(missing_remote={"nosuch:1"})), proj)
    with pytest.raises(ComposeError, match='invalid service "x". Must specify either image or build'):
        imageops.ensure_images(FakeCtx(FakeClient()), project({"x": {}}))
    with pytest.raises(ComposeError, match="no such service: nope"):
        imageops.ensure_images(FakeCtx(FakeClient()), proj, ["nope"])


# -- pull -----------------------------------------------------------------------------------

def test_pull_skips_and_events_as_compose():
    proj = project({"web": {"build": {"context": "/c"}}, "db": {"image": "postgres:16"},
                    "db2": {"image": "postgres:16"}, "here": {"image": "here:1", "pull_policy": "missing"},
                    "never": {"image": "x:1", "pull_policy": "never"}})
    out = io.StringIO()
    client = FakeClient({"here:1": {"Id": "sha256:here"}})
    imageops.pull(FakeCtx(client), proj, progress=Progress(out, "plain"))
    lines = out.getvalue().splitlines()
    assert " web Skipped - No image to be pulled " in lines
    assert " db2 Skipped - Image is already being pulled by db " in lines
    assert " here Skipped - Image is already present locally " in lines
    assert " never Skipped " in lines
    assert lines[-4:] == [" db Pulling ", " abc Pulling fs layer ", " abc Pull complete ", " db Pulled "]


def test_pull_failures():
    proj = project({"db": {"image": "nosuch:1"}, "web": {"image": "reg/app:1", "build": {"context": "/c"}}})
    client = FakeClient(missing_remote={"nosuch:1", "reg/app:1"})
    out = io.StringIO()
    with pytest.raises(ComposeError, match="pull access denied for nosuch"):
        imageops.pull(FakeCtx(client), proj, progress=Progress(out, "plain"))
    assert out.getvalue().endswith("WARNING: Some service image(s) must be built from source by running:\n"
                                   "    ketch compose build web\n")
    imageops.pull(FakeCtx(client), proj, ignore_failures=True)
    client.calls.clear()
    imageops.pull(FakeCtx(client), proj, ["db"], ignore_failures=True, quiet=True)
    assert client.calls == [("pull", "nosuch:1")]


# -- push -----------------------------------------------------------------------------------

def test_push_only_built_and_named_images():
    proj = project({"web": {"image": "reg/app:1", "build": {"context": "/c", "tags": ["reg/app:latest"]}},
                    "db": {"image": "postgres:16"}, "local": {"build": {"context": "/c"}}})
    client = FakeClient()
    out = io.StringIO()
    imageops.push(FakeCtx(client), proj, progress=Progress(out, "plain"))
    assert sorted(client.calls) == [("push", "reg/app:1"), ("push", "reg/app:latest")]
    lines = out.getvalue().splitlines()
    assert " db Skipped " in lines and " local Skipped " in lines
    assert " Pushing reg/app:1: abc Pushed " in lines


# -- down --rmi -----------------------------------------------------------------------------

def test_images_to_remove_local_and_all():
    labelled = {"Id": "sha256:1", "Labels": {"com.docker.compose.project": "p", "com.docker.compose.service": "web"}}
    orphan = {"Id": "sha256:2", "Labels": {"com.docker.compose.project": "p", "com.docker.compose.service": "gone"}}
    client = FakeClient({"extra:1": labelled, "p-api": {"Id": "sha256:3"}, "old:1": orphan,
                         "busybox": {"Id": "sha256:4"}})
    proj = project({"web": {"build": {"context": "/c"}}, "api": {"build": {"context": "/c"}},
                    "box": {"image": "busybox"}, "other": {"image": "nothere:1"}})
    assert imageops.images_to_remove(client, proj, "local") == ["extra:1", "p-api:latest"]
    assert imageops.images_to_remove(client, proj, "local", remove_orphans=True) == \
        ["extra:1", "old:1", "p-api:latest"]
    assert imageops.images_to_remove(client, proj, "all") == ["busybox:latest", "extra:1", "p-api:latest"]
    with pytest.raises(ComposeError, match="unsupported image prune mode: some"):
        imageops.images_to_remove(client, proj, "some")


def test_remove_images_events():
    client = FakeClient({"busy:1": {"Id": "sha256:1"}, "p-web": {"Id": "sha256:2"}})
    proj = project({"web": {"build": {"context": "/c"}}, "box": {"image": "busy:1"}})
    out = io.StringIO()
    imageops.remove_images(FakeCtx(client), proj, "all", progress=Progress(out, "plain"))
    assert out.getvalue().splitlines() == [
        " Image busy:1  Removing", " Image busy:1  Resource is still in use",
        " Image p-web:latest  Removing", " Image p-web:latest  Removed"]


# -- images ---------------------------------------------------------------------------------

def test_project_images_table_json_and_ids():
    client = FakeClient({"sha256:aaaaaaaaaaaaaaaa": {"Id": "sha256:aaaaaaaaaaaaaaaa", "Size": 4_261_550,
                                                     "RepoTags": ["busybox:latest"]},
                         "sha256:bbbbbbbbbbbbbbbb": {"Id": "sha256:bbbbbbbbbbbbbbbb", "Size": 1000,
                                                     "RepoTags": ["localhost:5000/app:1"]}})
    client.listed = [
        {"Names": ["/p-web-2"], "ImageID": "sha256:aaaaaaaaaaaaaaaa", "Labels": {"com.docker.compose.service": "web"}},
        {"Names": ["/p-db-1"], "ImageID": "sha256:bbbbbbbbbbbbbbbb", "Labels": {"com.docker.compose.service": "db"}},
        {"Names": ["/p-web-1", "/p-db-1/web"], "ImageID": "sha256:aaaaaaaaaaaaaaaa",
         "Labels": {"com.docker.compose.service": "web"}},
    ]
    rows = imagelist.project_images(client, "p")
    assert [r.ContainerName for r in rows] == ["p-db-1", "p-web-1", "p-web-2"]
    assert imagelist.render(rows, "table") == (
        "CONTAINER           REPOSITORY           TAG                 IMAGE ID            SIZE\n"
        "p-db-1              localhost:5000/app   1                   bbbbbbbbbbbb        1kB\n"
        "p-web-1             busybox              latest              aaaaaaaaaaaa        4.26MB\n"
        "p-web-2             busybox              latest              aaaaaaaaaaaa        4.26MB\n")
    assert json.loads(imagelist.render(rows, "json"))[0] == {
        "ID": "sha256:bbbbbbbbbbbbbbbb", "ContainerName": "p-db-1", "Repository": "localhost:5000/app",
        "Tag": "1", "Size": 1000}
    assert imagelist.render_ids(rows) == "bbbbbbbbbbbbbbbb\naaaaaaaaaaaaaaaa\n"
    assert [r.ContainerName for r in imagelist.project_images(client, "p", ["web"])] == ["p-web-1", "p-web-2"]
    assert imagelist.render([], "json") == "[]\n"
