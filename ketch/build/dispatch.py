"""Each Dockerfile instruction -> the next config and the image step it makes.

moby's classic builder (``builder/dockerfile/dispatchers.go``, dockerd 20.10), one
function per instruction. A dispatcher updates the stage's ``StageState`` (its config,
args, maintainer) and returns the ``Action`` that makes the step's image; it never
calls the backend (``build.stagerun`` probes the cache and performs the action):

    Commit   the config changes, the files do not (ENV, LABEL, CMD, ... ARG, ONBUILD)
    Run      a container runs the command; its changes are the layer (RUN)
    Mutate   an edit of the root in the daemon (COPY, ADD, WORKDIR's mkdir)

Words are expanded here, as moby does at dispatch: ENV, LABEL, ARG, COPY/ADD (sources,
dest, --chown), WORKDIR, USER, VOLUME, STOPSIGNAL and EXPOSE (into several words)
against the Env and the allowed ARGs in effect before the instruction; RUN, CMD,
ENTRYPOINT, HEALTHCHECK, SHELL, MAINTAINER and ONBUILD are kept as written.

History texts are moby's: ``/bin/sh -c #(nop)  ENV A=1`` (the comment is two words of
Cmd: "#(nop) " and "ENV A=1", joined by a space), ``/bin/sh -c #(nop) COPY file:<h> in
/dest `` and ``/bin/sh -c #(nop) WORKDIR /app`` (one word), ``|1 A=b /bin/sh -c make``.
"""

import asyncio
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from ketch.build import gofmt, instructions as ins, netpool, runconfig
from ketch.build.backend import HistoryEntry, ImageState, MountedRoots, RunSpec, SecretSource
from ketch.build.buildargs import BuildArgs
from ketch.build.changes import check_signal, health_document, normalize_workdir, port_spec
from ketch.build.copyjob import CopyJob, FileWork
from ketch.build.remote import is_url
from ketch.build.request import BuildRequest
from ketch.build.shell_lex import ProcessWord, ProcessWords
from ketch.errors import InvalidArgument, KetchError


@dataclass(frozen=True)
class LabelOption(ins.LabelInstr):
    """A ``--label`` of the build: a LABEL appended to the last stage, not expanded."""


@dataclass
class StageState:
    config: dict
    image: ImageState | None  # None: scratch, nothing made yet
    args: BuildArgs
    name: str = ""
    index: int = 0  # the stage's position in the file
    platform: str = ""
    maintainer: str = ""
    cmd_set: bool = False  # a CMD with arguments came in this stage: ENTRYPOINT keeps it
    escape: str = "\\"

    @property
    def image_id(self) -> str:
        return self.image.id if self.image else ""

    def envs(self) -> list[str]:
        """The words' environment: the config's Env, then the allowed ARGs it lacks."""
        env = list(self.config.get("Env") or [])
        return env + self.args.filter_allowed(env)

    def word(self, text: str, envs: list[str]) -> str:
        return ProcessWord(text, envs, self.escape)


@dataclass(frozen=True)
class Commit:
    config: dict
    container_config: dict
    history: HistoryEntry


@dataclass(frozen=True)
class Run:
    config: dict
    container_config: dict
    history: HistoryEntry
    spec: RunSpec
    key_extra: tuple[str, ...] = ()  # what the cache key needs beyond the config (mounts)


@dataclass(frozen=True)
class Mutate:
    config: dict
    container_config: dict
    history: HistoryEntry
    edit: Callable[[MountedRoots], None]
    sources: tuple[str, ...] = ()
    container: bool = False  # moby makes this step in a container (WORKDIR): "Running in"
    key_extra: tuple[str, ...] = ()  # COPY/ADD flags that change the files but not Cmd


Action = Commit | Run | Mutate


@dataclass
class Env:
    """What dispatchers need from outside the stage."""
    request: BuildRequest
    context_dir: str | None
    files: FileWork
    resolve_from: Callable[[str], Awaitable[str]]  # a --from value -> an image id
    note: Callable[[str], None] = lambda text: None  # a line for the output
    secrets: dict[str, bytes] = field(default_factory=dict)
    # (image id, fn) -> fn(the image's root fd), in a thread: BuildBackend.read_root
    read_root: Callable[[str, Callable[[int], str]], Awaitable[str]] | None = None


