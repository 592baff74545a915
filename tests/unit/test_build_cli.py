"""``ketch build`` and ``builder prune`` on the client: flags, the query docker's client
sends, the progress renderers (plain as docker's CLI, the BuildKit-like tty view), the
stream's exit code; the build cache rows of ``system df -v``."""

import base64
import io
import json
import os

import pytest

from ketch.cli import buildprogress, buildrequest, flags
from ketch.cli.buildcontext import Context
from ketch.cli.commands import build as buildcmd
from ketch.cli.format import diskusage
from ketch.cli.main import StatusError, main
from ketch.client.build import build_query

ORACLE_SIMPLE = [  # dockerd 20.10's stream for the ORACLE12 "simple" case
    {"stream": "Step 1/4 : FROM busybox"}, {"stream": "\n"},
    {"stream": " ---> 797be41a21b4\n"},
    {"stream": "Step 2/4 : ENV A=1"}, {"stream": "\n"},
    {"stream": " ---> Running in d5beabf757d1\n"},
    {"stream": "Removing intermediate container d5beabf757d1\n"},
    {"stream": " ---> 5686f2ed9435\n"},
    {"stream": "Step 3/4 : RUN echo hello && echo err >&2"}, {"stream": "\n"},
    {"stream": " ---> Running in fe5cf98e1f3f\n"},
    {"stream": "hello\n"}, {"stream": "\x1b[91merr\n\x1b[0m"},
    {"stream": "Removing intermediate container fe5cf98e1f3f\n"},
    {"stream": " ---> 9c9786ba0898\n"},
    {"stream": "Step 4/4 : CMD [\"echo\", \"hi\"]"}, {"stream": "\n"},
    {"stream": " ---> Using cache\n"},
    {"stream": " ---> 25946a27758b\n"},
    {"aux": {"ID": "sha256:25946a27758bf3f28f12e52aa8e59f41962b8de52ec0bd32292236428c4ed428"}},
    {"stream": "Successfully built 25946a27758b\n"},
    {"stream": "Successfully tagged oracle/simple:latest\n"},
]


class FakeResponse:
    def __init__(self, messages) -> None:
        self.body = b"".join(json.dumps(m).encode() + b"\r\n" for m in messages)

    def chunks(self):
        for i in range(0, len(self.body), 7):  # lines split across chunks
            yield self.body[i:i + 7]


def test_the_query_is_docker_clients():
    q = build_query(tags=["a:1"], dockerfile="Dockerfile", network="default",
                    build_args={"A": "1", "B": None})
    assert q == {"t": ["a:1"], "rm": "1", "cpusetcpus": "", "networkmode": "default",
                 "cpusetmems": "", "cpushares": "0", "cpuquota": "0", "cpuperiod": "0",
                 "memory": "0", "memswap": "0", "cgroupparent": "", "shmsize": "0",
                 "dockerfile": "Dockerfile", "target": "", "ulimits": "null",
                 "buildargs": '{"A":"1","B":null}', "labels": "{}", "cachefrom": "null",
                 "version": "1"}
    q = build_query(quiet=True, rm=False, force_rm=True, no_cache=True, pull=True,
                    platform="Linux/AMD64", remote="https://x/c.tar", no_cache_filter=["s1"],
                    source_date_epoch="0")
    assert (q["q"], q["rm"], q["forcerm"], q["nocache"], q["pull"], q["platform"], q["remote"],
            q["nocachefilter"], q["sourcedateepoch"]) == \
        ("1", "0", "1", "1", "1", "linux/amd64", "https://x/c.tar", ["s1"], "0")


def test_allow_reaches_the_query():
    opts, _ = flags.parse(buildcmd.BUILD, ["--allow", "network.host", "."])
    assert opts["allow"] == ["network.host"]
    assert build_query(allow=opts["allow"])["allow"] == ["network.host"]
    assert "allow" not in build_query()


def test_build_args_and_labels_as_docker_converts_them(monkeypatch):
    monkeypatch.setenv("FROMENV", "v")
    monkeypatch.delenv("NOTSET", raising=False)
    opts, _ = flags.parse(buildcmd.BUILD, ["--build-arg", "A=1", "--build-arg", "FROMENV",
                                           "--build-arg", "NOTSET", "--label", "l", "."])
    assert buildrequest.kv_map(opts["build-arg"], True) == {"A": "1", "FROMENV": "v", "NOTSET": None}
    assert buildrequest.kv_map(opts["label"], False) == {"l": ""}


