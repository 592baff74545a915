"""Stages: FROM <stage>, COPY --from by name, index and image, --target, only the stages the
target needs, independent stages at the same time with their output in order, ONBUILD."""

import pytest

from ketch.build.request import Message, StageDone, StepDone, StepOutput, StepStart
from ketch.errors import BuildStepFailed, InvalidArgument
from tests.unit.buildfake import busybox_document
from tests.unit.buildhelpers import Build, copy, dockerfile, env, run, stage


def _writes(spec, files):
    """RUN echo X > /f: the fake's stand-in for a shell."""
    words = spec.argv[-1].split()
    if len(words) == 4 and words[0] == "echo" and words[2] == ">":
        files[words[3]] = (words[1] + "\n").encode()
    return (spec.argv[-1].encode() + b"\n", 0) if words[0] == "say" else (b"", 0)


def multistage():
    return dockerfile(
        stage("busybox", run("echo a > /a"), name="a"),
        stage("busybox", run("echo b > /b"), name="b"),
        stage("busybox", run("echo unused > /u"), name="unused"),
        stage("a", copy("/b", dest="/b", from_="b"), copy("/a", dest="/a0", from_="0"),
              copy("/bin/sh", dest="/t", from_="busybox")))


def test_multistage_copy_from_stage_index_and_image():
    b = Build()
    b.backend.on_run = _writes
    result = b(multistage())
    files = b.backend.files[result.image_id]
    assert (files["/a"], files["/b"], files["/a0"], files["/t"]) == (b"a\n", b"b\n", b"a\n", b"ELF")
    history = b.created_by(result.image_id)
    assert history[1] == "/bin/sh -c echo a > /a"
    assert history[2].startswith("/bin/sh -c #(nop) COPY file:") and history[2].endswith(" in /b ")
    # the unused stage is not built; steps are numbered over the stages built
    assert not any(spec.argv[-1] == "echo unused > /u" for spec in
                   [c[2] for c in b.backend.calls if c[0] == "run"])
    starts = [(e.index, e.total, e.text) for e in b.events if isinstance(e, StepStart)]
    assert starts == [(1, 8, "FROM busybox AS a"), (2, 8, "RUN echo a > /a"),
                      (3, 8, "FROM busybox AS b"), (4, 8, "RUN echo b > /b"),
                      (5, 8, "FROM a"), (6, 8, "COPY /b /b"), (7, 8, "COPY /a /a0"),
                      (8, 8, "COPY /bin/sh /t")]
    # FROM a shows stage a's image; an aux ID per stage
    stage_a = [e.image_id for e in b.events if isinstance(e, StageDone)][0]
    from_a = [e for e in b.events if isinstance(e, StepDone) and e.index == 5][0]
    assert from_a.image_id == stage_a
    assert len([e for e in b.events if isinstance(e, StageDone)]) == 3
    sources = [c[2] for c in b.backend.calls if c[0] == "mutate"]
    assert sources[2] == (b.backend.refs["busybox"],)


def test_independent_stages_run_together_and_report_in_order():
    b = Build()
    b.backend.on_run = _writes
    b(dockerfile(stage("busybox", run("say a1"), run("say a2"), name="a"),
                 stage("busybox", run("say b1"), name="b"),
                 stage("busybox", copy("/bin/sh", dest="/a", from_="a"),
                       copy("/bin/sh", dest="/b", from_="b"))))
    runs = [c for c in b.backend.calls if c[0] in ("run", "ran")]
    order = [(c[0], c[2].argv[-1] if c[0] == "run" else c[1][-1]) for c in runs]
    # b1 started before a1 finished: the stages ran at the same time
    assert order.index(("run", "say b1")) < order.index(("ran", "say a1"))
    outputs = [e.data for e in b.events if isinstance(e, StepOutput)]
    assert outputs == [b"say a1\n", b"say a2\n", b"say b1\n"]
    indices = [e.index for e in b.events if isinstance(e, StepStart)]
    assert indices == list(range(1, 9))


