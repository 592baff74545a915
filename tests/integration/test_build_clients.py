"""The real docker CLI (``DOCKER_BUILDKIT=0 docker build``, the classic builder's client)
and the docker Python SDK (``images.build``, ``api.build``, ``prune_builds``) against ketchd,
unchanged. Expected output is dockerd 20.10's with docker 28.2 (ORACLE12)."""

import io
import os
import re
import secrets
import shutil
import tarfile

import pytest
from tests.integration.buildclean import remove_build_leftovers

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")
BANNER = re.compile(r"DEPRECATED: The legacy builder is deprecated.*?environment-variable\.\n\n?", re.S)


@pytest.fixture
def tags(daemon):
    made: list[str] = []

    def make() -> str:
        made.append(f"kc-{secrets.token_hex(4)}:latest")
        return made[-1]

    yield make
    for tag in made:
        daemon.api("DELETE", f"/images/{tag}?force=1")
    remove_build_leftovers(daemon)


def _docker(daemon, *args, input=None):
    env = daemon.env()
    env["DOCKER_BUILDKIT"] = "0"
    import subprocess
    raw = subprocess.run(["docker", *args], input=input, capture_output=True, env=env, timeout=120,
                         stdin=None if input is not None else subprocess.DEVNULL)
    return raw.returncode, raw.stdout.decode(errors="replace"), BANNER.sub("", raw.stderr.decode(errors="replace"))


def _ctx(tmp_path, dockerfile: str, **files) -> str:
    (tmp_path / "Dockerfile").write_text(dockerfile)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return str(tmp_path)


@needs_docker
def test_docker_build_as_with_dockerd(daemon, tags, tmp_path):
    tag = tags()
    ctx = _ctx(tmp_path, "FROM busybox\nENV A=1\nCOPY a.txt /a.txt\nRUN cat /a.txt\n", **{"a.txt": "A\n"})
    code, out, err = _docker(daemon, "build", "-t", tag, ctx)
    assert code == 0, err
    body = re.sub(r"\b[0-9a-f]{12}\b", "X", out.split("\r\r\n", 1)[1].lstrip("\n"))
    assert body == (
        "Step 1/4 : FROM busybox\n ---> X\n"
        "Step 2/4 : ENV A=1\n ---> Running in X\nRemoving intermediate container X\n ---> X\n"
        "Step 3/4 : COPY a.txt /a.txt\n ---> X\n"
        "Step 4/4 : RUN cat /a.txt\n ---> Running in X\nA\nRemoving intermediate container X\n ---> X\n"
        f"Successfully built X\nSuccessfully tagged {tag}\n")
    code, out, err = _docker(daemon, "build", "-q", "-t", tag, ctx)
    assert code == 0 and re.fullmatch(r"sha256:[0-9a-f]{64}\n", out), err
    iid = tmp_path / "iid"
    code, _, err = _docker(daemon, "build", "--iidfile", str(iid), "-t", tag, ctx)
    assert code == 0 and iid.read_text() == out.strip()


@needs_docker
def test_docker_build_errors_and_exit_codes(daemon, tags, tmp_path):
    tag = tags()
    ctx = _ctx(tmp_path, "FROM busybox\nRUN echo out; exit 3\n")
    code, out, err = _docker(daemon, "build", "-t", tag, ctx)
    assert code == 3
    assert err.strip() == "The command '/bin/sh -c echo out; exit 3' returned a non-zero code: 3"
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUNN echo hi\n")
    code, out, err = _docker(daemon, "build", ctx)
    assert code == 1
    assert err.strip() == "Error response from daemon: dockerfile parse error line 2: unknown instruction: RUNN"
    code, out, err = _docker(daemon, "build", "-", input=b"FROM busybox\nLABEL a=b\n")
    assert code == 0, err