@pytest.mark.parametrize("argv, code, text", [
    ([], 1, "ketch: 'ketch build' requires 1 argument"),
    (["-t", "Bad:x", "."], 125, 'invalid argument "Bad:x" for "-t, --tag" flag: invalid reference format'),
    (["--add-host", "nope", "."], 125, 'invalid argument "nope" for "--add-host" flag: bad format for add-host'),
    (["--bogus", "."], 125, "unknown flag: --bogus"),
])
def test_flag_errors(argv, code, text):
    with pytest.raises(flags.UsageError) as err:
        flags.parse(buildcmd.BUILD, argv, "ketch build")
    assert err.value.exit_code == code
    assert err.value.text().startswith(text)


def test_progress_mode_is_checked(capsys):
    assert main(["build", "--progress", "fancy", "."]) == 1
    assert 'invalid progress mode "fancy"' in capsys.readouterr().err


def test_squash_needs_an_experimental_daemon(capsys):
    """docker/cli refuses the flag (annotated experimentalDaemon) before it sends anything:
    neither dockerd 20.10 nor ketchd is experimental."""
    assert main(["build", "--squash", "."]) == 1
    assert capsys.readouterr().err.strip().endswith(
        '"--squash" is only supported on a Docker daemon with experimental features enabled')


def test_a_daemon_that_is_down_gets_no_sending_line(tmp_path, monkeypatch, capsys):
    """docker prints only the connection error: its progress line comes as the body is read."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    sock = tmp_path / "nosuch.sock"
    monkeypatch.setenv("KETCH_HOST", f"unix://{sock}")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{sock}")
    assert main(["build", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"Cannot connect to the ketch daemon at unix://{sock}. Is the ketch daemon running?\n")


def test_secrets_header(tmp_path, monkeypatch):
    (tmp_path / "s").write_bytes(b"file-secret")
    monkeypatch.setenv("TOKEN", "env-secret")
    header = buildrequest.secrets_header([f"id=one,src={tmp_path / 's'}", "id=two,env=TOKEN", "id=TOKEN"])
    doc = json.loads(base64.b64decode(header))
    assert {k: base64.b64decode(v) for k, v in doc.items()} == {
        "one": b"file-secret", "two": b"env-secret", "TOKEN": b"env-secret"}
    with pytest.raises(StatusError) as err:
        buildrequest.secrets_header(["src=/x"])
    assert err.value.message == 'failed to parse secret "src=/x": secret ID missing'
    with pytest.raises(StatusError) as err:
        buildrequest.secrets_header(["id=x,src=/nonexistent/secret"])
    assert err.value.message == "failed to read secret x: open /nonexistent/secret: no such file or directory"


def test_plain_is_dockers_output_and_aux_gives_the_id():
    out, ids = io.StringIO(), []
    buildprogress.render_plain(FakeResponse(ORACLE_SIMPLE), out, False, 200, ids.append)
    assert out.getvalue() == (
        "Step 1/4 : FROM busybox\n ---> 797be41a21b4\nStep 2/4 : ENV A=1\n"
        " ---> Running in d5beabf757d1\nRemoving intermediate container d5beabf757d1\n"
        " ---> 5686f2ed9435\nStep 3/4 : RUN echo hello && echo err >&2\n"
        " ---> Running in fe5cf98e1f3f\nhello\n\x1b[91merr\n\x1b[0m"
        "Removing intermediate container fe5cf98e1f3f\n ---> 9c9786ba0898\n"
        'Step 4/4 : CMD ["echo", "hi"]\n ---> Using cache\n ---> 25946a27758b\n'
        "Successfully built 25946a27758b\nSuccessfully tagged oracle/simple:latest\n")
    assert ids == [ORACLE_SIMPLE[-3]["aux"]]


def test_a_failed_run_exits_with_its_code():
    msg = "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    stream = ORACLE_SIMPLE[:11] + [{"errorDetail": {"code": 3, "message": msg}, "error": msg}]
    for render in (lambda r, o: buildprogress.render_plain(r, o, False, 200, lambda a: None),
                   lambda r, o: buildprogress.render_tty(r, o, 80, lambda a: None)):
        with pytest.raises(buildprogress.BuildFailed) as err:
            render(FakeResponse(stream), io.StringIO())
        assert (str(err.value), err.value.code) == (msg, 3)
    failed = [{"errorDetail": {"message": "COPY failed: x"}, "error": "COPY failed: x"}]
    with pytest.raises(buildprogress.BuildFailed) as err:
        buildprogress.render_plain(FakeResponse(failed), io.StringIO(), False, 200, lambda a: None)
    assert err.value.code == 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_steps_follow_the_stream():
    clock = Clock()
    steps = buildprogress.Steps(clock)
    for msg in ORACLE_SIMPLE[:12]:
        if "stream" in msg:
            steps.feed(msg["stream"])
        clock.now += 0.5
    assert [(s.index, s.text, s.state) for s in steps.steps] == [
        (1, "FROM busybox", "done"), (2, "ENV A=1", "done"),
        (3, "RUN echo hello && echo err >&2", "running")]
    assert steps.current.output == ["hello"]
    for msg in ORACLE_SIMPLE[12:]:
        if "stream" in msg:
            steps.feed(msg["stream"])
    steps.finish()
    assert [s.state for s in steps.steps] == ["done", "done", "done", "cached"]
    assert steps.steps[2].output == ["hello", "err"]  # the red codes taken off
    assert (steps.image_id, steps.tags) == ("25946a27758b", ["oracle/simple:latest"])


def test_tty_view_shows_the_running_steps_output_and_folds_it_when_done():
    clock = Clock()
    steps = buildprogress.Steps(clock)
    view = buildprogress.TtyView(steps, 60)
    for msg in ORACLE_SIMPLE[:12]:
        if "stream" in msg:
            steps.feed(msg["stream"])
    clock.now += 1.25
    assert view.frame() == [
        "[+] Building 1.2s (2/4)",
        " => [1/4] FROM busybox                                  0.0s",
        " => [2/4] ENV A=1                                       0.0s",
        " => [3/4] RUN echo hello && echo err >&2                1.2s",
        " => => # hello",
    ]
    for msg in ORACLE_SIMPLE[12:]:
        if "stream" in msg:
            steps.feed(msg["stream"])
    steps.finish()
    frame = view.frame()
    assert frame[0] == "[+] Building 1.2s (4/4) FINISHED"
    assert frame[3] == " => [3/4] RUN echo hello && echo err >&2                1.2s"
    assert frame[4] == " => CACHED [4/4] CMD [\"echo\", \"hi\"]                     0.0s"
    assert frame[-2:] == [" => => writing image 25946a27758b", " => => naming to oracle/simple:latest"]


def test_tty_renderer_redraws_in_place():
    out, clock = io.StringIO(), Clock()
    r = buildprogress.TtyRenderer(out, 60, clock)
    r.feed("Step 1/1 : FROM busybox\n")
    clock.now += 1
    r.feed(" ---> 797be41a21b4\n")
    text = out.getvalue()
    assert text.count("[+] Building") == 2
    assert "\x1b[2A" in text  # up over the two lines drawn before


def test_system_df_verbose_lists_the_build_cache():
    doc = {"Images": [], "Containers": [], "Volumes": [], "LayersSize": 0, "BuildCache": [
        {"ID": "sha256:" + "b" * 64, "Parents": None, "Type": "regular", "Description": "RUN make",
         "InUse": False, "Shared": False, "Size": 2048, "CreatedAt": "2026-12-07T00:00:00Z",
         "LastUsedAt": "2026-12-07T00:00:01Z", "UsageCount": 2},
        {"ID": "sha256:" + "a" * 64, "Parents": None, "Type": "regular", "Description": "COPY x",
         "InUse": True, "Shared": False, "Size": 1000, "CreatedAt": "2026-12-07T00:00:00Z",
         "LastUsedAt": None, "UsageCount": 0},
    ]}
    text = diskusage.verbose_tables(doc)
    cache = text[text.index("Build cache usage"):].splitlines()
    assert cache[0] == "Build cache usage: 3.048kB"
    assert cache[2].split() == ["CACHE", "ID", "CACHE", "TYPE", "SIZE", "CREATED", "LAST", "USED",
                                "USAGE", "SHARED"]
    assert cache[3].split()[:3] == ["aaaaaaaaaaaa*", "regular", "1kB"]
    assert cache[4].split()[:3] == ["bbbbbbbbbbbb", "regular", "2.05kB"]
    rows = diskusage.summary_rows(doc)
    assert (rows[3].Type, rows[3].TotalCount, rows[3].Active, rows[3].Size) == ("Build Cache", "2", "1", "3.048kB")


def test_builder_prune_asks_then_reports(monkeypatch, capsys):
    calls = []

    class Client:
        def prune_build_cache(self, all, filters, keep_storage):
            calls.append((all, filters, keep_storage))
            return {"CachesDeleted": ["x1", "x2"], "SpaceReclaimed": 2048}

    class Cli:
        client = Client()

    from ketch.cli.commands import builder
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    assert builder.prune(Cli(), ["-a"], "ketch builder prune") == 0
    assert calls == []
    assert capsys.readouterr().out == ("WARNING! This will remove all build cache. "
                                      "Are you sure you want to continue? [y/N] ")
    assert builder.prune(Cli(), ["-f", "--filter", "until=24h", "--keep-storage", "1k"],
                         "ketch builder prune") == 0
    assert calls == [(False, {"until": ["24h"]}, 1024)]
    assert capsys.readouterr().out == "Deleted build cache objects:\nx1\nx2\n\nTotal reclaimed space: 2.048kB\n"


def test_the_commands_are_registered():
    from ketch.cli.main import COMMANDS, MANAGEMENT
    assert COMMANDS["build"] == ("build", "build")
    assert MANAGEMENT["image"]["build"] == "build"
    assert MANAGEMENT["builder"] == {"build": "build", "prune": ("builder", "prune")}
    assert os.path.exists(os.path.join(os.path.dirname(buildcmd.__file__), "builder.py"))


def test_compress_reports_the_size_it_sends(capsys):
    """docker's ProgressReader counts the bytes it sends: with --compress, the gzip's."""
    import gzip
    sent = []

    class Client:
        def build(self, chunks, query, headers):
            sent.append(b"".join(chunks))
            return FakeResponse(ORACLE_SIMPLE)

    class Cli:
        client = Client()

    data = b"a" * 7680
    ctx = Context(io.BytesIO(data), len(data), "Dockerfile")
    assert buildcmd._run(Cli(), ctx, {}, {}, False, "plain", "", True) == 0
    assert gzip.decompress(sent[0]) == data
    first = capsys.readouterr().out.split("\r\r\n")[0]
    assert first == "Sending build context to Docker daemon " + f"{len(sent[0])}B".rjust(8)
    assert len(sent[0]) < 100  # not the 7.68kB it compresses


def test_no_sending_line_when_the_daemon_is_not_there(capsys):
    """docker's ProgressReader reports the context as the request sends it: a daemon that
    cannot be reached gets only the error."""
    from ketch.client.http import ConnectionFailed

    class Client:
        def build(self, chunks, query, headers):
            raise ConnectionFailed("Cannot connect to the Docker daemon at unix:///nowhere.sock. "
                                   "Is the docker daemon running?")

    class Cli:
        client = Client()

    ctx = Context(io.BytesIO(b"tar"), 3, "Dockerfile")
    with pytest.raises(StatusError) as err:
        buildcmd._run(Cli(), ctx, {}, {}, False, "plain", "", False)
    assert err.value.message.startswith("Cannot connect to the Docker daemon")
    assert capsys.readouterr().out == ""


def test_compress_sends_the_context_gzipped():
    import gzip
    chunks = [b"a" * 100000, b"", b"b" * 5]
    assert gzip.decompress(b"".join(buildrequest.gzip_chunks(iter(chunks)))) == b"".join(chunks)


def test_tty_renderer_ticks_while_a_step_prints_nothing():
    import time as _time
    out = io.StringIO()
    r = buildprogress.TtyRenderer(out, 60, ticking=True)
    r.feed("Step 1/1 : RUN sleep 1\n")
    _time.sleep(0.35)
    r.finish()
    assert out.getvalue().count("[+] Building") >= 3  # redrawn without new output
    frames = out.getvalue().count("[+] Building")
    _time.sleep(0.25)
    assert out.getvalue().count("[+] Building") == frames  # the thread stopped


def test_tty_shows_a_pull_as_the_from_steps_output():
    stream = [{"stream": "Step 1/1 : FROM reg/img"}, {"stream": "\n"},
              {"status": "Pulling from reg/img", "id": "latest"},
              {"status": "Downloading", "progressDetail": {"current": 1, "total": 2}, "id": "abc",
               "progress": "[==>  ]"},
              {"status": "Pull complete", "progressDetail": {}, "id": "abc"}]
    steps = buildprogress.Steps(Clock())
    for msg in stream:
        steps.feed(buildprogress.tty_text(msg))
    assert steps.current.output == ["latest: Pulling from reg/img", "abc: Pull complete"]


def test_memory_swap_in_bytes():
    """--memory-swap 1g (a RAM size, not -1) converts: the helper's move called a
    units function that does not exist (an AttributeError traceback)."""
    assert buildrequest.ram("1g") == 1 << 30