def test_target_builds_only_what_it_needs():
    b = Build()
    b.backend.on_run = _writes
    result = b(multistage(), target="b")
    assert b.backend.files[result.image_id]["/b"] == b"b\n"
    argvs = [c[2].argv[-1] for c in b.backend.calls if c[0] == "run"]
    assert argvs == ["echo b > /b"]
    assert [(e.index, e.total) for e in b.events if isinstance(e, StepStart)] == [(1, 2), (2, 2)]
    with pytest.raises(InvalidArgument, match="^failed to reach build target nosuch in Dockerfile$"):
        b(multistage(), target="nosuch")
    # the target's name is matched in any case
    assert b(multistage(), target="B").image_id == result.image_id


@pytest.mark.parametrize("ref, message", [
    ("0", "invalid from flag value 0: refers to current build stage"),
    ("1", "invalid from flag value 1: index out of bounds"),
])
def test_copy_from_a_bad_index(ref, message):
    with pytest.raises(InvalidArgument) as exc:
        Build()(dockerfile(stage("busybox", copy("/x", dest="/x", from_=ref))))
    assert str(exc.value) == message


def test_copy_from_a_missing_image_names_the_flag():
    with pytest.raises(Exception) as exc:
        Build()(dockerfile(stage("busybox", copy("/x", dest="/x", from_="nosuch"))))
    assert str(exc.value).startswith("invalid from flag value nosuch: pull access denied for nosuch")


def test_a_stage_named_twice_fails_when_reached():
    b = Build()
    with pytest.raises(InvalidArgument, match="^a stage name already used$"):
        b(dockerfile(stage("busybox", env(("A", "1")), name="a"), stage("busybox", name="a")))
    assert [e.text for e in b.events if isinstance(e, StepStart)] == ["FROM busybox AS a", "ENV A=1"]


def test_a_failing_stage_stops_the_build_and_tags_nothing():
    b = Build()
    b.backend.on_run = lambda spec, files: (b"", 3) if "false" in spec.argv[-1] else (b"", 0)
    with pytest.raises(BuildStepFailed) as exc:
        b(dockerfile(stage("busybox", run("sleep"), name="a"), stage("busybox", run("false"), name="b"),
                     stage("busybox", copy("/bin/sh", dest="/a", from_="a"),
                           copy("/bin/sh", dest="/b", from_="b"))), tags=("t:1",))
    assert str(exc.value) == "The command '/bin/sh -c false' returned a non-zero code: 3"
    assert exc.value.exit_code == 3
    assert not [c for c in b.backend.calls if c[0] == "tag"]


def test_onbuild_triggers_run_first_and_are_cleared(tmp_path):
    (tmp_path / "trig.txt").write_bytes(b"T2\n")
    b = Build()
    b.backend.on_run = _writes
    document = busybox_document()
    document["config"]["OnBuild"] = ["RUN echo trig > /trig", "ENV T=1", "COPY trig.txt /trig.txt"]
    b.backend.add_base("parent", document, {"/bin/sh": b"ELF"})
    b.triggers = {"RUN echo trig > /trig": run("echo trig > /trig"), "ENV T=1": env(("T", "1")),
                  "COPY trig.txt /trig.txt": copy("trig.txt", dest="/trig.txt")}
    result = b(dockerfile(stage("parent", run("cat /trig"))), str(tmp_path))
    doc = b.image(result.image_id)
    assert doc["config"]["OnBuild"] is None
    assert doc["config"]["Env"][-1] == "T=1"
    history = [h["created_by"] for h in doc["history"][1:]]
    assert history[:2] == ["/bin/sh -c echo trig > /trig", "/bin/sh -c #(nop)  ENV T=1"]
    assert history[2].startswith("/bin/sh -c #(nop) COPY file:")
    assert b.backend.files[result.image_id]["/trig.txt"] == b"T2\n"
    names = [type(e).__name__ for e in b.events]
    texts = [e.text for e in b.events if isinstance(e, Message)]
    assert texts[:3] == ["# Executing 3 build trigger", "s", "\n"]
    assert texts[3:] == ["Removing intermediate container " + "c" * 12 + "\n",
                         "Removing intermediate container " + texts[4][-13:-1] + "\n"]
    # one arrow for FROM, after its triggers
    first_done = names.index("StepDone")
    assert names[:4] == ["StepStart", "Message", "Message", "Message"]
    assert b.events[first_done].index == 1 and names.count("StepStart") == 2
    # the triggers' steps are cached like any others
    again = b(dockerfile(stage("parent", run("cat /trig"))), str(tmp_path))
    assert again.image_id == result.image_id


