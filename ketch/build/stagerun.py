"""One build stage, step by step: FROM, the base image's ONBUILD triggers, then each
instruction dispatched and its image taken from the cache or made by the backend.

The cache is probed as moby's ``imageProber``: each step's key (``build.cachekey``) is
looked up until one misses; from then on the stage runs without looking (a step after
a miss cannot hit: its parent is new). ``--no-cache`` (or the stage in
``--no-cache-filter``) never looks, but what it makes is still recorded under its key,
as moby's intermediate images stay findable by later builds.

moby creates a container even for a step that only changes the config (ENV, LABEL...,
and WORKDIR's mkdir) and reports it: " ---> Running in <id>", "Removing intermediate
container <id>", and its short id is that step's ``container_config.Hostname``. ketch
makes those images without a container, so such a step gets a fresh random id of the
same form, for the same stream and the same recorded config.
"""

import secrets as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ketch.build import dispatch, instructions as ins, runconfig
from ketch.build.backend import BuildBackend, ImageState, Step
from ketch.build.cachekey import step_key
from ketch.build.request import (Message, Progress, StageDone, StepCached, StepDone, StepOutput,
                                 StepRunning, StepStart)
from ketch.errors import InvalidArgument, KetchError


class Prober:
    def __init__(self, backend: BuildBackend, enabled: bool, cache_from: bool = False):
        self.backend = backend
        self.enabled = enabled
        self.cache_from = cache_from  # --cache-from images are looked at after the local cache
        self.busted = False

    async def probe(self, key: str, step: Callable[[], Step] | None = None) -> ImageState | None:
        if not self.enabled or self.busted or not key:
            return None
        hit = await self.backend.cached(key)
        if hit is None and self.cache_from and step is not None:
            hit = await self.backend.cached_from(step())
        if hit is None:
            self.busted = True
        return hit


@dataclass
class StageJob:
    """What running one stage needs besides the stage itself."""
    backend: BuildBackend
    env: dispatch.Env
    emit: Callable[[Progress], None]
    total: int
    base_image: Callable[[str, str], Awaitable[ImageState | None]]  # name, platform -> image
    parse_trigger: Callable[[str], ins.Instruction]
    no_cache: bool = False


def _short(cid: str) -> str:
    return cid[:12]


async def perform(state: dispatch.StageState, action: dispatch.Action, index: int,
                  job: StageJob, prober: Prober) -> str:
    """Make (or find) the step's image; returns the short id of the container the step
    ran in ("" when none, or kept by --rm=false)."""
    key_extra = getattr(action, "key_extra", ())
    epoch = job.env.request.source_date_epoch
    if epoch is not None:  # the epoch changes the image (times, mtimes), not the config
        key_extra = (*key_extra, f"source-date-epoch={epoch}")
    key = step_key(state.image_id, action.container_config)
    if key and key_extra:
        key = step_key(key, {"Cmd": list(key_extra)})
    hit = await prober.probe(key, lambda: Step(
        parent=state.image, config=action.config, container_config=action.container_config,
        history=action.history, cache_key=key, platform=state.platform))
    if hit is not None:
        job.emit(StepCached(index))
        _advance(state, hit)
        return ""
    request = job.env.request
    container_config = action.container_config
    container = full_id = ""
    config = action.config
    if isinstance(action, dispatch.Commit) or getattr(action, "container", False):
        full_id = _random.token_hex(32)
        container = _short(full_id)
        config, container_config = _as_created(state, config, container_config, container)
        job.emit(StepRunning(index, container))
    step = Step(parent=state.image, config=config, container_config=container_config,
                history=action.history, cache_key=key, platform=state.platform,
                container_id=full_id)
    if isinstance(action, dispatch.Commit):
        image = await job.backend.commit(step)
    elif isinstance(action, dispatch.Run):
        def started(cid: str) -> None:
            nonlocal container
            container = _short(cid)
            job.emit(StepRunning(index, container))
        try:
            image = await job.backend.run(step, action.spec,
                                          lambda data: job.emit(StepOutput(index, data)), started)
        except KetchError:
            if request.force_rm and container:  # moby's RemoveAll of the failed step's container
                job.emit(Message(f"Removing intermediate container {container}\n"))
            raise
    else:
        image = await job.backend.mutate(step, action.edit, action.sources)
    _advance(state, image)
    return container if request.rm or request.force_rm else ""


def _as_created(state: dispatch.StageState, config: dict, container_config: dict,
                hostname: str) -> tuple[dict, dict]:
    """What creating the step's container does in moby: the container's config is merged
    with the parent image's (daemon merge) and gets its hostname; the step's config shares
    its Healthcheck with the container's, so the parent's healthcheck fields reach it too
    (``HEALTHCHECK NONE`` after ``--interval=5s`` keeps Interval), and the stage's from then
    on."""
    parent = state.image.config if state.image else {}
    container_config = runconfig.merged_for_container(container_config, parent)
    container_config["Hostname"] = hostname
    health = container_config.get("Healthcheck")
    if health != config.get("Healthcheck"):
        state.config["Healthcheck"] = health
        config = runconfig.normalized({**config, "Healthcheck": health})
    return config, container_config


def _advance(state: dispatch.StageState, image: ImageState) -> None:
    """updateRunConfig: the next step's config names the image it starts from."""
    state.image = image
    state.config["Image"] = image.id


def begin(state: dispatch.StageState, image: ImageState | None) -> None:
    """beginStage: the base's config (a copy), PATH defaulted, stdin closed."""
    state.image = image
    config = runconfig.normalized(image.config if image else {})
    config = runconfig.with_default_path(config)
    config["OpenStdin"] = False
    config["StdinOnce"] = False
    config["Image"] = image.id if image else ""
    state.config = config


async def run_stage(stage: ins.Stage, state: dispatch.StageState, first_index: int,
                    commands: tuple[ins.Instruction, ...], job: StageJob) -> dispatch.StageState:
    """FROM and ``commands`` (the stage's, plus --label's for the last), numbered from
    ``first_index``; returns the state at the end (its image is the stage's result)."""
    emit = job.emit
    index = first_index
    emit(StepStart(index, job.total, stage.original, state.name))
    meta = [f"{k}={v}" for k, v in state.args.all_meta().items()]
    name = dispatch.ProcessWord(stage.base, meta, state.escape)
    if not name:
        raise InvalidArgument(f"base name ({stage.base}) should not be blank")
    platform = job.env.request.platform
    if stage.platform:
        platform = dispatch.ProcessWord(stage.platform, meta, state.escape)
    state.platform = platform
    begin(state, await job.base_image(name, platform))
    prober = Prober(job.backend, enabled=not job.no_cache,
                    cache_from=bool(job.env.request.cache_from))
    triggers = state.config.get("OnBuild") or []
    if triggers:
        state.config["OnBuild"] = None
        # in moby's three writes, so three stream messages
        emit(Message(f"# Executing {len(triggers)} build trigger"))
        if len(triggers) > 1:
            emit(Message("s"))
        emit(Message("\n"))
        for trigger in triggers:
            action = await dispatch.dispatch(state, job.parse_trigger(trigger), job.env)
            removed = await perform(state, action, index, job, prober)
            if removed:
                emit(Message(f"Removing intermediate container {removed}\n"))
    emit(StepDone(index, state.image_id))
    for instr in commands:
        index += 1
        emit(StepStart(index, job.total, instr.original.strip(), state.name))
        action = await dispatch.dispatch(state, instr, job.env)
        removed = await perform(state, action, index, job, prober)
        emit(StepDone(index, state.image_id, removed))
    if state.image_id:
        emit(StageDone(state.image_id))
    return state
