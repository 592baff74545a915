"""Each instruction's config and history against what dockerd 20.10's classic builder made
for the same Dockerfile (the values are ORACLE12's recordings; instructions are built by
hand as the parser gives them: words unexpanded, quotes kept)."""

from dataclasses import replace

import pytest

from ketch.build import instructions as ins
from ketch.build.request import Message, StepDone, StepRunning, StepStart
from ketch.errors import InvalidArgument
from tests.unit.buildhelpers import (L, PATH, Build, arg, cmd, copy, dockerfile, entrypoint, env,
                                     run, stage)


@pytest.fixture(autouse=True)
def _system_temp_of_the_test(tmp_path_factory, monkeypatch):
    """A ContextFiles() without a scratch dir downloads into the system's temp dir, which
    the test never removed (/tmp/downloads-* piled up): the test's own one instead."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path_factory.mktemp("systemp")))


def nops(b: Build, image_id: str) -> list[tuple[str, bool]]:
    return [(h["created_by"], h.get("empty_layer", False)) for h in b.image(image_id)["history"][1:]]


def test_env_forms():
    b = Build()
    result = b(dockerfile(stage(
        "busybox",
        env(("A", "1")), env(("B", "2"), original="ENV B 2"),
        env(("C", "3"), ("D", '"4 5"'), ("E", "six\\ seven")),
        env(("A", "override")),
        env(("F", "${A}x"), ("G", "$B"), ("H", "${NOPE:-dflt}"), ("I", "${A:+alt}"),
            ("J", "'$A'"), ("K", '"$A"'), ("L", "\\$A")),
        env(("M", "two words here"), original="ENV M two words here"))))
    doc = b.image(result.image_id)
    assert doc["config"]["Env"] == [
        PATH, "A=override", "B=2", "C=3", "D=4 5", "E=six seven", "F=overridex", "G=2",
        "H=dflt", "I=alt", "J=$A", "K=override", "L=$A", "M=two words here"]
    assert [h for h, _ in nops(b, result.image_id)] == [
        "/bin/sh -c #(nop)  ENV A=1", "/bin/sh -c #(nop)  ENV B=2",
        "/bin/sh -c #(nop)  ENV C=3 D=4 5 E=six seven", "/bin/sh -c #(nop)  ENV A=override",
        "/bin/sh -c #(nop)  ENV F=overridex G=2 H=dflt I=alt J=$A K=override L=$A",
        "/bin/sh -c #(nop)  ENV M=two words here"]
    assert [s.text for s in b.events if isinstance(s, StepStart)][2] == "ENV B 2"


def test_env_expands_against_the_env_before_it():
    b = Build()
    result = b(dockerfile(stage("busybox", env(("A", "old")), env(("A", "new"), ("B", "$A")))))
    assert b.image(result.image_id)["config"]["Env"] == [PATH, "A=new", "B=old"]


def test_arg_forms_history_and_unused_warning():
    b = Build()
    spec = []
    b.backend.on_run = lambda s, files: (spec.append(s), (b"", 0))[1]
    result = b(dockerfile(stage(
        "busybox", arg("X"), arg("Y", "def"), arg("UNUSED", "u"), run("echo X=$X Y=$Y"),
        env(("Z", "$Y")), run("echo done"), arg("W", "w1"), run("echo $W"))),
        build_args={"X": "1", "NOTDECLARED": "2", "HTTP_PROXY": "http://p:1", "no_proxy": "x",
                    "SOURCE_DATE_EPOCH": "0"})
    doc = b.image(result.image_id)
    assert doc["config"]["Env"] == [PATH, "Z=def"]
    assert [h for h, _ in nops(b, result.image_id)] == [
        "/bin/sh -c #(nop)  ARG X", "/bin/sh -c #(nop)  ARG Y=def",
        "/bin/sh -c #(nop)  ARG UNUSED=u", "|3 UNUSED=u X=1 Y=def /bin/sh -c echo X=$X Y=$Y",
        "/bin/sh -c #(nop)  ENV Z=def", "|3 UNUSED=u X=1 Y=def /bin/sh -c echo done",
        "/bin/sh -c #(nop)  ARG W=w1", "|4 UNUSED=u W=w1 X=1 Y=def /bin/sh -c echo $W"]
    # the proxies reach RUN's environment, not its history
    assert sorted(spec[0].env) == sorted([PATH, "X=1", "Y=def", "UNUSED=u",
                                          "HTTP_PROXY=http://p:1", "no_proxy=x"])
    # SOURCE_DATE_EPOCH (reproducible images) is the build's own: never warned about
    assert spec[0].argv == ("/bin/sh", "-c", "echo X=$X Y=$Y")
    messages = [e.text for e in b.events if isinstance(e, Message)]
    assert messages == ["[Warning] One or more build-args [NOTDECLARED] were not consumed\n"]
    assert result.warnings == ("[Warning] One or more build-args [NOTDECLARED] were not consumed",)


def test_proxy_args_declared_and_not():
    b = Build()
    declared = b(dockerfile(stage("busybox", arg("HTTP_PROXY"), run("echo $HTTP_PROXY"))),
                 build_args={"HTTP_PROXY": "http://p:1"})
    assert nops(b, declared.image_id)[-1][0] == "|1 HTTP_PROXY=http://p:1 /bin/sh -c echo $HTTP_PROXY"
    plain = b(dockerfile(stage("busybox", run("echo proxy=$HTTP_PROXY"))),
              build_args={"HTTP_PROXY": "http://p:1"})
    assert nops(b, plain.image_id)[-1][0] == "|0 /bin/sh -c echo proxy=$HTTP_PROXY"
    step = [c for c in b.backend.calls if c[0] == "run"][-1][1]
    assert step.container_config["Cmd"] == ["|0", "/bin/sh", "-c", "echo proxy=$HTTP_PROXY"]
    assert not [e for e in b.events if isinstance(e, Message)]  # proxies are never warned


def test_env_wins_over_arg():
    b = Build()
    result = b(dockerfile(stage("busybox", arg("V", "arg"), env(("V", "env")), run("echo V=$V"),
                                arg("V", "arg2"), run("echo V=$V"))), build_args={"V": "cli"})
    assert [h for h, _ in nops(b, result.image_id)] == [
        "/bin/sh -c #(nop)  ARG V=arg", "/bin/sh -c #(nop)  ENV V=env",
        "/bin/sh -c echo V=$V", "/bin/sh -c #(nop)  ARG V=arg2", "/bin/sh -c echo V=$V"]


def test_meta_args():
    b = Build()
    b.backend.refs["busybox:latest"] = b.backend.refs["busybox"]
    result = b(dockerfile(stage("$BASE:${TAG}", arg("BASE"), run("echo base=$BASE tag=$TAG")),
                          meta=(arg("BASE", "busybox"), arg("TAG", "latest"))))
    assert [h for h, _ in nops(b, result.image_id)] == [
        "/bin/sh -c #(nop)  ARG BASE", "|1 BASE=busybox /bin/sh -c echo base=$BASE tag=$TAG"]
    starts = [(e.index, e.total, e.text) for e in b.events if isinstance(e, StepStart)]
    assert starts == [(1, 5, "ARG BASE=busybox"), (2, 5, "ARG TAG=latest"),
                      (3, 5, "FROM $BASE:${TAG}"), (4, 5, "ARG BASE"),
                      (5, 5, "RUN echo base=$BASE tag=$TAG")]
    assert not any(isinstance(e, StepDone) and e.index < 3 for e in b.events)
    # a --build-arg overrides the meta default in FROM
    b.backend.refs["other:latest"] = b.backend.refs["busybox"]
    b(dockerfile(stage("$BASE:${TAG}"), meta=(arg("BASE", "busybox"), arg("TAG", "latest"))),
      build_args={"BASE": "other"})
    assert ("base_image", "other:latest", "", False) in b.backend.calls


def test_cmd_and_entrypoint():
    b = Build()
    result = b(dockerfile(stage("busybox", cmd(["a", "b"]), entrypoint(["/bin/echo"]),
                                cmd("echo shell form", shell=True),
                                entrypoint("echo ep shell", shell=True))))
    config = b.image(result.image_id)["config"]
    assert config["Cmd"] == ["/bin/sh", "-c", "echo shell form"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "echo ep shell"]
    assert [h for h, _ in nops(b, result.image_id)] == [
        '/bin/sh -c #(nop)  CMD ["a" "b"]', '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/echo"]',
        '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "echo shell form"]',
        '/bin/sh -c #(nop)  ENTRYPOINT ["/bin/sh" "-c" "echo ep shell"]']


def test_entrypoint_resets_an_inherited_cmd_only():
    b = Build()
    reset = b(dockerfile(stage("busybox", entrypoint(["/bin/echo"]))))
    config = b.image(reset.image_id)["config"]
    assert config["Cmd"] is None and config["Entrypoint"] == ["/bin/echo"]
    kept = b(dockerfile(stage("busybox", cmd(["x"]), entrypoint(["/bin/echo"]))))
    assert b.image(kept.image_id)["config"]["Cmd"] == ["x"]


def test_misc_config_and_labels_from_the_request():
    b = Build()
    health = ins.HealthConfig(("CMD-SHELL", "true"), interval=5_000_000_000,
                              timeout=3_000_000_000, start_period=1_000_000_000, retries=2)
    kv = ins.KeyValue
    result = b(dockerfile(stage(
        "busybox",
        ins.MaintainerInstr(L, "MAINTAINER Some One <a@b>", maintainer="Some One <a@b>"),
        ins.LabelInstr(L, 'LABEL a=b "c d"=e', labels=(kv("a", "b"), kv('"c d"', "e"))),
        ins.LabelInstr(L, "LABEL f g h", labels=(kv("f", "g h"),)),
        ins.ExposeInstr(L, "EXPOSE 80 443/udp 8000-8001/tcp", ports=("80", "443/udp", "8000-8001/tcp")),
        env(("P", "9000")),
        ins.ExposeInstr(L, "EXPOSE $P", ports=("$P",)),
        ins.VolumeInstr(L, 'VOLUME /v ["/w"]', volumes=("/v", '["/w"]')),
        ins.VolumeInstr(L, 'VOLUME ["/x", "/y"]', volumes=("/x", "/y")),
        ins.UserInstr(L, "USER daemon", user="daemon"), ins.UserInstr(L, "USER 1:2", user="1:2"),
        ins.StopSignalInstr(L, "STOPSIGNAL SIGKILL", signal="SIGKILL"),
        ins.HealthcheckInstr(L, "HEALTHCHECK ...", health=health),
        ins.ShellInstr(L, 'SHELL ["/bin/sh", "-xc"]', shell=("/bin/sh", "-xc")),
        run("echo after shell"))), labels={"cli": "1", "a": "fromcli"})
    doc = b.image(result.image_id)
    config = doc["config"]
    assert config == {
        "Hostname": "", "Domainname": "", "User": "1:2", "AttachStdin": False,
        "AttachStdout": False, "AttachStderr": False,
        "ExposedPorts": {"443/udp": {}, "80/tcp": {}, "8000/tcp": {}, "8001/tcp": {}, "9000/tcp": {}},
        "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": [PATH, "P=9000"],
        "Cmd": ["sh"],
        "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 5000000000,
                        "Timeout": 3000000000, "StartPeriod": 1000000000, "Retries": 2},
        "Image": config["Image"], "Volumes": {"/v": {}, "/x": {}, "/y": {}, "[/w]": {}},
        "WorkingDir": "", "Entrypoint": None, "OnBuild": None,
        "Labels": {"a": "fromcli", "c d": "e", "cli": "1", "f": "g h"},
        "StopSignal": "SIGKILL", "Shell": ["/bin/sh", "-xc"]}
    assert list(config) == list(config)  # key order is checked below against Go's
    assert list(config)[6] == "ExposedPorts" and list(config)[12] == "Healthcheck"
    assert list(config["ExposedPorts"]) == ["443/udp", "80/tcp", "8000/tcp", "8001/tcp", "9000/tcp"]
    assert [h for h, _ in nops(b, result.image_id)] == [
        "/bin/sh -c #(nop)  MAINTAINER Some One <a@b>",
        "/bin/sh -c #(nop)  LABEL a=b c d=e",
        "/bin/sh -c #(nop)  LABEL f=g h",
        "/bin/sh -c #(nop)  EXPOSE 443/udp 80 8000-8001/tcp",
        "/bin/sh -c #(nop)  ENV P=9000",
        "/bin/sh -c #(nop)  EXPOSE 9000",
        "/bin/sh -c #(nop)  VOLUME [/v [/w]]",
        "/bin/sh -c #(nop)  VOLUME [/x /y]",
        "/bin/sh -c #(nop)  USER daemon",
        "/bin/sh -c #(nop)  USER 1:2",
        "/bin/sh -c #(nop)  STOPSIGNAL SIGKILL",
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"5s\" \"3s\" \"1s\" '\\x02'}",
        "/bin/sh -xc #(nop)  SHELL [/bin/sh -xc]",
        "/bin/sh -xc echo after shell",
        "/bin/sh -xc #(nop)  LABEL a=fromcli",
        "/bin/sh -xc #(nop)  LABEL cli=1"]
    assert {h.get("author") for h in doc["history"][1:]} == {"Some One <a@b>"}
    starts = [e for e in b.events if isinstance(e, StepStart)]
    assert [(s.index, s.total) for s in starts[-2:]] == [(16, 17), (17, 17)]
    assert [s.text for s in starts[-2:]] == ["LABEL a=fromcli", "LABEL cli=1"]


def test_healthcheck_forms_and_override_note():
    b = Build()
    result = b(dockerfile(stage(
        "busybox",
        ins.HealthcheckInstr(L, 'HEALTHCHECK CMD ["true"]', health=ins.HealthConfig(("CMD", "true"))),
        ins.HealthcheckInstr(L, "HEALTHCHECK --interval=1m30s CMD echo shell form",
                             health=ins.HealthConfig(("CMD-SHELL", "echo shell form"),
                                                     interval=90_000_000_000)))))
    assert b.image(result.image_id)["config"]["Healthcheck"] == {
        "Test": ["CMD-SHELL", "echo shell form"], "Interval": 90000000000}
    assert [h for h, _ in nops(b, result.image_id)] == [
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD\" \"true\"] \"0s\" \"0s\" \"0s\" '\\x00'}",
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD-SHELL\" \"echo shell form\"] \"1m30s\" \"0s\" \"0s\" '\\x00'}"]
    kinds = [type(e).__name__ for e in b.events]
    note = kinds.index("Message")
    assert b.events[note].text == "Note: overriding previous HEALTHCHECK: [CMD true]\n"
    assert kinds[note - 1] == "StepStart" and kinds[note + 1] == "StepRunning"
    none = b(dockerfile(stage("busybox", ins.HealthcheckInstr(
        L, "HEALTHCHECK NONE", health=ins.HealthConfig(("NONE",))))))
    assert b.image(none.image_id)["config"]["Healthcheck"] == {"Test": ["NONE"]}
    assert nops(b, none.image_id)[-1][0] == \
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}"


def test_workdir_relative_expanded_and_created():
    b = Build()
    wd = lambda p: ins.WorkdirInstr(L, "WORKDIR " + p, path=p)  # noqa: E731
    result = b(dockerfile(stage("busybox", wd("/a"), wd("b"), env(("D", "/dd")), wd("$D/e"),
                                wd(".."), run("pwd"), wd("/a/b"))))
    assert b.image(result.image_id)["config"]["WorkingDir"] == "/a/b"
    assert nops(b, result.image_id) == [
        ("/bin/sh -c #(nop) WORKDIR /a", False), ("/bin/sh -c #(nop) WORKDIR /a/b", False),
        ("/bin/sh -c #(nop)  ENV D=/dd", True), ("/bin/sh -c #(nop) WORKDIR /dd/e", False),
        ("/bin/sh -c #(nop) WORKDIR /dd", True), ("/bin/sh -c pwd", True),
        ("/bin/sh -c #(nop) WORKDIR /a/b", True)]
    files = b.backend.files[result.image_id]
    assert "/a/b" in files and "/dd/e" in files
    # WORKDIR runs "in a container" as moby's does
    assert sum(isinstance(e, StepRunning) for e in b.events) == 7
    run_spec = [c[2] for c in b.backend.calls if c[0] == "run"][0]
    assert run_spec.workdir == "/dd"


def test_expansion_in_volume_expose_label_user_stopsignal():
    b = Build()
    result = b(dockerfile(stage(
        "busybox", env(("V", "/vol"), ("P", "81"), ("L", "lv"), ("U", "daemon"), ("S", "9")),
        ins.VolumeInstr(L, "VOLUME $V", volumes=("$V",)),
        ins.ExposeInstr(L, "EXPOSE $P/udp", ports=("$P/udp",)),
        ins.LabelInstr(L, "LABEL $L=$V", labels=(ins.KeyValue("$L", "$V"),)),
        ins.UserInstr(L, "USER $U", user="$U"),
        ins.StopSignalInstr(L, "STOPSIGNAL $S", signal="$S"))))
    config = b.image(result.image_id)["config"]
    assert (config["Volumes"], config["ExposedPorts"], config["Labels"], config["User"],
            config["StopSignal"]) == ({"/vol": {}}, {"81/udp": {}}, {"lv": "/vol"}, "daemon", "9")
    assert [h for h, _ in nops(b, result.image_id)][1:] == [
        "/bin/sh -c #(nop)  VOLUME [/vol]", "/bin/sh -c #(nop)  EXPOSE 81/udp",
        "/bin/sh -c #(nop)  LABEL lv=/vol", "/bin/sh -c #(nop)  USER daemon",
        "/bin/sh -c #(nop)  STOPSIGNAL 9"]


def test_from_only_is_the_base_and_a_label_makes_an_image():
    b = Build()
    base = b.backend.refs["busybox"]
    assert b(dockerfile(stage("busybox")), tags=("x:latest",)).image_id == base
    assert ("tag", base, ("x:latest",)) in b.backend.calls
    labelled = b(dockerfile(stage("busybox")), labels={"x": "y"})
    assert labelled.image_id != base
    assert nops(b, labelled.image_id) == [("/bin/sh -c #(nop)  LABEL x=y", True)]


@pytest.mark.parametrize("instr, message", [
    (ins.ExposeInstr(L, "EXPOSE abc", ports=("abc",)), "Invalid containerPort: abc"),
    (ins.ExposeInstr(L, "EXPOSE 80/xyz", ports=("80/xyz",)), "Invalid proto: xyz"),
    (ins.StopSignalInstr(L, "STOPSIGNAL NOSUCH", signal="NOSUCH"), "Invalid signal: NOSUCH"),
    (ins.VolumeInstr(L, 'VOLUME [""]', volumes=("",)), "VOLUME specified can not be an empty string"),
])
def test_dispatch_errors(instr, message):
    with pytest.raises(InvalidArgument) as exc:
        Build()(dockerfile(stage("busybox", instr)))
    assert str(exc.value) == message


def test_scratch_only_and_blank_base():
    with pytest.raises(InvalidArgument, match="^No image was generated. Is your Dockerfile empty[?]$"):
        Build()(dockerfile(stage("scratch")))
    with pytest.raises(InvalidArgument, match=r"^base name \(\$B\) should not be blank$"):
        Build()(dockerfile(stage("$B"), meta=(arg("B", ""),)))


def test_copy_history_dest_as_written_and_chown_without_a_space(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"A\n")
    b = Build()
    wd = ins.WorkdirInstr(L, "WORKDIR /w", path="/w")
    result = b(dockerfile(stage("busybox", wd, env(("U", "5")), copy("a.txt", dest="."),
                                copy("a.txt", dest="rel/x"), copy("a.txt", dest="/own", chown="$U:$U"))),
               str(tmp_path))
    history = [h for h, _ in nops(b, result.image_id)]
    digest = "file:" + __import__("hashlib").sha256(b"A\n").hexdigest()
    assert history[2:] == [f"/bin/sh -c #(nop) COPY {digest} in . ",
                           f"/bin/sh -c #(nop) COPY {digest} in rel/x ",
                           f"/bin/sh -c #(nop) COPY --chown=5:5{digest} in /own "]
    jobs = b.files.jobs
    assert [j.dest for j in jobs] == ["/w", "/w/rel/x", "/own"]
    assert jobs[2].chown == "5:5" and not jobs[2].preserve_ownership
    files = b.backend.files[result.image_id]
    assert files["/w/a.txt"] == files["/w/rel/x"] == files["/own"] == b"A\n"
    # COPY's container_config: one comment word, Labels as the config has them
    step = [c[1] for c in b.backend.calls if c[0] == "mutate"][-1]
    assert step.container_config["Cmd"] == ["/bin/sh", "-c", f"#(nop) COPY --chown=5:5{digest} in /own "]
    assert step.container_config["Labels"] is None and step.container_id == ""


def test_copy_from_keeps_owners_unless_chown(tmp_path):
    b = Build()
    b(dockerfile(stage("busybox", name="a"),
                 stage("busybox", copy("/bin/sh", dest="/x", from_="a"),
                       copy("/bin/sh", dest="/y", from_="a", chown="1"))))
    first, second = b.files.jobs
    assert first.from_image == b.backend.refs["busybox"] and first.preserve_ownership
    assert not second.preserve_ownership and second.kind == "COPY" and not second.decompress


def test_add_decompresses_and_copy_heredocs_are_expanded(tmp_path):
    b = Build()
    doc = ins.Heredoc("f", "v=$V\n")
    raw = ins.Heredoc("g", "v=$V\n", expand=False)
    add = ins.AddInstr(L, "ADD <<f <<g /d/", files=ins.SourcesAndDest((), "/d/", (doc, raw)))
    b(dockerfile(stage("busybox", env(("V", "1")), add)), str(tmp_path))
    job = b.files.jobs[0]
    assert job.kind == "ADD" and job.decompress
    assert [h.content for h in job.heredocs] == ["v=1\n", "v=$V\n"]


def test_run_heredocs_exec_form_and_mounts():
    b = Build()
    specs = []
    b.backend.on_run = lambda s, files: (specs.append(s), (b"", 0))[1]
    script = ins.Command(("<<EOF",), True, (ins.Heredoc("EOF", "echo a\necho b\n"),))
    inline = ins.Command(("cat <<EOF > /f",), True, (ins.Heredoc("EOF", "x\n"),))
    mount = ins.MountSpec(type="cache", target="/root/.cache/$D", id="c1", readonly=False)
    result = b(dockerfile(stage(
        "busybox", env(("D", "pip")),
        ins.RunInstr(L, "RUN <<EOF", command=script),
        ins.RunInstr(L, "RUN cat <<EOF > /f", command=inline),
        run(["/bin/echo", "hi"], shell=False),
        run("pip install x", mounts=(mount,), network="none"))), network="default")
    assert [s.argv for s in specs] == [("/bin/sh", "-c", "echo a\necho b\n"),
                                       ("/bin/sh", "-c", "cat <<EOF > /f\nx\nEOF"),
                                       ("/bin/echo", "hi"), ("/bin/sh", "-c", "pip install x")]
    assert nops(b, result.image_id)[3][0] == "/bin/echo hi"
    assert specs[3].mounts[0].target == "/root/.cache/pip" and specs[3].network == "none"
    assert specs[0].network == "default"
    # a RUN's container_config: its Cmd, no Entrypoint, Labels as in the config
    step = [c[1] for c in b.backend.calls if c[0] == "run"][2]
    assert step.container_config["Cmd"] == ["/bin/echo", "hi"]
    assert step.container_config["Entrypoint"] is None and step.container_id == ""
    # the mount is part of the cache key: the same RUN without it is another step
    again = b(dockerfile(stage("busybox", env(("D", "pip")),
                               ins.RunInstr(L, "RUN <<EOF", command=script),
                               ins.RunInstr(L, "RUN cat <<EOF > /f", command=inline),
                               run(["/bin/echo", "hi"], shell=False), run("pip install x"))))
    assert again.image_id != result.image_id
    assert len(specs) == 5


def test_run_secret_mounts_take_the_request_secrets():
    b = Build()
    specs = []
    b.backend.on_run = lambda s, files: (specs.append(s), (b"", 0))[1]
    secret = ins.MountSpec(type="secret", id="tok", required=True)
    b(dockerfile(stage("busybox", run("cat /run/secrets/tok", mounts=(secret,)))),
      secrets={"tok": b"s3cret"})
    assert [(s.id, s.data) for s in specs[0].secrets] == [("tok", b"s3cret")]
    with pytest.raises(InvalidArgument, match="^secret tok: not found$"):
        b(dockerfile(stage("busybox", run("cat /run/secrets/tok", mounts=(secret,)))), no_cache=True)


def test_empty_cmd_forms():
    """CMD [] and ENTRYPOINT [] are null; CMD alone is the shell alone (dockerd 20.10)."""
    b = Build()
    result = b(dockerfile(stage("busybox", cmd([]), entrypoint([]),
                                ins.CmdInstr(L, "CMD", command=ins.Command((), True)))))
    config = b.image(result.image_id)["config"]
    assert config["Cmd"] == ["/bin/sh", "-c"] and config["Entrypoint"] is None
    assert [h for h, _ in nops(b, result.image_id)] == [
        "/bin/sh -c #(nop)  CMD []", "/bin/sh -c #(nop)  ENTRYPOINT []",
        '/bin/sh -c #(nop)  CMD ["/bin/sh" "-c"]']


def test_a_step_container_merges_the_parent_config_and_its_healthcheck_leaks():
    """moby creates a container for a nop step: its config is merged with the parent
    image's, and the merged Healthcheck is the step's (shared pointer): HEALTHCHECK NONE
    after --interval=1m30s keeps the interval, in config and container_config."""
    b = Build()
    result = b(dockerfile(stage(
        "busybox",
        ins.HealthcheckInstr(L, "HEALTHCHECK --interval=1m30s CMD echo shell form",
                             health=ins.HealthConfig(("CMD-SHELL", "echo shell form"),
                                                     interval=90_000_000_000)),
        ins.HealthcheckInstr(L, "HEALTHCHECK NONE", health=ins.HealthConfig(("NONE",))),
        env(("A", "1")))))
    doc = b.image(result.image_id)
    assert doc["config"]["Healthcheck"] == {"Test": ["NONE"], "Interval": 90000000000}
    assert doc["container_config"]["Healthcheck"] == {"Test": ["NONE"], "Interval": 90000000000}
    assert doc["container_config"]["Labels"] == {} and doc["config"]["Labels"] is None
    assert nops(b, result.image_id)[1][0] == \
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}"


def test_buildkit_platform_args():
    """FROM --platform=$BUILDPLATFORM and ARG TARGETARCH work as with BuildKit."""
    from ketch.oci.platform import host_arch
    b = Build()
    specs = []
    b.backend.on_run = lambda s, files: (specs.append(s), (b"", 0))[1]
    result = b(dockerfile(stage("busybox", arg("TARGETARCH"), run("echo $TARGETARCH"),
                                platform="$BUILDPLATFORM")), build_args={"TARGETOS": "linux"})
    assert ("base_image", "busybox", f"linux/{host_arch()}", False) in b.backend.calls
    assert f"TARGETARCH={host_arch()}" in specs[0].env
    assert nops(b, result.image_id)[-1][0] == f"|1 TARGETARCH={host_arch()} /bin/sh -c echo $TARGETARCH"
    assert not [e for e in b.events if isinstance(e, Message)]  # never "not consumed"
    b(dockerfile(stage("busybox", arg("TARGETPLATFORM"), run("echo $TARGETPLATFORM"))),
      platform="linux/arm64")
    assert "TARGETPLATFORM=linux/arm64" in specs[-1].env


def test_run_containers_get_the_build_limits():
    from ketch.engine.builds.runmounts import Prepared
    from ketch.engine.builds.runstep import container_body

    b = Build()
    specs = []
    b.backend.on_run = lambda s, files: (specs.append(s), (b"", 0))[1]
    b(dockerfile(stage("busybox", run("make"))), resources={"Memory": 1 << 26, "CpuShares": 512},
      force_rm=True)
    assert specs[0].resources == {"Memory": 1 << 26, "CpuShares": 512}
    assert specs[0].remove == "always"
    step = [c[1] for c in b.backend.calls if c[0] == "run"][0]
    host = container_body(step, specs[0], Prepared())["HostConfig"]
    assert host["Memory"] == 1 << 26 and host["CpuShares"] == 512


def test_a_bind_mount_of_the_context_is_part_of_the_cache_key(tmp_path):
    (tmp_path / "req.txt").write_bytes(b"one\n")
    b = Build()
    bind = ins.MountSpec(type="bind", source="req.txt", target="/r")
    df = dockerfile(stage("busybox", run("pip install -r /r", mounts=(bind,))))
    first = b(df, str(tmp_path)).image_id
    assert b(df, str(tmp_path)).image_id == first  # unchanged: from the cache
    (tmp_path / "req.txt").write_bytes(b"two\n")
    assert b(df, str(tmp_path)).image_id != first
    assert len([c for c in b.backend.calls if c[0] == "run"]) == 2


def test_force_rm_reports_the_failed_steps_container_removed():
    from ketch.errors import BuildStepFailed

    b = Build()
    b.backend.on_run = lambda s, files: (b"failing now\n", 3)
    df = dockerfile(stage("busybox", run("echo failing now; exit 3")))
    with pytest.raises(BuildStepFailed):
        b(df, force_rm=True)
    messages = [e.text for e in b.events if isinstance(e, Message)]
    assert messages[-1] == "Removing intermediate container cccccccccccc\n"
    with pytest.raises(BuildStepFailed):
        b(df)  # --rm keeps the failed container: nothing removed to report
    assert not [e for e in b.events if isinstance(e, Message) and "Removing" in e.text]


def test_run_secret_mount_source_names_the_secret():
    """BuildKit's dispatchSecret takes ``source=`` as the secret's id."""
    b = Build()
    specs = []
    b.backend.on_run = lambda s, files: (specs.append(s), (b"", 0))[1]
    secret = ins.MountSpec(type="secret", source="tok", required=True)
    b(dockerfile(stage("busybox", run("cat /run/secrets/tok", mounts=(secret,)))),
      secrets={"tok": b"s3cret"})
    assert [(s.id, s.data) for s in specs[0].secrets] == [("tok", b"s3cret")]
    assert specs[0].mounts[0].id == "tok"


@pytest.mark.parametrize("changed", [
    {"env": "B"}, {"mode": 0o600}, {"uid": 1000}, {"gid": 1000}, {"required": False}])
def test_every_secret_mount_field_is_part_of_the_cache_key(changed):
    b = Build()
    runs = []
    b.backend.on_run = lambda s, files: (runs.append(s), (b"", 0))[1]
    first = ins.MountSpec(type="secret", id="s", env="A", mode=0o400, uid=0, gid=0, required=True)
    b(dockerfile(stage("busybox", run("echo", mounts=(first,)))), secrets={"s": b"x"})
    b(dockerfile(stage("busybox", run("echo", mounts=(replace(first, **changed),)))),
      secrets={"s": b"x"})
    assert len(runs) == 2


def test_tmpfs_size_is_part_of_the_cache_key():
    b = Build()
    runs = []
    b.backend.on_run = lambda s, files: (runs.append(s), (b"", 0))[1]
    for size in (1 << 20, 2 << 20):
        b(dockerfile(stage("busybox", run("echo", mounts=(
            ins.MountSpec(type="tmpfs", target="/t", readonly=False, size=size),)))))
    assert len(runs) == 2


def test_a_relative_mount_target_is_under_workdir_and_the_root_is_refused():
    """BuildKit's dispatchRunMounts: "" or "x" joined to WORKDIR; "/" refused."""
    b = Build()
    specs = []
    b.backend.on_run = lambda s, files: (specs.append(s), (b"", 0))[1]
    workdir = ins.WorkdirInstr(L, "WORKDIR /app", path="/app")
    b(dockerfile(stage("busybox", workdir, run("ls", mounts=(
        ins.MountSpec(type="cache", target="c", readonly=False),
        ins.MountSpec(type="tmpfs", target="", readonly=False))))))
    assert [m.target for m in specs[0].mounts] == ["/app/c", "/app"]
    with pytest.raises(InvalidArgument, match='^invalid mount target "/"$'):
        b(dockerfile(stage("busybox", run("ls", mounts=(ins.MountSpec(type="cache", target=""),)))))


