"""``POST /build`` (the classic builder's protocol) and ``POST /build/prune``.

A build answers as moby's postBuild does: the options are checked and the context
unpacked first, and until the first line of the stream is written a failure is an
ordinary error response (a Dockerfile that does not parse is a 400); from then on it is
the stream's last message. The stream's lines are ``buildstream``'s. The build is
cancelled when the client goes away, as in moby.

A RUN's output is held back while the client reads slowly: past ``OUTPUT_BACKLOG`` bytes
of step output queued and not yet written, ``emit`` answers a future that the writer
resolves once it has caught up, which the step's output pump awaits (runstep._pump); the
container's attach queue then fills and its limit slows the container, as moby's builder
writing the output into the response does.
"""

import asyncio
import contextlib
import dataclasses
from typing import Callable, Protocol

from ketch.api import buildoptions, buildstream
from ketch.api import filters as flt
from ketch.api.http import BadRequest, Request, Response, Router, StreamResponse, json_response
from ketch.build import netpool
from ketch.build.request import BuildRequest, BuildResult, CacheRecord, Progress, StepOutput
from ketch.engine.threadstream import run_with_stream

OUTPUT_BACKLOG = 1 << 20  # bytes of step output queued for a slow client before the step waits

# buildkit's prune filters, which moby 20.10+ passes on (the classic cache has the same)
PRUNE_FILTERS = ("id", "parent", "type", "description", "inuse", "shared", "private", "mutable",
                 "immutable", "label", "label!", "until", "unused-for")  # moby's buildCachePruneFilters


class BuildBackendService(Protocol):
    async def build(self, request: BuildRequest, context_dir: str | None,
                    emit: Callable[[Progress], None]) -> BuildResult:
        """Build; ``emit`` (callable from any thread) gets the progress events; called on
        the loop with a ``StepOutput``, it may answer a future to await (backpressure)."""

    async def prune(self, all: bool, filters: dict[str, list[str]],
                    keep_storage: int = 0) -> tuple[list[str], int]:
        """(ids of the cache records removed, bytes reclaimed)."""

    def usage(self) -> list[CacheRecord]:
        """The build cache's records, for GET /system/df (blocking)."""


class ContextBackend(Protocol):
    """Where contexts live while a build runs (``engine/builds/contexts.BuildContexts``)."""

    def unpack(self, stream) -> str: ...
    def remote(self, url: str) -> tuple[str, str | None]: ...
    def empty(self) -> str: ...
    def remove(self, path: str) -> None: ...
    def dockerfile(self, path: str, name: str, ignore_patterns=None) -> tuple[str, str]: ...


class BuildRoutes:
    def __init__(self, builds: BuildBackendService, contexts: ContextBackend,
                 ignore_patterns=None) -> None:
        self.builds = builds
        self.contexts = contexts
        self.ignore_patterns = ignore_patterns  # (.dockerignore text) -> (path -> excluded?)

    def install(self, router: Router) -> None:
        router.add("POST", "/build", self.build)
        router.add("POST", "/build/prune", self.prune)

    async def build(self, request: Request) -> StreamResponse | Response:
        options = buildoptions.parse(request)
        remote_text = None  # a remote URL that served the Dockerfile itself
        if options.remote:  # in the builds' network pool, stopped if the client goes meanwhile
            context_dir, remote_text = await _unless_gone(request, netpool.run(
                self.contexts.remote, options.remote, undo=lambda got: self.contexts.remove(got[0])))
        else:
            context_dir = await run_with_stream(request.stream(), self.contexts.unpack)
        removed = False

        async def remove_context() -> None:  # as soon as the build ends, before its last lines
            nonlocal removed
            if not removed:
                removed = True
                await asyncio.to_thread(self.contexts.remove, context_dir)

        try:
            if remote_text is not None:
                name, text = options.request.dockerfile, remote_text
            else:
                name, text = await asyncio.to_thread(self.contexts.dockerfile, context_dir,
                                                     options.request.dockerfile, self.ignore_patterns)
            build = dataclasses.replace(options.request, dockerfile=name, dockerfile_text=text)
            return await _Run(request, build, options.want_aux).run(
                lambda emit: self.builds.build(build, context_dir, emit), remove_context)
        finally:
            await remove_context()

    async def prune(self, request: Request) -> Response:
        f = flt.parse(request.arg("filters"), PRUNE_FILTERS)
        keep = request.arg("keep-storage") or ""
        keep_storage = 0
        if keep:
            try:
                keep_storage = int(keep)
            except ValueError:
                raise BadRequest(f'keep-storage is in bytes and expects an integer, got {keep}') from None
        deleted, reclaimed = await self.builds.prune(request.flag("all"), f, keep_storage)
        return json_response({"CachesDeleted": list(deleted) or None, "SpaceReclaimed": reclaimed})