def test_a_cancelled_build_cancels_its_stages_and_says_so():
    import asyncio

    from ketch.build import builder
    from ketch.build.request import BuildRequest
    from tests.unit.buildfake import FakeBackend, FakeFiles

    backend = FakeBackend()
    started = asyncio.Event()
    cancelled = []

    async def slow_run(step, spec, output, started_cb):
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(spec.argv[-1])
            raise

    backend.run = slow_run
    df = dockerfile(stage("busybox", run("sleep a"), name="a"), stage("busybox", run("sleep b")))

    async def go():
        task = asyncio.create_task(builder.build_dockerfile(
            df, BuildRequest(target="a"), None, backend, lambda e: None, FakeFiles(), None))
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    assert cancelled == ["sleep a"]


def test_a_stage_named_by_a_mount_is_built_and_given_as_an_image():
    from ketch.build import instructions as ins
    from tests.unit.buildhelpers import arg

    b = Build()
    specs = []
    b.backend.on_run = lambda s, files: (specs.append(s), _writes(s, files))[1]
    mount = ins.MountSpec(type="bind", target="/src", from_="$SRC")
    b(dockerfile(stage("busybox", run("echo a > /a"), name="a"),
                 stage("busybox", arg("SRC"), run("cat /src/a", mounts=(mount,))),
                 meta=(arg("SRC", "a"),)))
    stage_a = [e.image_id for e in b.events if isinstance(e, StageDone)][0]
    assert [s.argv[-1] for s in specs] == ["echo a > /a", "cat /src/a"]
    assert specs[1].mounts[0].from_ == stage_a


def test_copy_from_a_rebuilt_stage_with_the_same_file_hits_the_cache():
    """ACCEPT12 F1d: stage a's RUN reruns (another build arg) but makes the same /f; the
    COPY --from=a (hashed over the file, as moby) and the steps after it come from cache."""
    from tests.unit.buildhelpers import arg
    b = Build()
    b.backend.on_run = _writes
    df = dockerfile(stage("busybox", arg("X"), run("echo same > /f"), name="a"),
                    stage("busybox", copy("/f", dest="/f", from_="a"), run("say cat")))
    first = b(df, build_args={"X": "1"})
    second = b(df, build_args={"X": "2"})
    assert second.image_id == first.image_id
    ran = [c[1] for c in b.backend.calls if c[0] == "ran"]
    assert ran.count(("/bin/sh", "-c", "say cat")) == 1  # the last step only once
    assert len([c for c in b.backend.calls if c[0] == "mutate"]) == 1


@pytest.mark.parametrize("df", [
    dockerfile(stage("Busy_Box")),
    dockerfile(stage("UPPER/x")),
    dockerfile(stage("busybox", copy("/a", dest="/a", from_="Up/x")))])
def test_image_references_are_checked_as_dockerd_20_10(df):
    """FROM Busy_Box, FROM UPPER/x (a registry host for newer references, a Docker Hub name
    for dockerd 20.10's) and COPY --from=Up/x: its text, without the repository."""
    b = Build()
    with pytest.raises(InvalidArgument) as info:
        b(df)
    assert str(info.value).endswith("invalid reference format: repository name must be lowercase")
    assert [c[1] for c in b.backend.calls if c[0] == "base_image"] in ([], ["busybox"])
