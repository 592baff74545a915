"""What the builder needs from the engine: the ``BuildBackend`` protocol and the values
that cross it.

The builder (``build.builder``, layer 1) decides; the backend (``engine.builds``, layer 2)
makes images. Like moby's classic builder every step yields an image: the parent's layers
plus at most one new layer, the next config, and the parent's history plus one entry.
Those intermediate images are the build cache: a step whose ``cache_key`` the backend
recorded before is not run again (``cached``), and they survive daemon restarts::

    builder                                   backend
      base_image("busybox", platform, pull) ─▶ ImageState | None (scratch)
      cached(key)                           ─▶ ImageState | None
      cached_from(step)                     ─▶ ImageState | None   a --cache-from image's step
      commit(step)                          ─▶ ImageState     config/history only
      run(step, RunSpec, output, started)   ─▶ ImageState     a container runs, its diff is the layer
      mutate(step, edit, sources)           ─▶ ImageState     edit() writes into the mounted root
      read_root(image_id, fn)               ─▶ fn(root fd)    an image's root, read-only
      tag(image_id, refs)

Every call that makes an image records it with ``step.cache_key`` (unless empty) in one
transaction; a failure leaves nothing (no image, no layer, no cache entry).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ketch.build.instructions import MountSpec


T = TypeVar("T")


@dataclass(frozen=True)
class ImageState:
    """An image the build stands on: its id (``sha256:...``) and whole config document
    (``config``, ``history``, ``rootfs``, ``os``, ``architecture``...)."""
    id: str
    document: dict

    @property
    def config(self) -> dict:  # the container config part ("Env", "Cmd", ...)
        return self.document.get("config") or {}


@dataclass(frozen=True)
class HistoryEntry:
    created_by: str  # Docker's form: "/bin/sh -c #(nop)  ENV A=1", "|1 X=y /bin/sh -c make"
    comment: str = ""
    author: str = ""  # MAINTAINER
    empty_layer: bool | None = None  # None: decided by the backend (no changes -> True)


@dataclass(frozen=True)
class Step:
    """One image to make: on ``parent`` (None: scratch), with ``config`` as the new image's
    container config, ``container_config`` as moby records it (the config with the step's
    Cmd, e.g. ["/bin/sh","-c","#(nop) ","ENV A=1"]), one history entry, and the key it is
    cached under ("" : not cached, e.g. --no-cache)."""
    parent: ImageState | None
    config: dict
    container_config: dict
    history: HistoryEntry
    cache_key: str
    platform: str = ""  # "os/arch[/variant]" of the build, for scratch
    # the image document's "container": moby records the id of the container a step ran
    # in; for steps that change only the config (ENV, ...) and WORKDIR the builder names
    # one (ketch runs none for them); "" for COPY/ADD, and for RUN (the backend knows it)
    container_id: str = ""


@dataclass(frozen=True)
class SecretSource:
    id: str
    data: bytes


@dataclass(frozen=True)
class RunSpec:
    """RUN's container: ``argv`` as it runs (shell already prepended), the environment
    (config Env plus the build args in effect), user, working dir, and the build's options."""
    argv: tuple[str, ...]
    env: tuple[str, ...]
    user: str = ""
    workdir: str = ""
    network: str = "default"  # default | none | host | a network name (--network)
    mounts: tuple[MountSpec, ...] = ()  # expanded; from_ already resolved to an image id
    extra_hosts: tuple[str, ...] = ()
    secrets: tuple[SecretSource, ...] = ()
    shm_size: int = 0
    cgroup_parent: str = ""
    isolation_labels: dict = field(default_factory=dict)
    # the container once the step ran: "always" removed (--force-rm), "success" removed
    # unless the command failed (moby's default --rm: a failed one stays, Exited (N)),
    # "never" (--rm=false)
    remove: str = "always"
    # the build's limits for the container, as HostConfig names them ("Memory",
    # "CpuShares", "Ulimits"...: POST /build's memory, cpushares, ...)
    resources: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MountedRoots:
    """What ``mutate``'s edit sees, in the backend's thread: directory descriptors (opened
    O_PATH|O_DIRECTORY) of the step's writable root and of each source image's read-only
    root, by image id. Descriptors stay valid only during ``edit``."""
    root: int
    sources: dict[str, int]


class BuildBackend(Protocol):
    async def base_image(self, ref: str, platform: str, pull: bool,
                         progress: Callable[[dict], None]) -> ImageState:
        """The image ``ref`` (pulled if missing or ``pull``); raises errors.NotFound."""

    async def image(self, image_id: str) -> ImageState:
        """An image made by this build (or any local one) by id."""

    async def cached(self, key: str) -> ImageState | None:
        """The image recorded under ``key`` whose layers all still exist, else None."""

    async def cached_from(self, step: Step) -> ImageState | None:
        """On a miss of ``cached``, with ``--cache-from`` images: one of theirs whose history
        continues ``step.parent``'s with ``step``'s entry (moby's ``imageCache``: a pulled
        image serves as cache without its intermediate images), recorded under
        ``step.cache_key``; else None."""

    async def commit(self, step: Step) -> ImageState:
        """A step that changes no files: ``parent``'s layers, ``step``'s config and history."""

    async def run(self, step: Step, spec: RunSpec, output: Callable[[bytes], None],
                  started: Callable[[str], None]) -> ImageState:
        """Run ``spec`` in a container on ``step.parent`` with Docker's isolation; ``started``
        gets the container's id once it exists; stdout and stderr stream to ``output``; its
        changes are the new image's layer; the container is removed after (moby's --rm).
        A non-zero exit raises errors.BuildStepFailed with moby's text and leaves no image."""

    async def mutate(self, step: Step, edit: Callable[[MountedRoots], None],
                     sources: tuple[str, ...] = ()) -> ImageState:
        """Run ``edit`` (blocking, in a thread) on ``step.parent``'s root mounted writable
        and the images ``sources`` mounted read-only; what it changed is the new layer."""

    async def read_root(self, image_id: str, fn: Callable[[int], T]) -> T:
        """``fn`` (blocking, in a thread) on the image's root mounted read-only (an O_PATH
        directory descriptor, valid during ``fn``): COPY --from hashes its sources there
        before the cache is probed, as moby does."""

    async def tag(self, image_id: str, refs: tuple[str, ...]) -> None:
        """Point each reference at ``image_id`` (events "tag")."""
