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

from ketch.build import heredoc, nodes, runmount
from ketch.build import instructions as ins
from ketch.build.parser import DockerfileError, classic_warnings, parse, parse_trigger
from ketch.build.shell_lex import ProcessWord
from ketch.errors import InvalidArgument

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


LINE = "dockerfile parse error line"
FAILED = "failed to parse Dockerfile:"

# Dockerfile -> the error text. The ones marked (20.10) were recorded from dockerd 20.10.24
# with DOCKER_BUILDKIT=0 (/work/wt/ORACLE12.md); the rest follow buildkit's sources for what
# 20.10 did not have (heredocs, RUN --mount/--network/--security, COPY --link/--parents).
REFUSED = [
    ("FROM busybox\nRUNN echo hi", f"{LINE} 2: unknown instruction: RUNN"),  # (20.10)
    ("FROM b\nRUN a \\\n  b\nUNKNOWN x \\\n y", f"{LINE} 4: unknown instruction: UNKNOWN"),  # (20.10)
    ("# escape=`\nFROM b\nRUN echo a `\n  b\nRUNX", f"{LINE} 5: unknown instruction: RUNX"),  # (20.10)
    ("# comment\n# escape=`\nFROM b\nRUN echo a `\n  b", f"{LINE} 5: unknown instruction: B"),  # (20.10)
    ("FROM busybox\nCOPY --foo=1 a /b", f"{LINE} 2: Unknown flag: foo"),  # (20.10)
    ("FROM b\nONBUILD ONBUILD RUN x",
     f"{LINE} 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),  # (20.10)
    ("FROM b\nonbuild run echo x\nONBUILD onbuild x",
     f"{LINE} 3: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),  # (20.10)
    ("FROM b\nONBUILD FROM busybox", f"{LINE} 2: FROM isn't allowed as an ONBUILD trigger"),
    ("FROM b\nONBUILD MAINTAINER x", f"{LINE} 2: MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("FROM b\nENV =x", f"{LINE} 2: ENV names can not be blank"),  # (20.10)
    ("FROM b\nENV A", f"{FAILED} ENV must have two arguments"),  # (20.10)
    ("FROM b\nLABEL a", f"{FAILED} LABEL must have two arguments"),  # (20.10)
    ("FROM b\nLABEL", f"{LINE} 2: LABEL requires at least one argument"),  # (20.10)
    ("FROM b\nENV A=${UNSET:?must be set}",
     f"{FAILED} Syntax error - can't find = in \"be\". Must be of the form: name=value"),  # (20.10)
    ("FROM", f"{LINE} 1: FROM requires either one or three arguments"),  # (20.10)
    ("FROM busybox AS a AS b", f"{LINE} 1: FROM requires either one or three arguments"),  # (20.10)
    ("FROM a to b", f"{LINE} 1: FROM requires either one or three arguments"),
    ("FROM busybox AS 1bad", f"{LINE} 1: invalid name for build stage: \"1bad\", name can't "
     "start with a number or contain symbols"),  # (20.10)
    ("FROM b\nMAINTAINER", f"{LINE} 2: MAINTAINER requires exactly one argument"),  # (20.10)
    ("RUN echo hi", "no build stage in current context"),  # (20.10)
    ("ARG A\nENV B=1\nFROM x", "no build stage in current context"),
    ("", "the Dockerfile (Dockerfile) cannot be empty"),  # (20.10)
    ("# nothing\n", f"{FAILED} file with no instructions"),  # (20.10)
    ("\n \n\t\n", f"{FAILED} file with no instructions"),
    ("FROM b\nCOPY a", f"{LINE} 2: COPY requires at least two arguments, but only one was "
     "provided. Destination could not be determined"),  # (20.10)
    ("FROM b\nADD a", f"{LINE} 2: ADD requires at least two arguments, but only one was "
     "provided. Destination could not be determined"),
    ("FROM b\nHEALTHCHECK --interval=5s", f"{LINE} 2: HEALTHCHECK requires at least one argument"),
    ("FROM b\nHEALTHCHECK NONE x", f"{LINE} 2: HEALTHCHECK NONE takes no arguments"),  # (20.10)
    ("FROM b\nHEALTHCHECK FOO x",
     f"{LINE} 2: Unknown type \"FOO\" in HEALTHCHECK (try CMD)"),  # (20.10)
    ("FROM b\nHEALTHCHECK --interval=abc CMD true",
     f"{LINE} 2: time: invalid duration \"abc\""),  # (20.10)
    ("FROM b\nHEALTHCHECK --timeout=1us CMD true",
     f"{LINE} 2: Interval \"timeout\" cannot be less than 1ms"),
    ("FROM b\nHEALTHCHECK --retries=-1 CMD true", f"{LINE} 2: --retries cannot be negative (-1)"),
    ("FROM b\nHEALTHCHECK CMD", f"{LINE} 2: Missing command after HEALTHCHECK CMD"),
    ("FROM b\nSHELL /bin/sh -c",
     f"{LINE} 2: SHELL requires the arguments to be in JSON form"),  # (20.10)
    ("FROM b\nSHELL []", f"{LINE} 2: SHELL requires at least one argument"),
    ("FROM b\nUSER", f"{LINE} 2: USER requires exactly one argument"),  # (20.10)
    ("FROM b\nWORKDIR", f"{LINE} 2: WORKDIR requires exactly one argument"),  # (20.10)
    ("FROM b\nEXPOSE", f"{LINE} 2: EXPOSE requires at least one argument"),  # (20.10)
    ("FROM b\nSTOPSIGNAL", f"{LINE} 2: STOPSIGNAL requires exactly one argument"),
    ("FROM b\nARG", f"{LINE} 2: ARG requires at least one argument"),  # (20.10)
    ("FROM b\nARG =x", f"{LINE} 2: ARG names can not be blank"),
    ("FROM b\nONBUILD", f"{LINE} 2: ONBUILD requires at least one argument"),  # (20.10)
    ("FROM b\nVOLUME []", f"{LINE} 2: VOLUME requires at least one argument"),  # (20.10)
    ("FROM b\nVOLUME [\"\"]", f"{LINE} 2: VOLUME specified can not be an empty string"),  # (20.10)
    ("FROM b\nCMD [\"a\", 1]", f"{FAILED} when using JSON array syntax, arrays must be "
     "comprised of strings only"),
    ("# escape=`\n# escape=\\\nFROM b",
     f"{FAILED} only one escape parser directive can be used"),  # (20.10)
    ("# escape=x\nFROM b", f"{FAILED} invalid escape token 'x' does not match ` or \\"),  # (20.10)
    ("# syntax=a\n#syntax=b\nFROM b", f"{FAILED} only one syntax parser directive can be used"),
    ("FROM b\nCOPY --chown a b", f"{LINE} 2: Missing a value on flag: chown"),
    ("FROM b\nCOPY --from=a --from=b x y", f"{LINE} 2: Duplicate flag specified: from"),
    ("FROM b\nCOPY --link=maybe a b", f"{LINE} 2: Expecting boolean value for flag link, not: maybe"),
    ("FROM b\nCOPY --link= a b", f"{LINE} 2: Missing a value on flag: link"),
    ("FROM b\nENV --x=1 A=1", f"{LINE} 2: Unknown flag: x"),
    ("FROM b\nFROM --plat=x y", f"{LINE} 2: Unknown flag: plat"),
    ("FROM b\nRUN --network=bridge x", f"{LINE} 2: invalid network mode \"bridge\""),
    ("FROM b\nRUN --security=root x", f"{LINE} 2: security \"root\" is not valid"),
    ("FROM b\nRUN <<EOF\necho\n", f"{FAILED} unterminated heredoc"),
    ("FROM b\nCOPY a <<EOF\nx\nEOF", f"{LINE} 2: COPY cannot accept a heredoc as a destination"),
    # RUN --mount (buildkit's commands_runmount.go)
    ("FROM b\nRUN --mount=type=nfs x", f"{LINE} 2: unsupported mount type \"nfs\""),
    ("FROM b\nRUN --mount=type=cache,sharing=x,target=/c x",
     f"{LINE} 2: unsupported sharing value \"x\""),
    ("FROM b\nRUN --mount=target=/x,mode=0644 x",
     f"{LINE} 2: mode not allowed for \"bind\" type mounts"),
    ("FROM b\nRUN --mount=type=tmpfs,target=/x,uid=1 x",
     f"{LINE} 2: uid not allowed for \"tmpfs\" type mounts"),
    ("FROM b\nRUN --mount=type=secret x",
     f"{LINE} 2: invalid secret mount. one of source, target required"),
    ("FROM b\nRUN --mount=type=secret,id=a,source=b x", f"{LINE} 2: both source and id can't be set"),
    ("FROM b\nRUN --mount=type=secret,id=a,from=b x", f"{LINE} 2: secret mount should not have a from"),
    ("FROM b\nRUN --mount=type=secret,id=a,sharing=locked x",
     f"{LINE} 2: secret mount should not define sharing"),
    ("FROM b\nRUN --mount=target=/x,sharing=locked x",
     f"{LINE} 2: invalid cache sharing set for bind mount"),
    ("FROM b\nRUN --mount=type=cache,target=/c,size=1m x",
     f"{LINE} 2: unexpected key 'size' for mount type 'cache'"),
    ("FROM b\nRUN --mount=type=tmpfs,target=/t,size=lots x", f"{LINE} 2: invalid value for size: lots"),
    ("FROM b\nRUN --mount=target=/x,required x", f"{LINE} 2: unexpected key 'required' for mount type 'bind'"),
    ("FROM b\nRUN --mount=target=/x,bogus x", f"{LINE} 2: invalid field 'bogus' must be a key=value pair"),
    ("FROM b\nRUN --mount=target=/x,bogus=1 x", f"{LINE} 2: unexpected key 'bogus' in 'bogus=1'"),
    ("FROM b\nRUN --mount=type=cache,target=/c,mode=0999 x", f"{LINE} 2: invalid value 0999 for mode"),
    ("FROM b\nRUN --mount=type=cache,target=/c,uid=-1 x", f"{LINE} 2: invalid value -1 for uid"),
    ("FROM b\nRUN --mount=target=/x,ro=maybe x", f"{LINE} 2: invalid value for ro: maybe"),
    ("FROM b\nRUN --mount=target=/x,from=$STAGE x",
     f"{LINE} 2: 'from' doesn't support variable expansion, define alias stage instead"),
]


@pytest.mark.parametrize("text,message", REFUSED)
def test_refused(text, message):
    with pytest.raises(DockerfileError) as e:
        parse(text)
    assert str(e.value) == message


def test_error_locations():
    with pytest.raises(DockerfileError) as e:
        parse("FROM b\nRUN a \\\n  b\nUNKNOWN x \\\n y\n")
    assert (e.value.location, e.value.reason) == (ins.Location(4, 5), "unknown instruction: UNKNOWN")
    with pytest.raises(DockerfileError) as e:
        parse("FROM b\nRUN <<EOF\necho\n")
    assert e.value.location == ins.Location(2, 3)


def test_classic_warning_text_is_dockerd_2010s():
    # recorded: the stream's red text before Step 1 for this file (comments_continuations)
    df = parse("FROM busybox\n# c1\nRUN echo a \\\n# inner comment\n\n  b \\\n  c\n")
    assert classic_warnings(df) == (
        "[WARNING]: Empty continuation line found in:\n    RUN echo a   b   c\n"
        "[WARNING]: Empty continuation lines will become errors in a future release.\n")
    assert classic_warnings(parse("FROM busybox\nRUN a\n")) == ""


def test_step_text_is_the_trimmed_line():
    # "Step 2/2 : RUN echo a" for a continuation at the end of the file (20.10)
    run, = commands("RUN echo a \\")
    assert run.original == "RUN echo a"
    assert run.command.args == ("echo a",)


def test_onbuild_keeps_the_trigger_as_written():
    on1, on2 = commands("ONBUILD   RUN   make  \nONBUILD COPY <<EOF /x\n\tbody\nEOF\n")
    assert on1.expression == "RUN   make  "
    assert on2.expression == "COPY <<EOF /x\n\tbody\nEOF"


def test_heredoc_only_in_run_copy_add_shell_form():
    df = parse("FROM b\nUSER <<EOF\nRUN [\"<<EOF\"]\nENV A=<<B\n")
    user, run, env = df.stages[0].commands
    assert (user.user, run.command.heredocs, env.pairs) == ("<<EOF", (), (ins.KeyValue("A", "<<B"),))


def test_flags_stop_at_double_dash_and_every_keyword_checks_them():
    copy, = commands("COPY --chown=1 -- --x /y")
    assert (copy.chown, copy.files.sources) == ("1", ("--x",))
    with pytest.raises(DockerfileError, match="Unknown flag: z"):
        commands("CMD --z [\"a\"]")


# a word -> (name, expand, chomp) of the heredoc it names, or None
HEREDOC_WORDS = [
    ("<<EOF", ("EOF", True, False)),
    ("<<-EOF", ("EOF", True, True)),
    ("<<'EOF'", ("EOF", False, False)),
    ('<<-"EOF"', ("EOF", False, True)),
    ('<<E"O"F', ("EOF", False, False)),
    ("<<eo\\'f", ("eo'f", True, False)),  # an escaped quote quotes nothing
    ("<<'e'o\\'f", ("eo'f", False, False)),
    ("<<'one two'", ("one two", False, False)),
    ("<< EOF", ("EOF", True, False)),
    ("<<$EOF", ("$EOF", True, False)),
    ("7<<FD", ("FD", True, False)),
    ("", None), ("EOF", None), ("<<", None), ("<<-", None), ("<EOF", None),
    ("<<<EOF", None), ("<<EOF sh", None), ("<<'EOF", None), ("a<<EOF", None),
]


@pytest.mark.parametrize("word,expected", HEREDOC_WORDS)
def test_heredoc_words(word, expected):
    found = heredoc.parse_heredoc(word)
    assert (found and (found.name, found.expand, found.chomp)) == expected


@pytest.mark.parametrize("line,names", [
    ("RUN <<EOF <<EOF2", ["EOF", "EOF2"]),
    ("RUN <<  EOF  > out", ["EOF"]),
    ("RUN 4<<EOF cat", ["EOF"]),
    ("RUN '<<EOF'", []),
    ('RUN "<<EOF" x', []),
    ("RUN echo \\<<EOF", []),
    ("RUN unterminated 'quote <<EOF", []),
])
def test_heredocs_in_a_line(line, names):
    assert [h.name for h in heredoc.heredocs_in(line)] == names


def test_mount_words_expand_at_dispatch():
    run, = commands("RUN --mount=type=cache,target=$HOME/.cache,id=${ID} x")
    mount, = run.mounts
    assert (mount.target, mount.id) == ("$HOME/.cache", "${ID}")
    env = {"HOME": "/root", "ID": "pip"}
    expanded = runmount.expand_mount(mount, lambda w: ProcessWord(w, [f"{k}={v}" for k, v in env.items()]))
    assert (expanded.target, expanded.id, expanded.type) == ("/root/.cache", "pip", "cache")


def test_mount_csv_and_case():
    assert runmount.parse_mount('Type=Cache,"target=/a,b",SHARING=private,RO') == ins.MountSpec(
        type="cache", target="/a,b", sharing="private", readonly=True)


def test_check_directive_skips_rules():
    text = "FROM b\nMAINTAINER me\nCMD x\n"
    assert {w.rule for w in parse(text).warnings} == {"MaintainerDeprecated", "JSONArgsRecommended"}
    assert [w.rule for w in parse("# check=skip=MaintainerDeprecated\n" + text).warnings] == \
        ["JSONArgsRecommended"]
    assert parse("# check=skip=all\n" + text).warnings == ()


def test_nodes_as_buildkit_leaves_them():
    node = nodes.node_from_line("Copy --chown='a b' --link x y")
    assert (node.cmd, node.word, node.flags, node.args) == ("copy", "Copy", ("--chown=a b", "--link"), ("x", "y"))
    sub = nodes.node_from_line("ONBUILD RUN [\"a\"]").child
    assert (sub.cmd, sub.args, sub.json) == ("run", ("a",), True)
    assert nodes.node_from_line("BOGUS a b").args == ()


def test_onbuild_triggers_of_a_base_image():
    run = parse_trigger("RUN echo  hi")
    assert (run.command, run.original) == (ins.Command(("echo  hi",), True), "RUN echo  hi")
    copy = parse_trigger("COPY <<EOF /x\nbody\nEOF")
    assert copy.files.heredocs == (ins.Heredoc("EOF", "body\n"),)
    for trigger, message in [("RUN a\nRUN b", "onbuild trigger should be a single expression"),
                             ("FROM x", "*instructions.Stage is not a command type"),
                             ("RUNN x", "unknown instruction: RUNN"),
                             ("ENV A", "ENV must have two arguments")]:
        with pytest.raises(InvalidArgument) as e:
            parse_trigger(trigger)
        assert str(e.value) == message


def test_a_line_longer_than_bufio_allows():
    assert parse("FROM b\nRUN " + "x" * 65531 + "\n").stages[0].commands[0].command.args[0] == "x" * 65531
    with pytest.raises(DockerfileError) as e:
        parse("FROM b\nRUN " + "x" * 65532 + "\n")
    assert str(e.value) == f"{FAILED} dockerfile line greater than max allowed size of 65535"


def test_bytes_that_are_not_utf8_pass_through():
    # the builder decodes the file with surrogateescape: such bytes stay as they were
    text = b"FROM b\nRUN --network=none echo \xff\xfe\nLABEL k=\xe9\n".decode("utf-8", "surrogateescape")
    run, label = parse(text).stages[0].commands
    assert run.command.args[0].encode("utf-8", "surrogateescape") == b"echo \xff\xfe"
    assert label.labels[0].value.encode("utf-8", "surrogateescape") == b"\xe9"
