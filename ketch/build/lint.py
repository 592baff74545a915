"""buildkit's Dockerfile lint rules that the text alone decides, by their rule names.

    NoEmptyContinuation          (found while reading lines)
    MaintainerDeprecated         MAINTAINER
    StageNameCasing              FROM x AS Build
    FromAsCasing                 FROM x as build
    ConsistentInstructionCasing  a keyword not in the file's majority casing
    DuplicateStageName           two stages with one name
    ReservedStageName            a stage named scratch or context
    MultipleInstructionsDisallowed  a second CMD, ENTRYPOINT or HEALTHCHECK in a stage
    LegacyKeyValueFormat         ENV a b / LABEL a b
    JSONArgsRecommended          CMD / ENTRYPOINT in shell form (no SHELL in the stage)
    ExposeProtoCasing            EXPOSE 80/TCP
    ExposeInvalidFormat          EXPOSE 8080:80

Rules that need the images or the ARG values (UndefinedVar, UndefinedArgInFrom,
WorkdirRelativePath...) belong to dispatch. ``# check=skip=Rule1,Rule2`` (or ``skip=all``)
turns rules off, as buildkit's check directive.
"""

from ketch.build import instructions as ins
from ketch.build.reader import Source

EMPTY_CONTINUATION = "Empty continuation line found in: "
_RESERVED = ("scratch", "context")
_ONCE = ("CMD", "ENTRYPOINT", "HEALTHCHECK")


def _skipped(check: str) -> set[str]:
    skip: set[str] = set()
    for part in check.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "skip":
            skip |= {name.strip() for name in value.split(",")}
    return skip


def check(dockerfile: ins.Dockerfile, source: Source) -> tuple[ins.Warning, ...]:
    found: list[ins.Warning] = list(source.warnings)
    found += _casing(source)
    seen_names: set[str] = set()
    legacy = {e.location for e in source.entries if e.node.legacy_kv}
    for stage in dockerfile.stages:
        found += _stage(stage, seen_names, legacy)
    found.sort(key=lambda w: w.location.start)
    skip = _skipped(dockerfile.directives.check)
    if "all" in skip:
        return ()
    return tuple(w for w in found if w.rule not in skip)


def _casing(source: Source) -> list[ins.Warning]:
    words = [(e.node.word, e.location) for e in source.entries]
    consistent = [w for w, _ in words if w in (w.lower(), w.upper())]
    lower = sum(1 for w in consistent if w == w.lower())
    majority_lower = lower > len(consistent) - lower
    out = []
    for word, location in words:
        want = word.lower() if majority_lower else word.upper()
        if word != want:
            out.append(ins.Warning(
                "ConsistentInstructionCasing",
                f"Command '{word}' should match the case of the command majority "
                f"({'lowercase' if majority_lower else 'uppercase'})", location))
    return out


def _stage(stage: ins.Stage, seen_names: set[str], legacy: set[ins.Location]
           ) -> list[ins.Warning]:
    out = []
    words = stage.original.split()
    if len(words) >= 3 and words[-2].lower() == "as":
        keyword, as_word, name = words[0], words[-2], words[-1]
        if name != name.lower():
            out.append(ins.Warning("StageNameCasing",
                                   f"Stage name '{name}' should be lowercase", stage.location))
        if keyword in (keyword.lower(), keyword.upper()) and \
                as_word != (as_word.lower() if keyword == keyword.lower() else as_word.upper()):
            out.append(ins.Warning("FromAsCasing", f"'{as_word}' and '{keyword}' keywords' "
                                   "casing do not match", stage.location))
    if stage.name in _RESERVED:
        out.append(ins.Warning("ReservedStageName", "Stage name should not use the same name "
                               f"as reserved stage \"{stage.name}\"", stage.location))
    if stage.name and stage.name in seen_names:
        out.append(ins.Warning("DuplicateStageName", f"Duplicate stage name \"{stage.name}\", "
                               "stage names should be unique", stage.location))
    seen_names.add(stage.name)
    last: dict[str, ins.Location] = {}
    has_shell = False
    for cmd in stage.commands:
        out += _command(cmd, has_shell, cmd.location in legacy)
        has_shell = has_shell or isinstance(cmd, ins.ShellInstr)
        if cmd.keyword in _ONCE:
            if cmd.keyword in last:  # the earlier one is the one ignored
                out.append(ins.Warning(
                    "MultipleInstructionsDisallowed",
                    f"Multiple {cmd.keyword} instructions should not be used in the same stage "
                    "because only the last one will be used", last[cmd.keyword]))
            last[cmd.keyword] = cmd.location
    return out


def _command(cmd: ins.Instruction, has_shell: bool, legacy_kv: bool) -> list[ins.Warning]:
    out = []
    if isinstance(cmd, ins.MaintainerInstr):
        out.append(ins.Warning("MaintainerDeprecated",
                               "Maintainer instruction is deprecated in favor of using label",
                               cmd.location))
    elif legacy_kv:
        out.append(ins.Warning("LegacyKeyValueFormat", f"\"{cmd.keyword} key=value\" should be "
                               f"used instead of legacy \"{cmd.keyword} key value\" format",
                               cmd.location))
    elif isinstance(cmd, (ins.CmdInstr, ins.EntrypointInstr)) and cmd.command.prepend_shell \
            and not has_shell:
        out.append(ins.Warning("JSONArgsRecommended", f"JSON arguments recommended for "
                               f"{cmd.keyword} to prevent unintended behavior related to OS "
                               "signals", cmd.location))
    elif isinstance(cmd, ins.ExposeInstr):
        for port in cmd.ports:
            if "$" in port:
                continue
            proto = port.rpartition("/")[2] if "/" in port else ""
            if proto != proto.lower():
                out.append(ins.Warning("ExposeProtoCasing", f"Defined protocol '{port}' in "
                                       "EXPOSE instruction should be lowercase", cmd.location))
            if ":" in port.partition("/")[0]:
                out.append(ins.Warning("ExposeInvalidFormat", "EXPOSE instruction should not "
                                       "define an IP address or host-port mapping, found "
                                       f"'{port}'", cmd.location))
    return out

