"""image prune, system df, system prune: Docker's output, prompts and API shapes (ketch CLI,
docker CLI, SDK), on a daemon of the test's own (they remove images)."""

import hashlib
import shutil

import pytest

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")


def _dangling(d, name: str) -> str:
    d.ketch("run", "--name", name, "busybox", "sh", "-c", "echo data > /f", check=True)
    image_id = d.ketch("commit", name).stdout.strip()
    d.ketch("rm", name, check=True)
    return image_id


def _layer(d, image_id: str) -> str:
    """The chain id of the image's top layer: what moby reports deleted."""
    chain = None
    for diff_id in d.api("GET", f"/images/{image_id}/json")[1]["RootFS"]["Layers"]:
        chain = diff_id if chain is None else "sha256:" + hashlib.sha256(f"{chain} {diff_id}".encode()).hexdigest()
    return chain


def test_image_prune_removes_dangling_images_and_reports(fresh_daemon):
    d = fresh_daemon
    image_id = _dangling(d, "kt-p1")
    layer = _layer(d, image_id)
    res = d.ketch("image", "prune", "-f")
    assert res.returncode == 0, res.stderr
    assert res.stdout == (f"Deleted Images:\ndeleted: {image_id}\ndeleted: {layer}\n\n"
                          "Total reclaimed space: 5B\n")
    assert d.ketch("image", "prune", "-f").stdout == "Total reclaimed space: 0B\n"
    assert d.ketch("images", "-q", "busybox").stdout.strip()  # tagged: left alone


def test_image_prune_prompts_and_all_keeps_images_in_use(fresh_daemon):
    d = fresh_daemon
    res = d.ketch("image", "prune", input="n\n")
    assert res.stdout == "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    d.ketch("run", "--name", "kt-p2", "busybox", "sh", "-c", "echo x > /x", check=True)
    d.ketch("commit", "kt-p2", "kt-prune/unused:1", check=True)
    res = d.ketch("image", "prune", "-a", input="y\n")
    assert res.stdout.startswith(
        "WARNING! This will remove all images without at least one container associated to them.\n"
        "Are you sure you want to continue? [y/N] Deleted Images:\nuntagged: kt-prune/unused:1\ndeleted: sha256:")
    assert res.stdout.endswith("\nTotal reclaimed space: 2B\n")
    assert d.api("GET", "/images/busybox/json")[0] == 200  # kt-p2 uses it


def test_image_prune_filters(fresh_daemon):
    d = fresh_daemon
    d.ketch("run", "--name", "kt-p3", "busybox", "touch", "/y", check=True)
    d.ketch("commit", "-c", "LABEL keep=yes", "kt-p3", "kt-prune/labelled", check=True)
    d.ketch("rm", "kt-p3", check=True)
    out = d.ketch("image", "prune", "-a", "-f", "--filter", "label!=keep=yes").stdout
    assert "kt-prune/labelled" not in out
    out = d.ketch("image", "prune", "-a", "-f", "--filter", "until=2000-01-01T00:00:00Z").stdout
    assert out == "Total reclaimed space: 0B\n"
    out = d.ketch("image", "prune", "-a", "-f", "--filter", "label=keep=yes").stdout
    assert out.startswith("Deleted Images:\nuntagged: kt-prune/labelled:latest\n")
    res = d.ketch("image", "prune", "-f", "--filter", "nope=1")
    assert (res.returncode, res.stderr.strip()) == (1, "Error response from daemon: invalid filter 'nope'")


def test_system_df_and_verbose(fresh_daemon):
    d = fresh_daemon
    d.ketch("run", "--name", "kt-df", "busybox", "sh", "-c", "head -c 3000 /dev/zero > /z", check=True)
    lines = d.ketch("system", "df").stdout.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    # an image any container uses, running or not, is active, and not reclaimable
    assert lines[1].split()[:3] == ["Images", "1", "1"] and lines[1].endswith(" 0B (0%)")
    assert lines[2].split() == ["Containers", "1", "0", "3kB", "3kB", "(100%)"]
    assert lines[3].split() == ["Local", "Volumes", "0", "0", "0B", "0B"]
    assert lines[4].split() == ["Build", "Cache", "0", "0", "0B", "0B"]
    verbose = d.ketch("system", "df", "-v").stdout
    assert verbose.startswith("Images space usage:\n\nREPOSITORY   TAG       IMAGE ID       CREATED")
    assert "\nContainers space usage:\n\nCONTAINER ID   IMAGE     COMMAND" in verbose
    assert "\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n" in verbose
    assert verbose.endswith("\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   "
                            "LAST USED   USAGE     SHARED\n")
    assert " 3kB " in verbose and "kt-df" in verbose
    fmt = d.ketch("system", "df", "--format", "{{.Type}}:{{.TotalCount}}").stdout
    assert fmt == "Images:1\nContainers:1\nLocal Volumes:0\nBuild Cache:0\n"
    doc = d.api("GET", "/system/df")[1]
    assert set(doc) == {"LayersSize", "Images", "Containers", "Volumes", "BuildCache"}
    assert doc["Images"][0]["Containers"] == 1 and doc["Images"][0]["SharedSize"] == 0
    assert doc["Containers"][0]["SizeRw"] == 3000
    assert d.api("GET", "/system/df?type=image")[1]["Containers"] is None
    status, body = d.api("GET", "/system/df?type=nope")
    assert (status, body["message"]) == (400, "unknown object type: nope")


