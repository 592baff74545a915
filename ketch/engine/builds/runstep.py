"""RUN: a step's command in a container, its changes the new image's layer.

``BuildBackend.run`` for the engine's backend, moby's classic ``dispatchRun`` and
``containerManager.Run``: the container is a ``docker run`` container, made and run by the
container service itself, so it gets exactly ``run``'s isolation (capabilities, seccomp,
masked paths, cgroups, the network mode's namespace: the default bridge with NAT, none,
host) and its events (create, attach, start, die, destroy)::

    mounts.prepare ─▶ create (Cmd = argv, Entrypoint [""], no healthcheck, log none)
                  ─▶ started(id)   (" ---> Running in <id>")
                  ─▶ attach stdout+stderr ─▶ start ─▶ output(...) as it comes ─▶ exit
                  ─▶ exit 0: its writable layer staged (mount points left out) and recorded
                  ─▶ remove (as RunSpec.remove says; always on cancel) ─▶ mounts.release

The build context is never mounted unless a ``RUN --mount`` asks (``runmounts.py``).
A non-zero exit raises moby's "The command '<argv joined>' returned a non-zero code: N"
and nothing is recorded; stderr reaches ``output`` in red, as moby's builder streams it.
``RunSpec.remove`` says whether the container stays: moby's ``--rm`` keeps a failed one,
``--force-rm`` none, ``--rm=false`` every one. A step with a secret or a mount never stays
(buildkit keeps no step container): its Env holds the secrets given as variables, and
its mounts' sources (the run directory's pins and secrets) go with ``release``.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from ketch import errors
from ketch.build.backend import ImageState, RunSpec, Step
from ketch.engine import shielded
from ketch.engine.builds.runmounts import Prepared, RunMounts
from ketch.engine.containers.attach import OutputQueue
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.containers.rootfs import INIT_LAYER
from ketch.engine.containers.service import ContainerService
from ketch.engine.containers.state import CREATED, STARTING


STEP_LABEL = "ketch.build.step"  # a RUN step's container: a restarted ketchd removes it (sweep)
RED, RESET = b"\x1b[91m", b"\x1b[0m"  # moby's streamformatter.NewStderrWriter (aec.RedF)
log = logging.getLogger("ketchd.build")
START_PREFIX = "failed to create task for container: "  # moby 26's, not the 20.10 builder's


class StepImages(Protocol):
    """The image side of a build (``builds/images.py``'s ``BuildImages``)."""

    def stage(self, snapshot: str, parents: list[str], skip: frozenset[str] = frozenset()) -> Any:
        """Blocking: the writable snapshot's changes as a staged layer."""

    def discard(self, staged: Any) -> None:
        """Undo a staged layer that is not recorded."""

    def record_image(self, step: Step, staged: Any, container_id: str = "") -> ImageState:
        """Record the step's image with ``staged`` as its layer; on failure nothing is left."""


def failed(argv: tuple[str, ...], code: int) -> errors.BuildStepFailed:
    """moby's text: the Cmd the container ran (the shell included) joined by spaces."""
    return errors.BuildStepFailed(f"The command '{' '.join(argv)}' returned a non-zero code: {code}", code)


def container_body(step: Step, spec: RunSpec, mounts: Prepared) -> dict:
    """The create request of a step's container (moby's ``copyRunConfig`` for RUN and
    ``hostConfigFromOptions``): the parent image's config under the step's command."""
    host_config = {
        "NetworkMode": spec.network or "default",
        "LogConfig": {"Type": "none", "Config": {}},  # moby's builder keeps no log of a step
        "Mounts": mounts.mounts,
        "Tmpfs": mounts.tmpfs,
    }
    if spec.extra_hosts:
        host_config["ExtraHosts"] = list(spec.extra_hosts)
    if spec.shm_size:
        host_config["ShmSize"] = spec.shm_size
    if spec.cgroup_parent:
        host_config["CgroupParent"] = spec.cgroup_parent
    host_config.update(spec.resources)  # --memory, --cpu-shares... of the build
    body = {
        "Image": step.parent.id if step.parent else "",
        "Cmd": list(spec.argv),
        "Entrypoint": [""],  # withEntrypointOverride: the image's entrypoint does not run
        "Env": list(spec.env) + mounts.env,
        "User": spec.user,
        "Healthcheck": {"Test": ["NONE"]},  # withoutHealthcheck
        "AttachStdout": True,
        "AttachStderr": True,
        "HostConfig": host_config,
    }
    if spec.workdir:
        body["WorkingDir"] = spec.workdir
    body["Labels"] = {**spec.isolation_labels, STEP_LABEL: "true"}
    return body


class StepRunner:
    """Runs RUN steps for every build of this daemon (``run`` is the backend's ``Runner``)."""

    def __init__(self, containers: ContainerService, mounts: RunMounts) -> None:
        self.containers = containers
        self.mounts = mounts

    async def run(self, images: StepImages, context_dir: str | None, step: Step, spec: RunSpec,
                  output: Callable[[bytes], None], started: Callable[[str], None]) -> ImageState:
        if step.parent is None:  # moby's container on an empty root fails to start
            cmd = spec.argv[0] if spec.argv else ""
            raise errors.Internal("failed to create shim task: OCI runtime create failed: runc create "
                                  f'failed: unable to start container process: exec: "{cmd}": '
                                  f"stat {cmd}: no such file or directory: unknown")
        prepared = await self.mounts.prepare(spec, context_dir, " ".join(spec.argv))
        try:
            return await self._run(images, step, spec, prepared, output, started)
        finally:
            await shielded.finish(self.mounts.release(prepared))

    async def _run(self, images: StepImages, step: Step, spec: RunSpec, prepared: Prepared,
                   output: Callable[[bytes], None], started: Callable[[str], None]) -> ImageState:
        cid, _warnings = await self.containers.create(container_body(step, spec, prepared), None)
        keepable = not (spec.secrets or prepared.env or prepared.mounts)
        keep = keepable and spec.remove == "never"
        try:
            rec = self.containers.get(cid)
            started(cid)
            try:
                code = await self._attached_run(rec, output, prepared.env)
            except errors.ExecFailed as exc:  # moby 20.10's builder says it without the task prefix
                keep = keep or (keepable and spec.remove == "success")
                raise errors.Internal(str(exc).removeprefix(START_PREFIX)) from None
            if code != 0:
                keep = keep or (keepable and spec.remove == "success")
                raise failed(spec.argv, code)
            skip = INIT_LAYER | frozenset(prepared.targets)
            staged = await shielded.uninterrupted(
                asyncio.to_thread(images.stage, rec.snapshot, rec.parents, skip), images.discard)
            return images.record_image(step, staged, cid)
        except asyncio.CancelledError:
            keep = False  # the build was abandoned: nothing of it stays
            raise
        finally:
            if not keep:
                await shielded.finish(self._remove(cid))

    async def _attached_run(self, rec: ContainerRecord, output: Callable[[bytes], None],
                            secret_env: list[str]) -> int:
        """Start ``rec`` with its output streaming to ``output``; its exit code. Once it
        runs, the secrets given as variables leave its record (inspect, the store)."""
        sink = self.containers.attach(rec, True, True, hold=True)  # a slow client slows the RUN
        try:
            exited = self.containers.wait(rec.id, "next-exit")
            pump = asyncio.ensure_future(_pump(sink, output))
            try:
                await self.containers.start(rec.id)
                if secret_env:
                    rec.config["Env"] = [e for e in rec.config.get("Env") or [] if e not in secret_env]
                    self.containers.registry.save(rec)
                code = await exited
                await pump  # the run's end closed the queue: every frame is out
            finally:
                if not pump.done():
                    pump.cancel()
                if not exited.done():
                    exited.cancel()
        finally:
            self.containers.detach(rec, sink)
        return code

    async def sweep(self) -> None:
        """At start-up, before the run directories' sweep: the step containers a killed
        ketchd left running or never started (no build survives a restart; their mounts'
        sources are about to go), killed and removed. An exited one stays, as a kept one."""
        for rec in list(self.containers.list_all()):
            if STEP_LABEL in (rec.config.get("Labels") or {}) and (
                    rec.state.alive or rec.state.status in (CREATED, STARTING)):
                log.warning("removing build step container %s left by a stopped ketchd", rec.id[:12])
                await self._remove(rec.id)

    async def _remove(self, cid: str) -> None:
        try:
            await self.containers.remove(cid, force=True, volumes=True)
        except errors.NotFound:
            pass


async def _pump(sink: OutputQueue, output: Callable[[bytes], Awaitable[None] | None]) -> None:
    """Frames as they come; stderr's in red, as moby's builder writes them. An ``output``
    that answers an awaitable (the client reads slowly) is awaited before the next frame
    is taken: the attach queue's limit then holds the container back."""
    while True:
        item = await sink.get()
        if item is None:
            return
        _raw, stream, payload = item
        pending = output(RED + payload + RESET if stream == 2 else payload)
        if pending is not None:
            await pending