async def dispatch(state: StageState, instr: ins.Instruction, env: Env) -> Action:
    envs = state.envs()
    handler = _HANDLERS.get(type(instr)) or _HANDLERS.get(type(instr).__mro__[1])
    if handler is None:
        raise InvalidArgument(f"unsupported command type: {type(instr).__name__}")
    action = handler(state, instr, envs, env)
    if hasattr(action, "__await__"):
        action = await action
    return action


# -- the config-only instructions -----------------------------------------------------

def _commit(state: StageState, comment: str) -> Commit:
    config = runconfig.normalized(state.config)
    cc = {**config, "Cmd": [*runconfig.shell(config), "#(nop) ", comment]}
    return Commit(config, cc, _history(state, cc, empty=True))


def _history(state: StageState, container_config: dict, empty: bool | None) -> HistoryEntry:
    return HistoryEntry(" ".join(container_config.get("Cmd") or []), author=state.maintainer,
                        empty_layer=empty)


def _env(state, instr: ins.EnvInstr, envs, env) -> Commit:
    pairs = [(state.word(p.key, envs), state.word(p.value, envs)) for p in instr.pairs]
    current = list(state.config.get("Env") or [])
    for key, value in pairs:
        for i, item in enumerate(current):
            if item.split("=", 1)[0] == key:
                current[i] = f"{key}={value}"  # in place, as moby's dispatchEnv
                break
        else:
            current.append(f"{key}={value}")
    state.config["Env"] = current
    return _commit(state, "ENV" + "".join(f" {k}={v}" for k, v in pairs))


def _maintainer(state, instr: ins.MaintainerInstr, envs, env) -> Commit:
    state.maintainer = instr.maintainer
    return _commit(state, "MAINTAINER " + instr.maintainer)


def _label(state, instr: ins.LabelInstr, envs, env) -> Commit:
    if isinstance(instr, LabelOption):
        pairs = [(p.key, p.value) for p in instr.labels]
    else:
        pairs = [(state.word(p.key, envs), state.word(p.value, envs)) for p in instr.labels]
    labels = dict(state.config.get("Labels") or {})
    labels.update(pairs)
    state.config["Labels"] = labels
    return _commit(state, "LABEL" + "".join(f" {k}={v}" for k, v in pairs))


def _onbuild(state, instr: ins.OnbuildInstr, envs, env) -> Commit:
    state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), instr.expression]
    return _commit(state, "ONBUILD " + instr.expression)


def _resolve_cmdline(command: ins.Command, config: dict) -> list[str] | None:
    """resolveCmdLine: the shell form gets SHELL in front (``CMD`` alone: the shell
    alone); an empty JSON array is no command at all (null), as buildkit parses it."""
    args = list(command.args)
    if command.prepend_shell:
        return [*runconfig.shell(config), *args]
    return args or None


def _cmd(state, instr: ins.CmdInstr, envs, env) -> Commit:
    cmd = _resolve_cmdline(instr.command, state.config)
    state.config["Cmd"] = cmd
    state.config["ArgsEscaped"] = False
    action = _commit(state, "CMD " + gofmt.quote_list(cmd))
    if instr.command.args:
        state.cmd_set = True
    return action


def _entrypoint(state, instr: ins.EntrypointInstr, envs, env) -> Commit:
    cmd = _resolve_cmdline(instr.command, state.config)
    state.config["Entrypoint"] = cmd
    state.config["ArgsEscaped"] = False
    if not state.cmd_set:
        state.config["Cmd"] = None
    return _commit(state, "ENTRYPOINT " + gofmt.quote_list(cmd))


def _healthcheck(state, instr: ins.HealthcheckInstr, envs, env) -> Commit:
    old = state.config.get("Healthcheck")
    if old and old.get("Test") and old["Test"][0] != "NONE":
        env.note("Note: overriding previous HEALTHCHECK: " + gofmt.plain_list(old["Test"]) + "\n")
    state.config["Healthcheck"] = health_document(instr.health)
    return _commit(state, "HEALTHCHECK " + gofmt.quote_health(state.config["Healthcheck"]))