def _ctx_build(tmp_path):
    from ketch.build.copyfiles import ContextFiles
    (tmp_path / "a.txt").write_bytes(b"a\n")
    (tmp_path / "key.secret").write_bytes(b"s3cret\n")
    b = Build()
    b.files = ContextFiles()
    return b


def test_copy_exclude_is_part_of_the_cache_key(tmp_path):
    """An excluded secret must not come back from the cache of a build without --exclude."""
    b = _ctx_build(tmp_path)
    b(dockerfile(stage("busybox", copy(".", dest="/app/"))), str(tmp_path))
    result = b(dockerfile(stage("busybox", copy(".", dest="/app/", excludes=("*.secret",)))),
               str(tmp_path))
    files = b.backend.files[result.image_id]
    assert "/app/a.txt" in files and "/app/key.secret" not in files


@pytest.mark.parametrize("first,second", [
    ({"chmod": "755"}, {"chmod": "600"}), ({}, {"parents": True})])
def test_copy_chmod_and_parents_are_part_of_the_cache_key(tmp_path, first, second):
    b = _ctx_build(tmp_path)
    one = b(dockerfile(stage("busybox", copy("a.txt", dest="/x/", **first))), str(tmp_path))
    two = b(dockerfile(stage("busybox", copy("a.txt", dest="/x/", **second))), str(tmp_path))
    assert one.image_id != two.image_id
    assert len([c for c in b.backend.calls if c[0] == "mutate"]) == 2


