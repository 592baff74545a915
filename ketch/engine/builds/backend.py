"""``EngineBuildBackend``: the builder's ``BuildBackend`` over the engine's images.

One backend per build (its request's options: the reproducible epoch, auth for pulls)::

    base_image  local image, or pulled (engine/images/pull.py) when missing or --pull
    image       any local image by id
    cached      the build cache's entry (cache.py), its layers all present
    commit      record_image(step, no layer)                      (images.py)
    run         the runner (runstep.py): a container, its diff staged, record_image
    mutate      edit in a private mount namespace (mutate.py), its diff staged, record_image
    tag         ImageService.tag, one "tag" event per reference

Everything touching SQLite runs on the event loop; file work runs in threads.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ketch import errors
from ketch.build.backend import ImageState, MountedRoots, RunSpec, Step
from ketch.build.request import BuildRequest
from ketch.engine.builds import mutate as mutation
from ketch.engine.builds.cache import BuildCache
from ketch.engine.builds.images import BuildImages, container_id_of, state
from ketch.engine.images.pull import Puller
from ketch.engine.images.service import ImageService
from ketch.oci import reference
from ketch.registry.client.auth import AuthConfig


@dataclass(frozen=True)
class BuildSession:
    """What one build's steps share on the engine side (the runner gets it too)."""
    request: BuildRequest
    context_dir: str | None  # the extracted context (never visible to a RUN)
    images: ImageService
    builds: BuildImages  # stage() and record_image()
    scratch_dir: str  # where a step's private mount points are made


# RUN: (the build's images, context dir, step, spec, output, started) -> the step's image
# (runstep.StepRunner.run: it stages the container's layer and calls images.record_image)
Runner = Callable[[BuildImages, str | None, Step, RunSpec, Callable[[bytes], None],
                   Callable[[str], None]], Awaitable[ImageState]]


class EngineBuildBackend:
    def __init__(self, session: BuildSession, cache: BuildCache, puller: Puller | None,
                 runner: Runner | None, auth_for: Callable[[str], AuthConfig] | None = None) -> None:
        self.session = session
        self.images = session.images
        self.builds = session.builds
        self.cache = cache
        self.puller = puller
        self.runner = runner
        self.auth_for = auth_for or (lambda _registry: AuthConfig())

    async def base_image(self, ref: str, platform: str, pull: bool,
                         progress: Callable[[dict], None]) -> ImageState:
        """moby's GetImageAndReleasableLayer: the local image unless missing or ``pull``."""
        if not pull:
            found = self.images.find(ref)
            if found is not None:
                if platform:
                    found.check_platform(ref, platform)
                return state(found)
        if self.puller is None:
            raise errors.no_such_image(ref)
        parsed = reference.parse(ref)
        await self.puller.pull(parsed, False, platform or None, self.auth_for(parsed.domain), progress)
        return state(self.images.resolve(str(parsed) if not parsed.digest else ref))

    async def image(self, image_id: str) -> ImageState:
        return state(self.images.resolve(image_id))

    async def cached(self, key: str) -> ImageState | None:
        if not key:
            return None
        found = self.cache.lookup(key)
        return state(found) if found is not None else None

    async def commit(self, step: Step) -> ImageState:
        return self.builds.record_image(step, None, container_id_of(step))

    async def run(self, step: Step, spec: RunSpec, output: Callable[[bytes], None],
                  started: Callable[[str], None]) -> ImageState:
        if self.runner is None:
            raise errors.NotImplementedYet("RUN is not available in this ketchd")
        return await self.runner(self.builds, self.session.context_dir, step, spec, output, started)

    async def mutate(self, step: Step, edit: Callable[[MountedRoots], None],
                     sources: tuple[str, ...] = ()) -> ImageState:
        parent = self.builds.parent(step)
        images = {image_id: self.images.resolve(image_id) for image_id in sources}
        staged = await mutation.in_own_thread(
            lambda: mutation.mutate(self.builds, parent, images, edit, self.session.scratch_dir),
            "build-mutate", self.builds.discard)
        return self.builds.record_image(step, staged, container_id_of(step))

    async def tag(self, image_id: str, refs: tuple[str, ...]) -> None:
        for ref in refs:
            self.images.tag(image_id, ref, "")