@needs_docker
def test_docker_build_with_a_dockerfile_outside_the_context(daemon, tags, tmp_path):
    """``docker build -f- .`` and ``-f ../Dockerfile``: docker/cli adds the Dockerfile to the
    context's tar as ``.dockerfile.<random>``, a tar with no padding after its last data."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "hello.txt").write_text("hi\n")
    dockerfile = "FROM busybox\nCOPY hello.txt /\nRUN cat /hello.txt\n"
    (tmp_path / "Dockerfile.out").write_text(dockerfile)
    tag = tags()
    code, out, err = _docker(daemon, "build", "-t", tag, "-f", str(tmp_path / "Dockerfile.out"), str(ctx))
    assert code == 0, err
    assert "\nhi\n" in out and f"Successfully tagged {tag}\n" in out
    code, out, err = _docker(daemon, "build", "-t", tag, "-f-", str(ctx), input=dockerfile.encode())
    assert code == 0, err
    assert "Step 3/3 : RUN cat /hello.txt" in out and f"Successfully tagged {tag}\n" in out


def test_sdk_images_build(daemon, tags, tmp_path):
    import docker
    tag = tags()
    client = daemon.sdk()
    ctx = _ctx(tmp_path, "FROM busybox\nARG X=1\nRUN echo x=$X\n")
    image, logs = client.images.build(path=ctx, tag=tag, buildargs={"X": "7"}, labels={"l": "v"})
    text = "".join(m.get("stream", "") for m in logs)
    assert "x=7\n" in text and f"Successfully tagged {tag}\n" in text
    assert tag in image.tags and image.labels == {"l": "v"}
    with pytest.raises(docker.errors.BuildError) as err:
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 5\n"), tag=tag)
    assert str(err.value) == "The command '/bin/sh -c exit 5' returned a non-zero code: 5"
    with pytest.raises(docker.errors.APIError) as err:
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUNN x\n"))
    assert err.value.status_code == 400
    assert "unknown instruction: RUNN" in str(err.value)
    report = client.api.prune_builds()
    assert set(report) == {"CachesDeleted", "SpaceReclaimed"}
    client.close()


def test_sdk_low_level_stream(daemon, tags):
    tag = tags()
    client = daemon.sdk()
    lines = list(client.api.build(fileobj=io.BytesIO(b"FROM busybox\nENV B=2\n"), tag=tag, decode=True,
                                  rm=True))
    assert lines[0] == {"stream": "Step 1/2 : FROM busybox"}
    assert {"aux": {"ID": client.images.get(tag).id}} in lines
    assert lines[-1] == {"stream": f"Successfully tagged {tag}\n"}
    client.close()
    assert os.path.isdir(daemon.data_root)


MULTISTAGE = (b"FROM busybox AS a\nRUN echo a > /a\n\nFROM busybox AS b\nRUN echo b > /b\n"
              b"FROM a\nCOPY --from=b /b /b\n"
              b"COPY --from=0 /a /a0\nCOPY --from=busybox /bin/true /t\n")

# dockerd 20.10's stream for it, built a second time, ids as X: ORACLE12's "multistage" without
# its stage "unused" (which dockerd 20.10 builds and ketch, as BuildKit, does not: the issue)
ORACLE_MULTISTAGE_CACHED = """\
{"stream":"Step 1/8 : FROM busybox AS a"}
{"stream":"\\n"}
{"stream":" ---\\u003e X\\n"}
{"stream":"Step 2/8 : RUN echo a \\u003e /a"}
{"stream":"\\n"}
{"stream":" ---\\u003e Using cache\\n"}
{"stream":" ---\\u003e X\\n"}
{"aux":{"ID":"sha256:X"}}
{"stream":"Step 3/8 : FROM busybox AS b"}
{"stream":"\\n"}
{"stream":" ---\\u003e X\\n"}
{"stream":"Step 4/8 : RUN echo b \\u003e /b"}
{"stream":"\\n"}
{"stream":" ---\\u003e Using cache\\n"}
{"stream":" ---\\u003e X\\n"}
{"aux":{"ID":"sha256:X"}}
{"stream":"Step 5/8 : FROM a"}
{"stream":"\\n"}
{"stream":" ---\\u003e X\\n"}
{"stream":"Step 6/8 : COPY --from=b /b /b"}
{"stream":"\\n"}
{"stream":" ---\\u003e Using cache\\n"}
{"stream":" ---\\u003e X\\n"}
{"stream":"Step 7/8 : COPY --from=0 /a /a0"}
{"stream":"\\n"}
{"stream":" ---\\u003e Using cache\\n"}
{"stream":" ---\\u003e X\\n"}
{"stream":"Step 8/8 : COPY --from=busybox /bin/true /t"}
{"stream":"\\n"}
{"stream":" ---\\u003e Using cache\\n"}
{"stream":" ---\\u003e X\\n"}
{"aux":{"ID":"sha256:X"}}
{"stream":"Successfully built X\\n"}
{"stream":"Successfully tagged TAG\\n"}
"""


def test_the_raw_stream_is_dockerds(daemon, tags):
    tag = tags()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(MULTISTAGE)
        tf.addfile(info, io.BytesIO(MULTISTAGE))
    path = f"/v1.41/build?t={tag}&networkmode=none"
    status, first, _ = daemon.api("POST", path, buf.getvalue(), raw=True)
    assert status == 200, first
    status, second, headers = daemon.api("POST", path, buf.getvalue(), raw=True)
    assert (status, headers["content-type"]) == (200, "application/json")
    text = re.sub(r"\b[0-9a-f]{64}\b|\b[0-9a-f]{12}\b", "X", second.decode()).replace(tag, "TAG")
    assert text.replace("\r\n", "\n") == ORACLE_MULTISTAGE_CACHED
    assert second.count(b"\r\n") == ORACLE_MULTISTAGE_CACHED.count("\n")


@needs_docker
def test_docker_system_df_and_builder_prune(daemon, tags, tmp_path):
    tag = tags()
    ctx = _ctx(tmp_path, f"FROM busybox\nRUN echo {secrets.token_hex(4)} > /f\n")
    code, _, err = _docker(daemon, "build", "-q", "-t", tag, ctx)
    assert code == 0, err
    code, out, err = _docker(daemon, "system", "df")
    assert code == 0, err
    assert re.search(r"^Build Cache +[1-9]", out, re.M), out
    code, out, err = _docker(daemon, "system", "df", "-v")
    assert code == 0 and "Build cache usage: " in out, err
    assert re.search(r"^[0-9a-f]{12}\*? +regular ", out, re.M), out
    code, out, err = _docker(daemon, "builder", "prune", "-af")
    assert code == 0, err
    assert out.startswith("Deleted build cache objects:\n") and "Total reclaimed space: " in out
