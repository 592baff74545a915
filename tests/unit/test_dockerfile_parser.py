"""ketch.build.parser: Dockerfile text -> typed instructions, errors and warnings.

The error texts are dockerd 20.10's (moby's readAndParseDockerfile and the buildkit
v0.8 parser it vendors) for what 20.10 knew, current buildkit's for what came later
(heredocs, RUN --mount/--network, COPY --link/--parents/--exclude).
"""

import dataclasses
import json
import os
import pathlib

import pytest

from ketch.build import instructions as ins
from ketch.build.parser import DockerfileError, parse

GOLDEN = pathlib.Path(__file__).parent.parent / "golden" / "dockerfile"


def as_data(value):
    """A parsed value as JSON data: each dataclass with its class name and the fields that
    differ from their defaults (location and original always)."""
    if dataclasses.is_dataclass(value):
        out = {"kind": type(value).__name__}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.default is not dataclasses.MISSING and item == f.default and \
                    f.name not in ("location", "original"):
                continue
            out[f.name] = as_data(item)
        return out
    if isinstance(value, tuple):
        return [as_data(v) for v in value]
    return value


def golden_cases():
    return sorted(p.stem for p in GOLDEN.glob("*.dockerfile"))


@pytest.mark.parametrize("case", golden_cases())
def test_golden(case):
    """tests/golden/dockerfile/<case>.dockerfile parses to <case>.json (set
    KETCH_UPDATE_GOLDEN=1 to rewrite the JSON after checking the change by eye)."""
    text = (GOLDEN / f"{case}.dockerfile").read_bytes().decode()
    got = as_data(parse(text))
    want_path = GOLDEN / f"{case}.json"
    if os.environ.get("KETCH_UPDATE_GOLDEN"):
        want_path.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n")
    assert got == json.loads(want_path.read_text())


def only_stage(text: str) -> ins.Stage:
    df = parse(text)
    assert len(df.stages) == 1
    return df.stages[0]


def commands(text: str) -> tuple:
    return only_stage("FROM scratch\n" + text).commands


def test_stages_meta_args_and_locations():
    df = parse("ARG V=1\nARG B\nFROM busybox:$V AS Build\nRUN a\n\nfrom build as two\nrun b\n")
    assert [a.args for a in df.meta_args] == [(ins.ArgSpec("V", "1"),), (ins.ArgSpec("B"),)]
    first, second = df.stages
    assert (first.base, first.name, first.location) == ("busybox:$V", "build", ins.Location(3, 3))
    assert (second.base, second.name, second.original) == ("build", "two", "from build as two")
    assert [c.original for c in first.commands] == ["RUN a"]
    assert second.commands[0].location == ins.Location(7, 7)


def test_keywords_are_case_insensitive():
    cmd, = commands("rUn echo hi")
    assert isinstance(cmd, ins.RunInstr)
    assert cmd.command == ins.Command(("echo hi",), True)


def test_shell_and_exec_forms():
    run, cmd, entry = commands('RUN ["a", "b c"]\nCMD  echo  $X  \nENTRYPOINT [ "x" ]')
    assert run.command == ins.Command(("a", "b c"), False)
    assert cmd.command == ins.Command(("echo  $X",), True)
    assert entry.command == ins.Command(("x",), False)


def test_not_quite_json_is_shell_form():
    cmd, = commands("CMD [\"a\", 'b']")
    assert cmd.command == ins.Command(("[\"a\", 'b']",), True)


def test_continuations_with_comments_and_empty_lines_inside():
    df = parse("FROM x\nRUN a \\\n# inside\n\n  b\n")
    run, = df.stages[0].commands
    assert run.original == "RUN a   b"
    assert run.location == ins.Location(2, 5)
    assert [w.rule for w in df.warnings] == ["NoEmptyContinuation"]


def test_escape_directive_backtick():
    df = parse("# escape=`\nFROM x\nRUN a `\n  b\nCOPY c:\\dir d\n")
    assert df.directives.escape == "`"
    run, copy = df.stages[0].commands
    assert run.command.args == ("a   b",)
    assert copy.files == ins.SourcesAndDest(("c:\\dir",), "d")


def test_unknown_instruction():
    with pytest.raises(DockerfileError) as e:
        parse("FROM x\n\nRUNN a\n")
    assert str(e.value) == "dockerfile parse error line 3: unknown instruction: RUNN"
    assert e.value.location == ins.Location(3, 3)


def test_unknown_flag():
    with pytest.raises(DockerfileError) as e:
        parse("FROM x\nCOPY --foo=1 a b\n")
    assert str(e.value) == "dockerfile parse error line 2: Unknown flag: foo"


def test_line_errors_name_the_file():
    with pytest.raises(DockerfileError) as e:
        parse("FROM x\nENV a\n", "sub/Dockerfile.dev")
    assert str(e.value) == "failed to parse sub/Dockerfile.dev: ENV must have two arguments"
    with pytest.raises(DockerfileError) as e:
        parse("# only a comment\n")
    assert str(e.value) == "failed to parse Dockerfile: file with no instructions"
    with pytest.raises(DockerfileError) as e:
        parse("")
    assert str(e.value) == "the Dockerfile (Dockerfile) cannot be empty"


def test_no_stage_before_from():
    with pytest.raises(DockerfileError) as e:
        parse("RUN x\nFROM y\n")
    assert str(e.value) == "no build stage in current context"


def test_run_mount_network_security():
    run, = commands("RUN --mount=type=secret,id=tok,required --mount=target=/src,rw "
                    "--network=host --security=insecure make")
    secret, bind = run.mounts
    assert secret == ins.MountSpec(type="secret", id="tok", required=True, readonly=True)
    assert bind == ins.MountSpec(type="bind", target="/src", readonly=False)
    assert (run.network, run.security) == ("host", "insecure")


def test_heredocs():
    df = parse("FROM x\nRUN <<EOF\necho $A\nEOF\nCOPY <<-'ONE' <<TWO /d/\n\tone\n\tONE\ntwo\nTWO\n")
    run, copy = df.stages[0].commands
    assert run.command.heredocs == (ins.Heredoc("EOF", "echo $A\n"),)
    assert run.location == ins.Location(2, 4)
    assert copy.files == ins.SourcesAndDest((), "/d/", (
        ins.Heredoc("ONE", "one\n", expand=False, chomp=True), ins.Heredoc("TWO", "two\n")))
