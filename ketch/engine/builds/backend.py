"""``EngineBuildBackend``: the builder's ``BuildBackend`` over the engine's images.

One backend per build (its request's options: the reproducible epoch, auth for pulls)::

    base_image  local image, or pulled (engine/images/pull.py) when missing or --pull
    image       any local image by id
    cached      the build cache's entry (cache.py), its layers all present
    cached_from a --cache-from image's step (cachefrom.py), restored as an image
    commit      record_image(step, no layer)                      (images.py)
    run         the runner (runstep.py): a container, its diff staged, record_image
    mutate      edit in a private mount namespace (mutate.py), its diff staged, record_image
    read_root   an image's root read-only in a private mount namespace (mutate.py)
    tag         ImageService.tag, one "tag" event per reference

Everything touching SQLite runs on the event loop; file work runs in threads.
"""

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ketch import errors
from ketch.build.backend import ImageState, MountedRoots, RunSpec, Step
from ketch.build.request import BuildRequest
from ketch.engine.builds import cachefrom
from ketch.engine.builds import mutate as mutation
from ketch.engine.builds.cache import BuildCache
from ketch.engine.builds.images import BuildImages, state
from ketch.engine.images.pull import Puller
from ketch.engine import shielded
from ketch.engine.images.service import Image, ImageService
from ketch.oci import reference
from ketch.registry.client.auth import AuthConfig

log = logging.getLogger("ketchd.build")


@dataclass(frozen=True)
class BuildSession:
    """What one build's steps share on the engine side."""
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
        self._sources: list[Image] | None = None  # --cache-from's images, looked up once

    async def base_image(self, ref: str, platform: str, pull: bool,
                         progress: Callable[[dict], None]) -> ImageState:
        """moby's GetImageAndReleasableLayer: the local image unless missing, of another
        platform, or ``pull``; else pulled."""
        mismatch: errors.KetchError | None = None
        if not pull:
            found = self.images.find(ref)
            if found is not None:
                try:
                    if platform:
                        found.check_platform(ref, platform)
                    return state(found)
                except errors.NotFound as exc:
                    mismatch = exc  # moby pulls the platform asked for
        if self.puller is None:
            raise mismatch or errors.no_such_image(ref)
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

    async def cached_from(self, step: Step) -> ImageState | None:
        if self._sources is None:
            self._sources = []
            for ref in self.session.request.cache_from:
                found = self.images.find(ref)
                if found is None:  # moby: "Could not look up ... for cache resolution, skipping"
                    log.warning("could not look up %s for cache resolution, skipping", ref)
                    continue
                self._sources.append(found)
        parent = self.builds.parent(step)
        match = cachefrom.find(self._sources, parent, step.history.created_by)
        if match is None:
            return None
        if match.is_target:
            return self.builds.adopt(step, parent, match.target)
        self._sources = [match.target]
        return self.builds.restore(step, parent, match.target, match.index,
                                   cachefrom.layer_at(match.target, match.index))

    async def commit(self, step: Step) -> ImageState:
        return self.builds.record_image(step, None)

    async def run(self, step: Step, spec: RunSpec, output: Callable[[bytes], None],
                  started: Callable[[str], None]) -> ImageState:
        if self.runner is None:
            raise errors.NotImplementedYet("RUN is not available in this ketchd")
        return await self.runner(self.builds, self.session.context_dir, step, spec, output, started)

    async def mutate(self, step: Step, edit: Callable[[MountedRoots], None],
                     sources: tuple[str, ...] = ()) -> ImageState:
        parent = self.builds.parent(step)
        images = {image_id: self.images.resolve(image_id) for image_id in sources}
        staged = await shielded.in_own_thread(
            lambda: mutation.mutate(self.builds, parent, images, edit, self.session.scratch_dir),
            "build-mutate", self.builds.discard)
        return self.builds.record_image(step, staged)

    async def read_root(self, image_id, fn):
        image = self.images.resolve(image_id)
        return await shielded.in_own_thread(
            lambda: mutation.read_root(self.builds, image, fn, self.session.scratch_dir),
            "build-read", lambda result: None)

    async def tag(self, image_id: str, refs: tuple[str, ...]) -> None:
        for ref in refs:
            self.images.tag(image_id, ref, "")
