"""A build from request to image: ``build(request, context_dir, backend, emit)``.

    Dockerfile text ── parser.parse ──▶ Dockerfile(meta_args, stages)
        meta ARGs      "Step 1/n : ARG V=1"           (known to every FROM)
        stagegraph     the stages the target needs and what each waits for
        stagerun       one asyncio task per needed stage: FROM, triggers, steps
        --label        LABEL steps at the end of the target stage
        unused args    "[Warning] One or more build-args [X] were not consumed"
        tag            each -t

Steps are numbered as moby's "Step i/n" over the meta ARGs and the needed stages in
file order. Stages without a dependency between them run at the same time; their
events are held back so the stream still reads stage after stage: a stage's events
pass through live once every stage before it has finished.
"""

import asyncio
import os
from collections.abc import Callable

from ketch.build import dispatch, instructions as ins, stagegraph, stagerun
from ketch.build.backend import BuildBackend, ImageState
from ketch.build.buildargs import BuildArgs
from ketch.build.copyjob import FileWork
from ketch.build.request import BuildRequest, BuildResult, Message, Progress, PullProgress, StepStart
from ketch.build.shell_lex import ProcessWord
from ketch.errors import InvalidArgument, KetchError


async def build(request: BuildRequest, context_dir: str | None, backend: BuildBackend,
                emit: Callable[[Progress], None], files: FileWork | None = None) -> BuildResult:
    from ketch.build import parser  # the parser is only needed here, not by the steps

    text = request.dockerfile_text
    if text is None:
        text = read_dockerfile(context_dir, request.dockerfile)
    if not text:
        raise InvalidArgument(f"the Dockerfile ({request.dockerfile}) cannot be empty")
    dockerfile = parser.parse(text, request.dockerfile)

    def parse_trigger(expression: str) -> ins.Instruction:
        stages = parser.parse("FROM scratch\n" + expression, request.dockerfile).stages
        if len(stages) != 1 or len(stages[0].commands) != 1:
            raise InvalidArgument("onbuild trigger should be a single expression")
        return stages[0].commands[0]

    if files is None:
        from ketch.build.copyfiles import ContextFiles
        files = ContextFiles()
    return await build_dockerfile(dockerfile, request, context_dir, backend, emit, files,
                                  parse_trigger)