async def _unless_gone(request: Request, work):
    """``work``'s result; cancelled (and ConnectionResetError) if the client goes first."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(request.wait_disconnected())
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            raise ConnectionResetError("the client went away")
        return task.result()
    finally:
        gone.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


class _Run:
    """One build's answer: events to lines, held back with ``q``, the response started
    by the first line written."""

    def __init__(self, request: Request, build: BuildRequest, want_aux: bool) -> None:
        self.request = request
        self.build = build
        self.want_aux = want_aux
        self.response: StreamResponse | None = None
        self.held: list[dict] = []
        self.last_aux = ""
        self.backlog = 0  # bytes of step output emitted, not yet written
        self.room: asyncio.Future | None = None  # what an output over the backlog awaits

    async def send(self, msgs: list[dict]) -> None:
        out = []
        for msg in msgs:
            if "aux" in msg:
                if not self.want_aux:
                    continue
                self.last_aux = (msg.get("aux") or {}).get("ID", "")
            if self.build.quiet:
                self.held.append(msg)
                continue
            out.append(msg)
        if out:
            await self._write(*out)

    async def _write(self, *msgs: dict) -> None:
        """The messages in one write: one send and one wake-up of the client for what the
        build emitted at once (a cached step's three lines), not one per line."""
        if self.response is None:
            self.response = StreamResponse(200, content_type="application/json")
            await self.response.prepare(self.request)
        await self.response.write(b"".join(buildstream.encode(msg) for msg in msgs))

    async def run(self, start, ended) -> StreamResponse:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def emit(event) -> asyncio.Future | None:
            loop.call_soon_threadsafe(queue.put_nowait, event)
            if not isinstance(event, StepOutput):
                return None
            self.backlog += len(event.data)  # a RUN's output pump, on the loop thread
            if self.backlog <= OUTPUT_BACKLOG:
                return None
            if self.room is None or self.room.done():
                self.room = loop.create_future()
            return self.room

        task = asyncio.ensure_future(start(emit))
        gone = asyncio.ensure_future(self.request.wait_disconnected())
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, task, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone.done():
                    getter.cancel()
                    raise ConnectionResetError("the client went away")
                if not getter.done():
                    getter.cancel()
                    await asyncio.sleep(0)  # the emits a thread scheduled before the end
                    break
                events = [getter.result()]
                while not queue.empty():  # what else is ready goes in the same write
                    events.append(queue.get_nowait())
                await self._forward(*events)
            events = []
            while not queue.empty():
                events.append(queue.get_nowait())
            await self._forward(*events)
            await ended()
            failure = task.exception()
            if failure is not None:
                await self._fail(failure)
            else:
                await self._succeed(task.result())
            if self.response is None:  # a build that wrote nothing (q, or no events)
                await self._write_none()
            await self.response.finish()
            return self.response
        finally:
            gone.cancel()
            self._make_room()
            if not task.done():  # the client went away: stop the build
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _forward(self, *events) -> None:
        msgs: list[dict] = []
        for event in events:
            msgs += buildstream.messages(event)
        await self.send(msgs)
        output = [len(e.data) for e in events if isinstance(e, StepOutput)]
        if output:
            self.backlog -= sum(output)
            if self.backlog <= OUTPUT_BACKLOG // 2:
                self._make_room()

    def _make_room(self) -> None:
        if self.room is not None and not self.room.done():
            self.room.set_result(None)

    async def _succeed(self, result: BuildResult) -> None:
        tail = buildstream.ending(result, result.tags or self.build.tags)
        if self.last_aux != result.image_id:
            tail.insert(0, buildstream.aux(result.image_id))
        await self.send(tail)
        if self.build.quiet:
            await self._write(buildstream.quiet_result(result.image_id))

    async def _fail(self, failure: BaseException) -> None:
        if self.held:  # q: what was held back, before the error
            await self._write(*self.held)
        if self.response is None:
            raise failure  # nothing written yet: an ordinary error response
        await self._write(buildstream.failure(failure))

    async def _write_none(self) -> None:
        self.response = StreamResponse(200, content_type="application/json")
        await self.response.prepare(self.request)