def _expose(state, instr: ins.ExposeInstr, envs, env) -> Commit:
    # the words sorted as written (buildkit's parseExpose in 20.10), then expanded
    ports = [p for word in sorted(instr.ports) for p in ProcessWords(word, envs, state.escape)]
    exposed = dict(state.config.get("ExposedPorts") or {})
    for port in ports:
        for key in port_spec(port):
            exposed[key] = {}
    state.config["ExposedPorts"] = exposed
    return _commit(state, "EXPOSE " + " ".join(ports))


def _user(state, instr: ins.UserInstr, envs, env) -> Commit:
    state.config["User"] = state.word(instr.user, envs)
    return _commit(state, "USER " + state.config["User"])


def _volume(state, instr: ins.VolumeInstr, envs, env) -> Commit:
    volumes = [state.word(v, envs) for v in instr.volumes]
    current = dict(state.config.get("Volumes") or {})
    for v in volumes:
        if not v:
            raise InvalidArgument("VOLUME specified can not be an empty string")
        current[v] = {}
    state.config["Volumes"] = current
    return _commit(state, "VOLUME " + gofmt.plain_list(volumes))


def _stopsignal(state, instr: ins.StopSignalInstr, envs, env) -> Commit:
    signal = check_signal(state.word(instr.signal, envs))
    state.config["StopSignal"] = signal
    return _commit(state, "STOPSIGNAL " + signal)


def _arg(state, instr: ins.ArgInstr, envs, env) -> Commit:
    words = []
    for spec in instr.args:
        key = state.word(spec.key, envs)
        value = None if spec.value is None else state.word(spec.value, envs)
        words.append(key if value is None else f"{key}={value}")
        state.args.add(key, value)
    return _commit(state, "ARG " + " ".join(words))


def _shell(state, instr: ins.ShellInstr, envs, env) -> Commit:
    state.config["Shell"] = list(instr.shell)
    return _commit(state, "SHELL " + gofmt.plain_list(instr.shell))


# -- WORKDIR ---------------------------------------------------------------------------

def _workdir(state, instr: ins.WorkdirInstr, envs, env) -> Mutate:
    workdir = normalize_workdir(state.config.get("WorkingDir") or "", state.word(instr.path, envs))
    state.config["WorkingDir"] = workdir
    config = runconfig.normalized(state.config)
    cc = {**config, "Cmd": [*runconfig.shell(config), "#(nop) WORKDIR " + workdir]}
    return Mutate(config, cc, _history(state, cc, empty=None), _mkdir(workdir), container=True)


def _mkdir(workdir: str) -> Callable[[MountedRoots], None]:
    def edit(roots: MountedRoots) -> None:
        from ketch.linux.safepath import mkdir_all_in_root
        try:
            mkdir_all_in_root(f"/proc/self/fd/{roots.root}", workdir)
        except NotADirectoryError:
            raise InvalidArgument(f"Cannot mkdir: {workdir} is not a directory") from None
    return edit


# -- RUN ------------------------------------------------------------------------------

def _run_args(command: ins.Command, config: dict) -> list[str]:
    """The argv of RUN: heredocs as buildkit runs them (a lone ``<<EOF``: its content is
    the script; heredocs inside a longer line: the text put back together for the shell)."""
    if command.heredocs and command.prepend_shell and command.args:
        first = command.heredocs[0]
        line = command.args[0]
        if len(command.heredocs) == 1 and line.strip().lstrip("<-").strip("'\"") == first.name:
            script = first.content
            return [*runconfig.shell(config), script]
        text = line + "".join("\n" + h.content + h.name for h in command.heredocs)
        return [*runconfig.shell(config), text]
    return _resolve_cmdline(command, config)


def prepend_env(args: BuildArgs, build_args: list[str], cmd: list[str]) -> list[str]:
    """prependEnvOnCmd: ``|N K=v ...`` in front of the command, proxies left out unless
    an ARG declared them; sorted, as moby sorts."""
    kept = sorted(e for e in build_args if args.referenced_or_not_builtin(e.split("=", 1)[0]))
    return [f"|{len(kept)}", *kept, *cmd]