def read_dockerfile(context_dir: str | None, name: str) -> str:
    """The Dockerfile inside the context, never through a link out of it; "Dockerfile"
    also found as "dockerfile", as moby does."""
    from ketch.linux.safepath import open_in_root, reopen

    if context_dir is None:
        raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
    root = os.open(context_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for candidate in (name, name.lower()) if name == "Dockerfile" else (name,):
            try:
                path_fd = open_in_root(root, candidate)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                fd = reopen(path_fd, os.O_RDONLY)
            except IsADirectoryError:
                continue
            finally:
                os.close(path_fd)
            with os.fdopen(fd, "rb") as f:
                return f.read().decode("utf-8", "surrogateescape")
    finally:
        os.close(root)
    raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")


class _Ordered:
    """Events of parallel stages, passed on in stage order (see the module's docstring)."""

    def __init__(self, emit: Callable[[Progress], None], order: list[int]):
        self.out = emit
        self.order = order
        self.head = 0
        self.held: dict[int, list[Progress]] = {i: [] for i in order}
        self.done: set[int] = set()

    def emitter(self, stage: int) -> Callable[[Progress], None]:
        def emit(event: Progress) -> None:
            if self.head < len(self.order) and self.order[self.head] == stage:
                self.out(event)
            else:
                self.held[stage].append(event)
        return emit

    def finished(self, stage: int) -> None:
        self.done.add(stage)
        while self.head < len(self.order) and self.order[self.head] in self.done:
            self.head += 1
            if self.head < len(self.order):
                self._flush(self.order[self.head])

    def flush_all(self) -> None:
        for stage in self.order:
            self._flush(stage)

    def _flush(self, stage: int) -> None:
        held, self.held[stage] = self.held[stage], []
        for event in held:
            self.out(event)


async def build_dockerfile(dockerfile: ins.Dockerfile, request: BuildRequest,
                           context_dir: str | None, backend: BuildBackend,
                           emit: Callable[[Progress], None], files: FileWork,
                           parse_trigger: Callable[[str], ins.Instruction]) -> BuildResult:
    escape = dockerfile.directives.escape or "\\"
    stages = dockerfile.stages
    if not stages:
        raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
    args = BuildArgs(request.build_args)
    target = stagegraph.target_index(stages, request.target)
    labels = tuple(dispatch.LabelOption(ins.Location(0, 0), f"LABEL {k}={v}",
                                        labels=(ins.KeyValue(k, v),))
                   for k, v in sorted(request.labels.items()))

    # meta ARGs first: numbered, expanded against the ones before, known to every FROM
    index = 1
    meta_events = []
    for meta in dockerfile.meta_args:
        meta_events.append(StepStart(index, 0, meta.original.strip()))
        index += 1
        envs = [f"{k}={v}" for k, v in args.all_allowed().items()]
        for spec in meta.args:
            key = ProcessWord(spec.key, envs, escape)
            value = None if spec.value is None else ProcessWord(spec.value, envs, escape)
            args.add(key, value)
            args.add_meta(key, value)
    meta_env = [f"{k}={v}" for k, v in args.all_meta().items()]
    plan = stagegraph.plan(stages, request.target, meta_env, escape)
    counts = {i: 1 + len(stages[i].commands) + (len(labels) if i == target else 0)
              for i in plan.needed}
    total = len(dockerfile.meta_args) + sum(counts.values())
    for event in meta_events:
        emit(StepStart(event.index, total, event.text))
    first = {}
    for i in plan.needed:
        first[i] = index
        index += counts[i]

    ordered = _Ordered(emit, list(plan.needed))
    results: dict[int, asyncio.Future] = {i: asyncio.get_running_loop().create_future()
                                          for i in plan.needed}

    async def base_image(stage: int, name: str, platform: str) -> ImageState | None:
        found = stagegraph.earlier_stage(stages, stage, name)
        if found is not None and stages[found].name and name.lower() == stages[found].name.lower():
            return await results[found]
        if name == "scratch":
            return None
        return await backend.base_image(name, platform, request.pull,
                                        lambda m: ordered.emitter(stage)(PullProgress(m)))

    async def resolve_from(stage: int, ref: str) -> str:
        found = stagegraph.earlier_stage(stages, stage, ref)
        if found is not None:
            image = await results[found]
            return image.id if image else ""
        try:
            n = int(ref, 10)
        except ValueError:
            image = await backend.base_image(ref, request.platform, request.pull,
                                             lambda m: ordered.emitter(stage)(PullProgress(m)))
            return image.id
        raise InvalidArgument("refers to current build stage" if n == stage else "index out of bounds")

    async def run(i: int) -> dispatch.StageState:
        stage = stages[i]
        out = ordered.emitter(i)
        env = dispatch.Env(request=request, context_dir=context_dir, files=files,
                           resolve_from=lambda ref: resolve_from(i, ref),
                           note=lambda text: out(Message(text)), secrets=dict(request.secrets))
        job = stagerun.StageJob(
            backend=backend, env=env, emit=out, total=total,
            base_image=lambda name, platform: base_image(i, name, platform),
            parse_trigger=parse_trigger,
            no_cache=request.no_cache or (stage.name in request.no_cache_filter))
        state = dispatch.StageState(config={}, image=None, args=args.for_stage(),
                                    name=stage.name, index=i, escape=escape)
        commands = stage.commands + (labels if i == target else ())
        try:
            await stagerun.run_stage(stage, state, first[i], commands, job)
        except asyncio.CancelledError:
            results[i].cancel()
            raise
        except BaseException as exc:
            results[i].set_exception(exc)
            results[i].exception()  # retrieved: the task's own error is what is raised
            raise
        results[i].set_result(state.image)
        ordered.finished(i)
        return state

    tasks = {i: asyncio.create_task(run(i)) for i in plan.needed}
    try:
        await asyncio.gather(*tasks.values())
    except BaseException:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        ordered.flush_all()
        raise _first_error(tasks, plan.needed)
    states = {i: tasks[i].result() for i in plan.needed}
    for state in states.values():
        args.merge_referenced(state.args)
    final = states[plan.target]
    if not final.image_id:
        raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
    warnings = []
    unused = args.unused()
    if unused:
        text = "[Warning] One or more build-args [" + " ".join(unused) + "] were not consumed\n"
        emit(Message(text))
        warnings.append(text.strip())
    if request.tags:
        await backend.tag(final.image_id, tuple(request.tags))
    return BuildResult(final.image_id, tuple(request.tags),
                       tuple(warnings) + tuple(w.message for w in dockerfile.warnings))


def _first_error(tasks: dict[int, asyncio.Task], order) -> BaseException:
    """The error of the earliest stage that failed of itself (not cancelled by another)."""
    for i in order:
        task = tasks[i]
        if task.done() and not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, asyncio.CancelledError):
                return exc
    return KetchError("Build cancelled")
