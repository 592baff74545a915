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
from collections.abc import Awaitable, Callable

from ketch.build import dispatch, instructions as ins, stagegraph, stagerun
from ketch.build.backend import BuildBackend, ImageState
from ketch.build.buildargs import BuildArgs, platform_args
from ketch.build.copyjob import FileWork
from ketch.build.request import (BuildRequest, BuildResult, Message, Progress, PullProgress, StepOutput,
                                StepStart)
from ketch.build.shell_lex import ProcessWord
from ketch.errors import InvalidArgument
from ketch.oci import reference


async def build(request: BuildRequest, context_dir: str | None, backend: BuildBackend,
                emit: Callable[[Progress], None], files: FileWork | None = None) -> BuildResult:
    from ketch.build import parser  # the parser is only needed here, not by the steps

    text = request.dockerfile_text
    if text is None:
        text = _read_dockerfile(context_dir, request.dockerfile)
    dockerfile = parser.parse(text, request.dockerfile)
    warnings = parser.classic_warnings(dockerfile)
    if warnings:  # on moby's stderr stream, so in red, before Step 1
        emit(Message("\x1b[91m" + warnings + "\x1b[0m"))
    if files is not None:
        return await build_dockerfile(dockerfile, request, context_dir, backend, emit, files,
                                      parser.parse_trigger)
    from ketch.build.copyfiles import ContextFiles
    own = ContextFiles()
    try:
        return await build_dockerfile(dockerfile, request, context_dir, backend, emit, own,
                                      parser.parse_trigger)
    finally:
        await asyncio.to_thread(own.close)