async def _run(state, instr: ins.RunInstr, envs, env: Env) -> Run:
    config = runconfig.normalized(state.config)
    cmd = _run_args(instr.command, config) or []
    build_args = state.args.filter_allowed(config.get("Env"))
    save_cmd = prepend_env(state.args, build_args, cmd) if build_args else cmd
    cc = {**config, "Cmd": save_cmd or None}
    cc.pop("ArgsEscaped", None)
    if save_cmd:
        cc["Entrypoint"] = None
    mounts, secrets, extra = await _mounts(state, instr, envs, env)
    _entitled(instr, env.request)
    network = instr.network or env.request.network or "default"
    if instr.network:
        extra = (*extra, "network=" + instr.network)
    if instr.security:
        extra = (*extra, "security=" + instr.security)
    spec = RunSpec(
        argv=tuple(cmd), env=tuple([*(config.get("Env") or []), *build_args]),
        user=config.get("User") or "", workdir=config.get("WorkingDir") or "",
        network=network, mounts=mounts, extra_hosts=tuple(env.request.extra_hosts),
        secrets=secrets, shm_size=env.request.shm_size,
        cgroup_parent=env.request.cgroup_parent, remove=_removal(env.request),
        resources=dict(env.request.resources))
    return Run(config, cc, _history(state, cc, empty=None), spec, extra)


def _entitled(instr: ins.RunInstr, request: BuildRequest) -> None:
    """BuildKit's entitlements: a Dockerfile (often not the user's) gets the host's network
    only when the build was started with ``--allow network.host``; security.insecure is
    never granted (not implemented)."""
    if instr.network == "host" and "network.host" not in request.allow:
        raise InvalidArgument("network.host is not allowed")
    if instr.security == "insecure":
        raise InvalidArgument("security.insecure is not allowed")


def _removal(request: BuildRequest) -> str:
    """The step container's fate: --force-rm always, --rm (the default) unless it failed."""
    if request.force_rm:
        return "always"
    return "success" if request.rm else "never"


async def _mounts(state: StageState, instr: ins.RunInstr, envs, env: Env):
    """RUN --mount as the backend takes them: words expanded, ``from`` an image id, the
    secrets they name; and what the cache key must know of them."""
    mounts, secrets, extra = [], [], []
    for m in instr.mounts:
        w = (lambda text: state.word(text, envs) if text else text)
        m = replace(m, target=w(m.target), source=w(m.source), from_=w(m.from_), id=w(m.id),
                    env=w(m.env))
        if m.type == "secret":
            sid = m.source or m.id or posixpath.basename(m.target)  # dispatchSecret's order
            data = env.secrets.get(sid)
            if data is None:
                if m.required:
                    raise InvalidArgument(f"secret {sid}: not found")
            else:
                secrets.append(SecretSource(sid, data))
            m = replace(m, id=sid)
        elif m.from_:
            m = replace(m, from_=await env.resolve_from(m.from_))
        if m.type not in ("secret", "ssh"):
            m = replace(m, target=_mount_target(m.target, state.config.get("WorkingDir") or ""))
        mounts.append(m)
        extra.append(f"mount type={m.type} target={m.target} source={m.source} "
                     f"from={m.from_} id={m.id} ro={m.readonly} sharing={m.sharing} "
                     f"env={m.env} mode={m.mode} uid={m.uid} gid={m.gid} size={m.size} "
                     f"required={m.required}")
        if m.type == "bind" and not m.from_:
            extra.append("content " + await _context_hash(m.source, env))
    return tuple(mounts), tuple(secrets), tuple(extra)


def _mount_target(target: str, workdir: str) -> str:
    """BuildKit's dispatchRunMounts: a relative (or empty) target is under WORKDIR; the
    root itself is refused."""
    if not target.startswith("/"):
        target = posixpath.normpath(posixpath.join("/", workdir, target))
    if posixpath.normpath(target) in ("/", "//"):
        raise InvalidArgument('invalid mount target "/"')
    return target


async def _context_hash(source: str, env: Env) -> str:
    """What a bind mount of the context shows, as COPY hashes it: a changed file there
    changes the RUN's cache key (as BuildKit's). A missing source is the mount's to report."""
    job = CopyJob(kind="COPY", sources=(source or ".",), dest="/", context_dir=env.context_dir)
    try:
        return await asyncio.to_thread(env.files.hash, job)
    except KetchError:
        return "missing"


