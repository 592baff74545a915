"""A Dockerfile as typed instructions: what ``build.parser`` produces and the builder runs.

buildkit's ``frontend/dockerfile/instructions``, flattened. Words are kept as written
(unexpanded): ``$VAR`` in them is expanded at dispatch against the ARGs and ENV in effect
at that step, as both Docker builders do. Every instruction keeps its ``location`` (the
1-based first and last line in the file) for error messages (``Dockerfile:7``) and its
``original`` text (the logical line, continuations joined, as moby's ``node.Original``),
which the classic builder's history ``created_by`` and cache keys are made from.

    Dockerfile
      directives: Directives          # syntax= escape= check=
      meta_args:  [ArgInstr]          # the ARGs before the first FROM
      stages:     [Stage]
        Stage(name, base, platform, commands=[Instruction ...])

Shell-or-exec commands (RUN, CMD, ENTRYPOINT, HEALTHCHECK CMD) are a ``Command``:
``prepend_shell`` true means the shell form (the words are one string, run by SHELL).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Location:
    start: int  # 1-based line of the instruction's first line
    end: int    # its last line (continuations and heredocs included)


@dataclass(frozen=True)
class Directives:
    syntax: str = ""
    escape: str = "\\"
    check: str = ""


@dataclass(frozen=True)
class Heredoc:
    """``<<EOF`` ... ``EOF``: ``name`` is the delimiter word, ``content`` the lines in between
    (each with its newline; ``<<-`` strips leading tabs). ``expand`` is false when the
    delimiter was quoted (``<<'EOF'``): then ``$VAR`` stays as written."""
    name: str
    content: str
    expand: bool = True
    chomp: bool = False  # <<- : leading tabs removed


@dataclass(frozen=True)
class Command:
    """The argument of RUN, CMD, ENTRYPOINT: shell form (one string in ``args``,
    ``prepend_shell``) or exec form (the JSON array's strings)."""
    args: tuple[str, ...]
    prepend_shell: bool
    heredocs: tuple[Heredoc, ...] = ()  # RUN <<EOF: the first is the script (buildkit's rules)


@dataclass(frozen=True)
class Instruction:
    location: Location
    original: str  # the logical line as written, e.g. "RUN apk add x" (moby node.Original)

    @property
    def keyword(self) -> str:  # "RUN", "COPY", ... (upper case)
        return getattr(self, "KEYWORD", "")


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str


@dataclass(frozen=True)
class ArgSpec:
    """``ARG name[=default]``; ``value`` None when no default was given."""
    key: str
    value: str | None = None


# -- the instructions ----------------------------------------------------------------------

@dataclass(frozen=True)
class EnvInstr(Instruction):
    KEYWORD = "ENV"
    pairs: tuple[KeyValue, ...] = ()


@dataclass(frozen=True)
class ArgInstr(Instruction):
    KEYWORD = "ARG"
    args: tuple[ArgSpec, ...] = ()


@dataclass(frozen=True)
class LabelInstr(Instruction):
    KEYWORD = "LABEL"
    labels: tuple[KeyValue, ...] = ()


@dataclass(frozen=True)
class MaintainerInstr(Instruction):
    KEYWORD = "MAINTAINER"
    maintainer: str = ""


@dataclass(frozen=True)
class MountSpec:
    """One ``RUN --mount=...``, its fields as buildkit's ``instructions.Mount`` (words
    unexpanded; ``type`` one of bind, cache, tmpfs, secret, ssh)."""
    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""  # a stage name or index, or an image reference
    readonly: bool = True  # bind defaults to ro; cache and tmpfs to rw
    id: str = ""  # cache and secret
    sharing: str = "shared"  # cache: shared | private | locked
    mode: int | None = None  # cache, secret: the mount point's mode
    uid: int | None = None
    gid: int | None = None
    size: int = 0  # tmpfs bytes, 0: the default
    required: bool = False  # secret
    env: str = ""  # secret: expose as this environment variable


@dataclass(frozen=True)
class RunInstr(Instruction):
    KEYWORD = "RUN"
    command: Command = Command((), True)
    mounts: tuple[MountSpec, ...] = ()
    network: str = ""  # "", default, none, host
    security: str = ""  # "", sandbox, insecure


@dataclass(frozen=True)
class SourcesAndDest:
    """COPY/ADD's words: sources then the destination; ``heredocs`` are inline files
    (``COPY <<EOF /dest``) in the order they appear among the words. ``sources`` holds the
    path words only (the ``<<EOF`` words are in ``heredocs``, as buildkit's
    SourcePaths/SourceContents)."""
    sources: tuple[str, ...]
    dest: str
    heredocs: tuple[Heredoc, ...] = ()


@dataclass(frozen=True)
class CopyInstr(Instruction):
    KEYWORD = "COPY"
    files: SourcesAndDest = SourcesAndDest((), "")
    from_: str = ""  # --from: a stage name or index, or an image reference
    chown: str = ""
    chmod: str = ""
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddInstr(Instruction):
    KEYWORD = "ADD"
    files: SourcesAndDest = SourcesAndDest((), "")
    chown: str = ""
    chmod: str = ""
    link: bool = False
    checksum: str = ""  # --checksum=sha256:...: for a URL source
    keep_git_dir: bool = False
    excludes: tuple[str, ...] = ()
    unpack: bool | None = None  # --unpack[=bool]; None: not given (archives unpack, URLs not)


@dataclass(frozen=True)
class WorkdirInstr(Instruction):
    KEYWORD = "WORKDIR"
    path: str = ""


@dataclass(frozen=True)
class VolumeInstr(Instruction):
    KEYWORD = "VOLUME"
    volumes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExposeInstr(Instruction):
    KEYWORD = "EXPOSE"
    ports: tuple[str, ...] = ()


@dataclass(frozen=True)
class CmdInstr(Instruction):
    KEYWORD = "CMD"
    command: Command = Command((), True)


@dataclass(frozen=True)
class EntrypointInstr(Instruction):
    KEYWORD = "ENTRYPOINT"
    command: Command = Command((), True)


@dataclass(frozen=True)
class HealthConfig:
    """HEALTHCHECK's result in the image config's terms (``test`` ["NONE"] for NONE,
    ["CMD", ...] or ["CMD-SHELL", "..."]); durations in nanoseconds, 0: unset."""
    test: tuple[str, ...]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True)
