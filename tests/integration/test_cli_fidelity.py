"""Commands that behaved differently from Docker (issue 7): rm --link and rm -f of a missing
container, ps limits, filter values, images REPO, tag of a digest, inspect's template errors.

Each goes through the ketch CLI, the real docker CLI and, where the daemon decides, the
docker SDK; the expected texts and exit codes are dockerd's (moby v26.1's wording).
"""

import secrets
import shutil

import pytest

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")
CLIENTS = ["ketch", pytest.param("docker", marks=needs_docker)]
DIGEST = "sha256:" + "0" * 64


def run(daemon, client: str, *args: str):
    return getattr(daemon, client)(*args)


def _repo() -> str:
    return f"fid{secrets.token_hex(4)}"


# -- rm ------------------------------------------------------------------------------

@pytest.mark.parametrize("client", CLIENTS)
def test_rm_link_refuses_a_containers_own_name(daemon, names, client):
    name = names()
    daemon.ketch("create", "--name", name, "busybox", "true", check=True)
    for args in (("rm", "-l", name), ("rm", "-l", "-f", name)):
        res = run(daemon, client, *args)
        assert res.returncode == 1, res
        assert res.stderr == ("Error response from daemon: Conflict, cannot remove the default "
                              "link name of the container\n")
    assert daemon.api("GET", f"/containers/{name}/json")[0] == 200  # still there
    res = run(daemon, client, "rm", "-l", f"{name}-none")
    assert (res.returncode, res.stderr) == (1, f"Error response from daemon: No such container: {name}-none\n")


def test_rm_link_through_the_sdk(daemon, names):
    import docker
    name = names()
    daemon.ketch("create", "--name", name, "busybox", "true", check=True)
    with pytest.raises(docker.errors.APIError) as err:
        daemon.sdk().api.remove_container(name, link=True)
    assert err.value.response.status_code == 500  # moby returns it as a plain error
    assert "cannot remove the default link name" in str(err.value)
    assert daemon.api("GET", f"/containers/{name}/json")[0] == 200


@pytest.mark.parametrize("client", CLIENTS)
def test_rm_force_of_a_missing_container_succeeds(daemon, names, client):
    missing = f"{names()}-missing"
    res = run(daemon, client, "rm", "-f", missing)
    assert (res.returncode, res.stdout) == (0, "")
    assert res.stderr == f"Error response from daemon: No such container: {missing}\n"
    name = names()
    daemon.ketch("create", "--name", name, "busybox", "true", check=True)
    res = run(daemon, client, "rm", "-f", missing, name)
    assert (res.returncode, res.stdout) == (0, f"{name}\n"), res.stderr
    # without --force it is an error, reported after the others are removed
    other = names()
    daemon.ketch("create", "--name", other, "busybox", "true", check=True)
    res = run(daemon, client, "rm", missing, f"/{other}")
    assert (res.returncode, res.stdout) == (1, f"/{other}\n")
    assert res.stderr == f"Error response from daemon: No such container: {missing}\n"


def test_rm_of_an_empty_name(daemon):
    res = daemon.ketch("rm", "/")
    assert (res.returncode, res.stderr) == (1, "container name cannot be empty\n")


# -- ps limits -----------------------------------------------------------------------

@pytest.mark.parametrize("client", CLIENTS)
def test_ps_last_includes_stopped_containers(daemon, names, client):
    older, newer = names(), names()
    daemon.ketch("create", "--name", older, "busybox", "true", check=True)
    daemon.ketch("create", "--name", newer, "busybox", "true", check=True)
    res = run(daemon, client, "ps", "-l", "--format", "{{.Names}}")
    assert (res.returncode, res.stdout) == (0, f"{newer}\n"), res.stderr
    res = run(daemon, client, "ps", "-n", "2", "--format", "{{.Names}}")
    assert res.stdout == f"{newer}\n{older}\n", res.stderr


def test_ps_limit_through_the_sdk(daemon, names):
    name = names()
    daemon.ketch("create", "--name", name, "busybox", "true", check=True)
    client = daemon.sdk()
    assert [c.name for c in client.containers.list(limit=1)] == [name]
    status, items = daemon.api("GET", "/containers/json?limit=1")
    assert status == 200 and [c["Names"] for c in items] == [[f"/{name}"]]


# -- filter values -------------------------------------------------------------------

