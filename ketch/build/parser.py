"""A Dockerfile's text -> ``instructions.Dockerfile``: what the builder runs.

    parse(text, "Dockerfile")
      reader.read      lines, directives, continuations, heredoc bodies -> nodes
      instrparse       each node -> a typed instruction (arguments and flags checked)
      stages           ARGs before the first FROM are meta args; each FROM opens a stage
      lint             buildkit's warnings (rule names) -> Dockerfile.warnings

Errors are ``DockerfileError`` (an ``InvalidArgument``) with dockerd 20.10's texts:
a syntax error of the lines as ``failed to parse Dockerfile: <why>`` (moby's
readAndParseDockerfile), an instruction's as ``dockerfile parse error line 3: <why>``
(buildkit's parseError as 20.10 vendors it); ``location`` and ``reason`` keep the parts
for renderers that show BuildKit's ``Dockerfile:3`` form.
"""

from ketch.build import instructions as ins
from ketch.build import lint
from ketch.build.instrparse import parse_instruction
from ketch.build.reader import LineError, read
from ketch.errors import InvalidArgument


class DockerfileError(InvalidArgument):
    def __init__(self, message: str, reason: str, location: ins.Location | None):
        super().__init__(message)
        self.reason = reason
        self.location = location


def parse(text: str, filename: str = "Dockerfile") -> ins.Dockerfile:
    if not text:
        raise DockerfileError(f"the Dockerfile ({filename}) cannot be empty",
                              "the Dockerfile cannot be empty", None)
    try:
        source = read(text)
    except LineError as e:
        raise DockerfileError(f"failed to parse {filename}: {e}", str(e), e.location) from None
    meta_args: list[ins.ArgInstr] = []
    stages: list[ins.Stage] = []
    commands: list[ins.Instruction] = []
    for entry in source.entries:
        try:
            instr = parse_instruction(entry)
        except InvalidArgument as e:
            raise DockerfileError(f"dockerfile parse error line {entry.location.start}: {e}",
                                  str(e), entry.location) from None
        if isinstance(instr, ins.Stage):
            if stages:
                stages[-1] = _with_commands(stages[-1], commands)
            stages.append(instr)
            commands = []
        elif not stages and isinstance(instr, ins.ArgInstr):
            meta_args.append(instr)
        elif not stages:
            raise DockerfileError("no build stage in current context",
                                  "no build stage in current context", entry.location)
        else:
            commands.append(instr)
    if stages:
        stages[-1] = _with_commands(stages[-1], commands)
    dockerfile = ins.Dockerfile(source.directives, tuple(meta_args), tuple(stages))
    warnings = lint.check(dockerfile, source)
    return ins.Dockerfile(source.directives, tuple(meta_args), tuple(stages), warnings)


def _with_commands(stage: ins.Stage, commands: list[ins.Instruction]) -> ins.Stage:
    return ins.Stage(stage.location, stage.original, stage.base, stage.name, stage.platform,
                     tuple(commands))


def classic_warnings(dockerfile: ins.Dockerfile) -> str:
    """What dockerd 20.10's classic builder prints to the build's output about the file
    (``[WARNING]: Empty continuation line found in: ...``), "" when nothing."""
    empty = [w for w in dockerfile.warnings if w.rule == "NoEmptyContinuation"]
    if not empty:
        return ""
    lines = ["[WARNING]: Empty continuation line found in:\n    "
             + w.message.removeprefix(lint.EMPTY_CONTINUATION) for w in empty]
    lines.append("[WARNING]: Empty continuation lines will become errors in a future release.")
    return "\n".join(lines) + "\n"


def parse_trigger(expression: str) -> ins.Instruction:
    """One ONBUILD trigger of a base image's config (``"RUN make"``) as an instruction, as
    moby's dispatchTriggeredOnBuild parses it: errors unframed, one instruction only."""
    entries = read(expression).entries
    if len(entries) != 1:
        raise InvalidArgument("onbuild trigger should be a single expression")
    instr = parse_instruction(entries[0])
    if isinstance(instr, ins.Stage):
        raise InvalidArgument("*instructions.Stage is not a command type")
    return instr