def _read_dockerfile(context_dir: str | None, name: str) -> str:
    """The Dockerfile inside the context (the route gives its text already; this is for
    callers that give only the context)."""
    from ketch.build.context import read_dockerfile

    if context_dir is None:
        raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
    root = os.open(context_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return read_dockerfile(root, name)[1]
    finally:
        os.close(root)


HELD_OUTPUT = 1 << 20  # bytes of a held stage's RUN output before its step waits its turn


class _Ordered:
    """Events of parallel stages, passed on in stage order (see the module's docstring).
    A held stage's RUN output past ``HELD_OUTPUT`` bytes answers a future resolved when
    the stage's turn comes (the step's output pump awaits it), so memory stays bounded."""

    def __init__(self, emit: Callable[[Progress], Awaitable[None] | None], order: list[int]):
        self.out = emit
        self.order = order
        self.head = 0
        self.held: dict[int, list[Progress]] = {i: [] for i in order}
        self.held_bytes: dict[int, int] = {i: 0 for i in order}
        self.turn: dict[int, asyncio.Future] = {}
        self.done: set[int] = set()

    def emitter(self, stage: int) -> Callable[[Progress], Awaitable[None] | None]:
        def emit(event: Progress) -> Awaitable[None] | None:
            if self.head < len(self.order) and self.order[self.head] == stage:
                return self.out(event)
            self.held[stage].append(event)
            if isinstance(event, StepOutput):
                self.held_bytes[stage] += len(event.data)
                if self.held_bytes[stage] > HELD_OUTPUT:
                    if stage not in self.turn:
                        self.turn[stage] = asyncio.get_running_loop().create_future()
                    return self.turn[stage]
            return None
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
        self.held_bytes[stage] = 0
        for event in held:
            self.out(event)
        turn = self.turn.pop(stage, None)
        if turn is not None and not turn.done():
            turn.set_result(None)


async def build_dockerfile(dockerfile: ins.Dockerfile, request: BuildRequest,
                           context_dir: str | None, backend: BuildBackend,
                           emit: Callable[[Progress], None], files: FileWork,
                           parse_trigger: Callable[[str], ins.Instruction]) -> BuildResult:
    """The build of a parsed Dockerfile (``build`` reads and parses it first)."""
    if not dockerfile.stages:
        raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
    run = _Build(dockerfile, request, context_dir, backend, emit, files, parse_trigger)
    return await run.build()


class _Build:
    def __init__(self, dockerfile, request, context_dir, backend, emit, files, parse_trigger):
        self.dockerfile = dockerfile
        self.stages: tuple[ins.Stage, ...] = dockerfile.stages
        self.request: BuildRequest = request
        self.context_dir = context_dir
        self.backend: BuildBackend = backend
        self.emit = emit
        self.files = files
        self.parse_trigger = parse_trigger
        self.escape = dockerfile.directives.escape or "\\"
        self.args = BuildArgs(request.build_args)
        self.args.add_automatic(platform_args(request.platform))
        self.target = stagegraph.target_index(self.stages, request.target)
        self.labels = tuple(
            dispatch.LabelOption(ins.Location(0, 0), f"LABEL {k}={v}", labels=(ins.KeyValue(k, v),))
            for k, v in sorted(request.labels.items()))
        self.results: dict[int, asyncio.Future] = {}

    async def build(self) -> BuildResult:
        meta_texts = self._meta_args()
        meta_env = [f"{k}={v}" for k, v in self.args.all_meta().items()]
        plan = stagegraph.plan(self.stages, self.request.target, meta_env, self.escape)
        counts = {i: 1 + len(self.stages[i].commands) + (len(self.labels) if i == self.target else 0)
                  for i in plan.needed}
        self.total = len(meta_texts) + sum(counts.values())
        for n, text in enumerate(meta_texts, 1):
            self.emit(StepStart(n, self.total, text))
        first, index = {}, len(meta_texts) + 1
        for i in plan.needed:
            first[i], index = index, index + counts[i]
        self.ordered = _Ordered(self.emit, list(plan.needed))
        loop = asyncio.get_running_loop()
        self.results = {i: loop.create_future() for i in plan.needed}
        tasks = {i: asyncio.create_task(self._stage(i, first[i])) for i in plan.needed}
        try:
            await asyncio.gather(*tasks.values())
        except BaseException:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            self.ordered.flush_all()
            error = _first_error(tasks, plan.needed)
            if error is None:  # the build itself was cancelled (the client went away)
                raise
            raise error from None
        states = {i: tasks[i].result() for i in plan.needed}
        for state in states.values():
            self.args.merge_referenced(state.args)
        final = states[plan.target]
        if not final.image_id:
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
        return await self._finish(final.image_id)

    def _meta_args(self) -> list[str]:
        """processMetaArg: each ARG before FROM expanded against the ones before it; its
        step is only announced ("Step 1/n : ARG V=1", no arrow line)."""
        texts = []
        for meta in self.dockerfile.meta_args:
            texts.append(meta.original.strip())
            envs = [f"{k}={v}" for k, v in self.args.all_allowed().items()]
            for spec in meta.args:
                key = ProcessWord(spec.key, envs, self.escape)
                value = None if spec.value is None else ProcessWord(spec.value, envs, self.escape)
                self.args.add(key, value)
                self.args.add_meta(key, value)
        return texts

    async def _finish(self, image_id: str) -> BuildResult:
        warnings = []
        unused = self.args.unused()
        if unused:
            text = "[Warning] One or more build-args [" + " ".join(unused) + "] were not consumed\n"
            self.emit(Message(text))
            warnings.append(text.strip())
        if self.request.tags:
            await self.backend.tag(image_id, tuple(self.request.tags))
        return BuildResult(image_id, tuple(self.request.tags),
                           tuple(warnings) + tuple(w.message for w in self.dockerfile.warnings))

    async def _stage(self, i: int, first: int) -> dispatch.StageState:
        result = self.results[i]
        try:
            state = await self._run_stage(i, first)
        except asyncio.CancelledError:
            result.cancel()
            raise
        except BaseException as exc:
            result.set_exception(exc)
            result.exception()  # retrieved: the task's own error is what is raised
            raise
        result.set_result(state.image)
        self.ordered.finished(i)
        return state

    async def _run_stage(self, i: int, first: int) -> dispatch.StageState:
        stage, request = self.stages[i], self.request
        if stagegraph.duplicate_name(self.stages, i):
            await asyncio.gather(*(f for j, f in self.results.items() if j < i),
                                 return_exceptions=True)
            raise InvalidArgument(f"{stage.name} stage name already used")
        out = self.ordered.emitter(i)
        env = dispatch.Env(request=request, context_dir=self.context_dir, files=self.files,
                           resolve_from=lambda ref: self._resolve_from(i, ref),
                           note=lambda text: out(Message(text)), secrets=dict(request.secrets),
                           read_root=self.backend.read_root)
        job = stagerun.StageJob(
            backend=self.backend, env=env, emit=out, total=self.total,
            base_image=lambda name, platform: self._base_image(i, name, platform),
            parse_trigger=self.parse_trigger,
            no_cache=request.no_cache or (bool(stage.name) and stage.name in request.no_cache_filter))
        state = dispatch.StageState(config={}, image=None, args=self.args.for_stage(),
                                    name=stage.name, index=i, escape=self.escape)
        commands = stage.commands + (self.labels if i == self.target else ())
        return await stagerun.run_stage(stage, state, first, commands, job)

    def _pull_progress(self, stage: int) -> Callable[[dict], None]:
        out = self.ordered.emitter(stage)
        return lambda message: out(PullProgress(message))

    async def _base_image(self, stage: int, name: str, platform: str) -> ImageState | None:
        """FROM: an earlier stage by name, scratch, or an image (pulled if missing)."""
        found = stagegraph.earlier_stage(self.stages, stage, name)
        if found is not None and self.stages[found].name == name.lower():
            return await self.results[found]
        if name == "scratch":
            return None
        reference.check_lowercase_v27(name)  # dockerd 20.10's text (FROM Busy_Box)
        return await self.backend.base_image(name, platform, self.request.pull,
                                             self._pull_progress(stage))

    async def _resolve_from(self, stage: int, ref: str) -> str:
        """COPY --from / RUN --mount from=: an earlier stage by name or index, else an image."""
        found = stagegraph.earlier_stage(self.stages, stage, ref)
        if found is not None:
            if found not in self.results:  # named through an ARG of the stage's own
                raise InvalidArgument(f"stage {ref} is needed but was not planned: name it "
                                      "without the stage's own ARGs")
            image = await self.results[found]
            if image is None:
                raise InvalidArgument(f"stage {ref} has no image: it is FROM scratch with no step")
            return image.id
        try:
            n = int(ref, 10)
        except ValueError:
            reference.check_lowercase_v27(ref)
            image = await self.backend.base_image(ref, self.request.platform, self.request.pull,
                                                  self._pull_progress(stage))
            return image.id
        raise InvalidArgument("refers to current build stage" if n == stage else "index out of bounds")


def _first_error(tasks: dict[int, asyncio.Task], order) -> BaseException | None:
    """The error of the earliest stage that failed of itself (not cancelled by another)."""
    for i in order:
        task = tasks[i]
        if task.done() and not task.cancelled() and task.exception() is not None:
            return task.exception()
    return None