def test_source_date_epoch_is_part_of_the_cache_key():
    """A reproducible build must not return the image a normal build cached (nor another
    epoch's)."""
    b = Build()
    runs = []
    b.backend.on_run = lambda s, files: (runs.append(s), (b"", 0))[1]
    df = dockerfile(stage("busybox", run("make")))
    b(df)
    b(df, source_date_epoch=0)
    b(df, source_date_epoch=100)
    b(df, source_date_epoch=100)
    assert len(runs) == 3


def test_run_network_host_needs_the_entitlement():
    """BuildKit: ``RUN --network=host`` only with ``--allow network.host``; security.insecure
    is not implemented, so never allowed."""
    b = Build()
    specs = []
    b.backend.on_run = lambda s, files: (specs.append(s), (b"", 0))[1]
    df = dockerfile(stage("busybox", run("wget host", network="host")))
    with pytest.raises(InvalidArgument, match="^network.host is not allowed$"):
        b(df)
    assert specs == []
    b(df, allow=("network.host",))
    assert specs[0].network == "host"
    with pytest.raises(InvalidArgument, match="^security.insecure is not allowed$"):
        b(dockerfile(stage("busybox", run("mount", security="insecure"))), allow=("network.host",))
    b(dockerfile(stage("busybox", run("true", security="sandbox"))))