FILTER_ERRORS = [
    (("ps", "-f", "status=bogus"), "invalid filter 'status=bogus'"),
    (("ps", "-f", "foo=bar"), "invalid filter 'foo'"),
    (("ps", "-f", "since=nope-nothere"), "No such container: nope-nothere"),
    (("ps", "-f", "before=nope-nothere"), "No such container: nope-nothere"),
    (("ps", "-f", "exited=abc"), "invalid filter 'exited=abc': strconv.Atoi: parsing \"abc\": invalid syntax"),
    (("ps", "-f", "health=bogus"), "unrecognized filter value for health: bogus"),
    (("ps", "-f", "is-task=maybe"), "invalid filter 'is-task=[maybe]'"),
    (("ps", "-f", "publish=80:80"), "filter for 'publish' should not contain ':': 80:80"),
    (("ps", "-f", "expose=1-x"), "error while looking up for expose 1-x: strconv.ParseUint: parsing \"x\": invalid syntax"),
    (("images", "-f", "dangling=maybe"), "invalid filter 'dangling=[maybe]'"),
    (("images", "-f", "foo=bar"), "invalid filter 'foo'"),
    (("images", "-f", "before=nope-nothere"), "No such image: nope-nothere:latest"),
    (("images", "-f", "reference=["), "syntax error in pattern"),
    (("images", "-f", "until=nope"), 'failed to parse value as time or duration: "nope"'),
    (("images", "-f", "until=2020-13-01"), 'parsing time "2020-13-01": month out of range'),
]


@pytest.mark.parametrize("client", CLIENTS)
def test_invalid_filter_values_are_errors(daemon, client):
    for args, message in FILTER_ERRORS:
        res = run(daemon, client, *args)
        assert (res.returncode, res.stdout, res.stderr) == (1, "", f"Error response from daemon: {message}\n"), args


def test_filter_errors_through_the_sdk(daemon):
    import docker
    client = daemon.sdk()
    for filters, status in (({"status": "bogus"}, 400), ({"since": "nope-nothere"}, 404),
                            ({"publish": "80:80"}, 500)):
        with pytest.raises(docker.errors.APIError) as err:
            client.containers.list(all=True, filters=filters)
        assert err.value.response.status_code == status, filters
    with pytest.raises(docker.errors.APIError) as err:
        client.images.list(filters={"dangling": "maybe"})
    assert err.value.response.status_code == 400
    assert daemon.api("GET", "/containers/json?filters=notjson") == (400, {"message": "invalid filter"})


@pytest.mark.parametrize("client", CLIENTS)
def test_valid_filters_still_list(daemon, names, client):
    name = names()
    daemon.ketch("create", "--name", name, "busybox", "true", check=True)
    res = run(daemon, client, "ps", "-f", "status=created", "-f", f"name={name}", "--format", "{{.Names}}")
    assert (res.returncode, res.stdout) == (0, f"{name}\n"), res.stderr
    cid = daemon.api("GET", f"/containers/{name}/json")[1]["Id"]
    for value in (name, cid):  # since/before name a container by full id or name
        res = run(daemon, client, "ps", "-a", "-f", f"since={value}", "--format", "{{.Names}}")
        assert (res.returncode, res.stdout) == (0, ""), res.stderr
    res = run(daemon, client, "ps", "-a", "-f", f"since={cid[:12]}")
    assert res.stderr == f"Error response from daemon: No such container: {cid[:12]}\n"
    res = run(daemon, client, "ps", "-a", "-f", "health=none", "-f", f"name={name}", "--format", "{{.Names}}")
    assert res.stdout == f"{name}\n", res.stderr
    for flt in ("publish=80", "expose=80", "network=nosuch", "volume=/data", "is-task=true",
                "health=healthy"):
        res = run(daemon, client, "ps", "-a", "-f", flt, "-f", f"name={name}", "--format", "{{.Names}}")
        assert (res.returncode, res.stdout) == (0, ""), (flt, res.stderr)
    res = run(daemon, client, "ps", "-a", "-f", "network=bridge", "-f", f"name={name}", "--format", "{{.Names}}")
    assert res.stdout == f"{name}\n", res.stderr
    # exited= does not list stopped containers by itself (status= does)
    daemon.ketch("run", "--name", (ran := names()), "busybox", "true", check=True)
    res = run(daemon, client, "ps", "-f", "exited=0", "-f", f"name={ran}", "--format", "{{.Names}}")
    assert (res.returncode, res.stdout) == (0, ""), res.stderr
    res = run(daemon, client, "ps", "-a", "-f", "exited=0", "-f", f"name={ran}", "--format", "{{.Names}}")
    assert res.stdout == f"{ran}\n", res.stderr
    res = run(daemon, client, "images", "-f", "dangling=false", "--format", "{{.Repository}}")
    assert res.returncode == 0 and "busybox" in res.stdout.split(), res.stderr
    for flt in ("before=busybox", "since=busybox", "until=2000-01-01"):  # strictly older/newer
        res = run(daemon, client, "images", "-f", flt, "--format", "{{.Repository}}")
        assert res.returncode == 0 and "busybox" not in res.stdout.split(), (flt, res.stdout, res.stderr)
    res = run(daemon, client, "images", "-f", "until=4102444800", "--format", "{{.Repository}}")
    assert "busybox" in res.stdout.split(), res.stderr