# -- COPY and ADD ---------------------------------------------------------------------

def normalize_dest(workdir: str, dest: str) -> str:
    """normalizeDest: a relative destination is under WORKDIR; a trailing "/" kept."""
    if dest.startswith("/"):
        return dest
    out = posixpath.normpath(posixpath.join("/", workdir or "", dest))
    out = "/" + out.lstrip("/")
    return out + "/" if dest.endswith("/") and not out.endswith("/") else out


async def _copy(state, instr: ins.CopyInstr | ins.AddInstr, envs, env: Env) -> Mutate:
    kind = instr.keyword
    words = [state.word(s, envs) for s in instr.files.sources]
    dest_written = state.word(instr.files.dest, envs)
    chown = state.word(instr.chown, envs) if instr.chown else ""
    heredocs = tuple(replace(h, content=state.word(h.content, envs)) if h.expand else h
                     for h in instr.files.heredocs)
    from_image = ""
    if isinstance(instr, ins.CopyInstr) and instr.from_:
        try:
            from_image = await env.resolve_from(instr.from_)
        except KetchError as exc:  # moby wraps the cause, its kind kept
            raise _rewrapped(exc, f"invalid from flag value {instr.from_}: {exc}") from None
    job = CopyJob(
        kind=kind, sources=tuple(words), dest=normalize_dest(state.config.get("WorkingDir") or "", dest_written),
        context_dir=env.context_dir, from_image=from_image, heredocs=heredocs, chown=chown,
        chmod=instr.chmod, preserve_ownership=bool(from_image) and not chown,
        decompress=kind == "ADD", checksum=getattr(instr, "checksum", ""),
        keep_git_dir=getattr(instr, "keep_git_dir", False), excludes=instr.excludes,
        parents=getattr(instr, "parents", False), link=instr.link)
    if from_image and env.read_root is not None:  # hashed in the image's root, as moby
        digest = await env.read_root(from_image, lambda root: env.files.hash(job, root))
    else:
        # reads the whole context, or downloads (in the builds' own cancellable pool)
        downloads = kind == "ADD" and any(is_url(word) for word in words)
        digest = await (netpool.run if downloads else asyncio.to_thread)(env.files.hash, job)
    for word in words if kind == "ADD" else ():
        if is_url(word):
            env.note("\n")  # moby's Fprintln after each download (the CLI shows an empty line)
    chown_comment = f"--chown={chown}" if chown else ""
    config = runconfig.normalized(state.config)
    comment = f"{kind} {chown_comment}{digest} in {dest_written} "
    cc = {**config, "Cmd": [*runconfig.shell(config), "#(nop) " + comment]}
    return Mutate(config, cc, _history(state, cc, empty=None), env.files.edit(job),
                  sources=(from_image,) if from_image else (), key_extra=_copy_key(job))


def _copy_key(job: CopyJob) -> tuple[str, ...]:
    """What changes a COPY's result beyond its sources' hash and --chown (both in Cmd): an
    excluded file must not come back from the cache, nor a file with another mode."""
    extra = [f"exclude={p}" for p in job.excludes]
    if job.chmod:
        extra.append("chmod=" + job.chmod)
    if job.parents:
        extra.append("parents")
    return tuple(extra)


def _rewrapped(exc: KetchError, message: str) -> KetchError:
    try:
        return type(exc)(message)
    except TypeError:  # an error with more to it than its text
        return InvalidArgument(message)


_HANDLERS = {
    ins.EnvInstr: _env, ins.MaintainerInstr: _maintainer, ins.LabelInstr: _label,
    ins.OnbuildInstr: _onbuild, ins.CmdInstr: _cmd, ins.EntrypointInstr: _entrypoint,
    ins.HealthcheckInstr: _healthcheck, ins.ExposeInstr: _expose, ins.UserInstr: _user,
    ins.VolumeInstr: _volume, ins.StopSignalInstr: _stopsignal, ins.ArgInstr: _arg,
    ins.ShellInstr: _shell, ins.WorkdirInstr: _workdir, ins.RunInstr: _run,
    ins.CopyInstr: _copy, ins.AddInstr: _copy,
}
