"""/images/get, /images/{name}/get and /images/load: ``docker save`` and ``docker load``.

As moby's image router: a save that cannot start (an unknown name) is an HTTP error,
since nothing was written yet; a load always answers 200 with a JSON message stream,
its failure as the stream's last message (``{"errorDetail": ..., "error": ...}``).
``quiet`` defaults to true when absent, as in moby.
"""

import asyncio
import logging
from typing import Protocol

from ketch import errors
from ketch.api.http import Request, Router, StreamResponse
from ketch.apitypes import progress as prog
from ketch.engine import threadstream
from ketch.engine.images.saveload import Load

log = logging.getLogger(__name__)


class SaveBackend(Protocol):
    def choose(self, names: list[str]) -> list: ...
    def plan(self, chosen: list) -> list: ...
    def write(self, plan: list, out) -> None: ...
    def saved(self, plan: list) -> None: ...


class LoadBackend(Protocol):
    def stage(self, load: Load, stream) -> None: ...
    def check(self, load: Load) -> None: ...
    def apply(self, load: Load, report) -> None: ...
    def commit(self, load: Load) -> list[str]: ...
    def drop_blobs(self, load: Load) -> None: ...
    def discard(self, load: Load) -> None: ...


class ImageArchiveRoutes:
    def __init__(self, saver: SaveBackend, loader: LoadBackend) -> None:
        self.saver = saver
        self.loader = loader

    def install(self, router: Router) -> None:
        router.add("GET", "/images/get", self.save)
        router.add("GET", "/images/{name:.*}/get", self.save)
        router.add("POST", "/images/load", self.load)

    async def save(self, request: Request) -> StreamResponse:
        names = [request.match["name"]] if "name" in request.match else request.query.get("names", [])
        chosen = self.saver.choose(names)
        plan = await asyncio.to_thread(self.saver.plan, chosen)
        resp = StreamResponse(200, content_type="application/x-tar")
        await resp.prepare(request)
        chunks = threadstream.produce(lambda out: self.saver.write(plan, out))
        try:
            async for chunk in chunks:
                await resp.write(chunk)
        finally:
            await chunks.aclose()
        self.saver.saved(plan)
        await resp.finish()
        return resp

    async def load(self, request: Request) -> StreamResponse:
        quiet = request.flag("quiet", True)
        load = Load()
        resp = StreamResponse(200, content_type="application/json")
        try:
            try:
                await threadstream.run_with_stream(request.stream(),
                                                   lambda reader: self.loader.stage(load, reader))
                failure = None
            except errors.KetchError as exc:
                failure = exc
            await resp.prepare(request)
            if failure is not None:
                raise failure
            self.loader.check(load)

            def apply(out) -> None:
                def report(msg: dict) -> None:
                    out.write(prog.encode(msg))
                    out.flush()
                self.loader.apply(load, None if quiet else report)

            chunks = threadstream.produce(apply)
            try:
                async for chunk in chunks:
                    await resp.write(chunk)
            finally:
                await chunks.aclose()
            for line in self.loader.commit(load):
                await resp.write(prog.encode(prog.stream(line + "\n")))
        except errors.KetchError as exc:
            if not resp.prepared:
                raise
            await resp.write(prog.encode(prog.error(str(exc))))
        finally:
            self.loader.drop_blobs(load)
            await asyncio.to_thread(self.loader.discard, load)
        await resp.finish()
        return resp