# -- images REPO ---------------------------------------------------------------------

@pytest.mark.parametrize("client", CLIENTS)
def test_images_repo_lists_only_that_repository(daemon, client):
    base = _repo()
    repo, other = f"{base}-a", f"{base}-b"
    for ref in (f"{repo}:1", f"{repo}:2", f"{other}:1"):
        daemon.ketch("tag", "busybox", ref, check=True)
    try:
        fmt = "{{.Repository}}:{{.Tag}}"
        res = run(daemon, client, "images", repo, "--format", fmt)
        assert (res.returncode, sorted(res.stdout.split())) == (0, [f"{repo}:1", f"{repo}:2"]), res.stderr
        res = run(daemon, client, "images", f"{repo}:2", "--format", fmt)
        assert res.stdout == f"{repo}:2\n"
        res = run(daemon, client, "images", f"{base}*", "--format", fmt)
        assert sorted(res.stdout.split()) == sorted([f"{repo}:1", f"{repo}:2", f"{other}:1"])
        res = run(daemon, client, "images", "-q", repo)  # an id per row, as docker prints them
        assert len(res.stdout.split()) == 2 and len(set(res.stdout.split())) == 1, res.stdout
        res = run(daemon, client, "images", f"{repo}-none", "--format", fmt)
        assert (res.returncode, res.stdout) == (0, "")
    finally:
        daemon.ketch("rmi", f"{repo}:1", f"{repo}:2", f"{other}:1")


def test_images_repo_through_the_sdk(daemon):
    repo = _repo()
    daemon.ketch("tag", "busybox", f"{repo}:1", check=True)
    try:
        # the low-level call: images.list() inspects each image found, with all its tags
        images = daemon.sdk().api.images(name=repo)
        assert [i["RepoTags"] for i in images] == [[f"{repo}:1"]]
    finally:
        daemon.ketch("rmi", f"{repo}:1")


# -- tag -----------------------------------------------------------------------------

TAG_ERRORS = [
    (f"repo@{DIGEST}", "refusing to create a tag with a digest reference"),
    (f"repo:t@{DIGEST}", "refusing to create a tag with a digest reference"),
    ("UPPER", 'Error parsing reference: "UPPER" is not a valid repository/tag: invalid reference format: '
              "repository name (library/UPPER) must be lowercase"),
    ("repo:bad tag", 'Error parsing reference: "repo:bad tag" is not a valid repository/tag: '
                     "invalid reference format"),
]


@pytest.mark.parametrize("client", CLIENTS)
def test_tag_refuses_digests_and_bad_names(daemon, client):
    before = daemon.api("GET", "/images/json")[1]
    for target, message in TAG_ERRORS:
        res = run(daemon, client, "tag", "busybox", target)
        assert (res.returncode, res.stderr) == (1, message + "\n"), target
    res = run(daemon, client, "tag", "busybox", "sha256")
    assert res.stderr == ("Error response from daemon: refusing to create an ambiguous tag using "
                          "digest algorithm as name\n")
    assert daemon.api("GET", "/images/json")[1] == before


def test_tag_refusals_through_the_sdk(daemon):
    import docker
    api = daemon.sdk().api
    repo = _repo()
    for repository, tag, message in ((f"{repo}@{DIGEST}", None, "cannot import digest reference"),
                                     (repo, "bad tag", "invalid tag format"),
                                     ("sha256", None, "refusing to create an ambiguous tag")):
        with pytest.raises(docker.errors.APIError) as err:
            api.tag("busybox", repository, tag)
        assert err.value.response.status_code == 400 and message in str(err.value)
    assert not any(repo in t for i in daemon.api("GET", "/images/json")[1] for t in i["RepoTags"])
    # a tag given apart replaces the one in the repository's name, as moby does
    assert api.tag("busybox", f"{repo}:a", "b")
    try:
        assert f"{repo}:b" in daemon.sdk().images.get("busybox").tags
    finally:
        daemon.ketch("rmi", f"{repo}:b")


# -- inspect -------------------------------------------------------------------------

@pytest.mark.parametrize("client", CLIENTS)
def test_inspect_template_parse_error_exits_64(daemon, client):
    for name in ("busybox", "nothing-here"):
        res = run(daemon, client, "inspect", "-f", "{{.Nope", name)
        assert (res.returncode, res.stdout) == (64, "")
        assert res.stderr == "template parsing error: template: :1: unclosed action\n"