class HealthcheckInstr(Instruction):
    KEYWORD = "HEALTHCHECK"
    health: HealthConfig = HealthConfig(())


@dataclass(frozen=True)
class OnbuildInstr(Instruction):
    KEYWORD = "ONBUILD"
    expression: str = ""  # the trigger as written ("RUN echo hi"), stored in the image config


@dataclass(frozen=True)
class UserInstr(Instruction):
    KEYWORD = "USER"
    user: str = ""


@dataclass(frozen=True)
class ShellInstr(Instruction):
    KEYWORD = "SHELL"
    shell: tuple[str, ...] = ()


@dataclass(frozen=True)
class StopSignalInstr(Instruction):
    KEYWORD = "STOPSIGNAL"
    signal: str = ""


# -- stages and the file -------------------------------------------------------------------

@dataclass(frozen=True)
class Stage:
    """``FROM [--platform=P] base [AS name]`` and the instructions up to the next FROM.
    ``base`` and ``platform`` are unexpanded (meta ARGs apply); ``name`` is lower-cased."""
    location: Location
    original: str
    base: str
    name: str = ""
    platform: str = ""
    commands: tuple[Instruction, ...] = ()


@dataclass(frozen=True)
class Warning:
    """A lint warning as buildkit names them (``JSONArgsRecommended``, ...) with its line."""
    rule: str
    message: str
    location: Location


@dataclass(frozen=True)
class Dockerfile:
    directives: Directives
    meta_args: tuple[ArgInstr, ...]
    stages: tuple[Stage, ...]
    warnings: tuple[Warning, ...] = field(default=())