def test_system_prune_prompt_and_run(fresh_daemon):
    d = fresh_daemon
    res = d.ketch("system", "prune", "--filter", "label=a=b", input="\n")
    assert res.stdout == ("WARNING! This will remove:\n  - all stopped containers\n"
                          "  - all networks not used by at least one container\n  - all dangling images\n"
                          "  - unused build cache\n\n  Items to be pruned will be filtered with:\n"
                          "  - label=a=b\n\nAre you sure you want to continue? [y/N] ")
    d.ketch("create", "--name", "kt-sp", "busybox", check=True)
    image_id = _dangling(d, "kt-sp2")
    res = d.ketch("system", "prune", "-f", "--volumes")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Deleted Containers:\n")
    assert f"\n\nDeleted Images:\ndeleted: {image_id}\n" in res.stdout
    assert res.stdout.endswith("\nTotal reclaimed space: 5B\n")
    assert d.ketch("ps", "-aq").stdout == ""
    res = d.ketch("system", "prune", "-f", "--volumes", "--filter", "until=1h")
    assert (res.returncode, res.stderr.strip()) == (1, 'ERROR: The "until" filter is not supported with "--volumes"')


@needs_docker
def test_docker_cli_and_sdk_prune_and_df(fresh_daemon):
    d = fresh_daemon
    image_id = _dangling(d, "kt-p4")
    df = d.docker("system", "df")
    assert df.returncode == 0 and df.stdout.splitlines()[1].split()[:3] == ["Images", "2", "0"], df.stdout
    res = d.docker("image", "prune", "-f")
    assert res.stdout.startswith(f"Deleted Images:\ndeleted: {image_id}\n"), res.stdout + res.stderr
    image_id = _dangling(d, "kt-p5")
    client = d.sdk()
    report = client.images.prune()
    assert {"Deleted": image_id} in report["ImagesDeleted"] and report["SpaceReclaimed"] == 5
    usage = client.df()
    assert len(usage["Images"]) == 1 and usage["Volumes"] == [] and usage["BuildCache"] == []
    res = d.docker("system", "prune", "-f")
    assert res.returncode == 0 and res.stdout.endswith("Total reclaimed space: 0B\n"), res.stdout + res.stderr


def test_the_answers_carry_every_key_of_the_swagger(fresh_daemon):
    """system df, image prune, commit, history and image inspect of a commit, against the
    Engine API 1.45 swagger."""
    from tests import swagger
    d = fresh_daemon
    d.ketch("run", "--name", "kt-keys", "busybox", "touch", "/k", check=True)
    status, body = d.api("POST", "/commit?container=kt-keys&repo=kt-keys&tag=1")
    assert status == 201 and swagger.missing(body, swagger.operation_schema("/commit", "post", 201)) == []
    status, doc = d.api("GET", "/images/kt-keys:1/json")
    assert swagger.missing(doc, swagger.operation_schema("/images/{name}/json")) == []
    assert doc["Parent"].startswith("sha256:") and doc["Metadata"]["LastTagTime"].startswith("20")
    status, hist = d.api("GET", "/images/kt-keys:1/history")
    assert swagger.missing(hist, swagger.operation_schema("/images/{name}/history")) == []
    status, df = d.api("GET", "/system/df")
    assert status == 200 and swagger.missing(df, swagger.operation_schema("/system/df")) == []
    d.ketch("rm", "kt-keys", check=True)
    d.api("DELETE", "/images/kt-keys:1")
    _dangling(d, "kt-keys2")
    status, report = d.api("POST", "/images/prune")
    assert status == 200
    assert swagger.missing(report, swagger.operation_schema("/images/prune", "post")) == []
