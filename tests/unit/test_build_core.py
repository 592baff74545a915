"""The builder end to end on the fake backend: FROM, ENV, RUN, COPY, CMD; config, history,
container_config and the progress events as dockerd 20.10's classic builder makes them."""

from ketch.build.request import StepCached, StepDone, StepRunning, StepStart
from tests.unit.buildhelpers import PATH, Build, cmd, copy, dockerfile, env, run, stage


def test_from_env_run_copy_cmd(tmp_path):
    (tmp_path / "app.txt").write_bytes(b"hello")
    b = Build()
    b.backend.on_run = lambda spec, files: (files.update({"/x": b"hi\n"}), (b"", 0))[1]
    base = b.backend.refs["busybox"]
    df = dockerfile(stage("busybox", env(("A", "1")), run("echo hi > /x"),
                          copy("app.txt", dest="/app/"), cmd(["sh", "-c", "cat /app/app.txt"])))
    result = b(df, str(tmp_path))
    doc = b.image(result.image_id)
    history = doc["history"]
    assert [h["created_by"] for h in history[1:]] == [
        "/bin/sh -c #(nop)  ENV A=1",
        "/bin/sh -c echo hi > /x",
        "/bin/sh -c #(nop) COPY file:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824 in /app/ ",
        '/bin/sh -c #(nop)  CMD ["sh" "-c" "cat /app/app.txt"]',
    ]
    assert [h.get("empty_layer", False) for h in history[1:]] == [True, False, False, True]
    config = doc["config"]
    assert config["Env"] == [PATH, "A=1"]
    assert config["Cmd"] == ["sh", "-c", "cat /app/app.txt"]
    assert list(config)[:3] == ["Hostname", "Domainname", "User"]
    assert "ArgsEscaped" not in config and "ExposedPorts" not in config
    # Config.Image is the image the step started from
    parents = [h for h in b.backend.calls if h[0] in ("commit", "run", "mutate")]
    assert parents[0][1].config["Image"] == base
    assert b.backend.files[result.image_id]["/app/app.txt"] == b"hello"
    events = [type(e).__name__ for e in b.events]
    assert events[:2] == ["StepStart", "StepDone"]
    starts = [e for e in b.events if isinstance(e, StepStart)]
    assert [(s.index, s.total) for s in starts] == [(i, 5) for i in range(1, 6)]
    assert starts[0].text == "FROM busybox"
    # the nop steps report a container, as moby's do, and record its id as Hostname
    running = [e for e in b.events if isinstance(e, StepRunning)]
    assert len(running) == 3  # ENV, RUN, CMD; COPY runs no container
    env_step = parents[0][1]
    assert env_step.container_config["Hostname"] == running[0].container_id
    assert env_step.container_config["Cmd"] == ["/bin/sh", "-c", "#(nop) ", "ENV A=1"]
    done = [e for e in b.events if isinstance(e, StepDone)]
    assert done[1].removed_container == running[0].container_id
    assert done[-1].image_id == result.image_id


def test_second_build_hits_the_cache(tmp_path):
    (tmp_path / "app.txt").write_bytes(b"hello")
    b = Build()
    df = dockerfile(stage("busybox", env(("A", "1")), run("make"), copy("app.txt", dest="/a")))
    first = b(df, str(tmp_path)).image_id
    second = b(df, str(tmp_path)).image_id
    assert first == second
    assert sum(isinstance(e, StepCached) for e in b.events) == 3
    assert not any(isinstance(e, StepRunning) for e in b.events)


def test_a_changed_file_misses_from_its_step(tmp_path):
    (tmp_path / "app.txt").write_bytes(b"hello")
    b = Build()
    df = dockerfile(stage("busybox", env(("A", "1")), copy("app.txt", dest="/a"), run("make")))
    first = b(df, str(tmp_path)).image_id
    (tmp_path / "app.txt").write_bytes(b"changed")
    second = b(df, str(tmp_path)).image_id
    assert first != second
    cached = [e.index for e in b.events if isinstance(e, StepCached)]
    assert cached == [2]  # ENV only; COPY and RUN after it run again


def test_no_cache_never_looks(tmp_path):
    b = Build()
    df = dockerfile(stage("busybox", env(("A", "1"))))
    b(df)
    b.backend.calls.clear()
    b(df, no_cache=True)
    assert not [c for c in b.backend.calls if c[0] == "cached"]
    assert not any(isinstance(e, StepCached) for e in b.events)


def test_a_held_stages_run_output_waits_its_turn_past_the_limit():
    # REVIEW12 #9: a parallel stage's output was held without bound
    import asyncio

    from ketch.build.builder import HELD_OUTPUT, _Ordered
    from ketch.build.request import StepOutput

    async def go():
        out = []
        ordered = _Ordered(out.append, [0, 1])
        held = ordered.emitter(1)
        assert held(StepOutput(1, b"a" * HELD_OUTPUT)) is None
        turn = held(StepOutput(1, b"b"))
        assert turn is not None and not turn.done() and out == []
        ordered.finished(0)  # stage 1's turn: its held output goes out
        assert turn.done() and [len(e.data) for e in out] == [HELD_OUTPUT, 1]
        assert held(StepOutput(1, b"c" * (2 * HELD_OUTPUT))) is None  # now passed on at once
    asyncio.run(go())
