"""Registry routes: POST /images/create?fromImage= (pull), POST /images/{name}/push,
POST /auth, GET /images/search.

Pull and push answer with moby's JSON progress stream (``apitypes/progress``). As in
moby, the stream starts with the first message: an error before it (an unknown tag, an
unreachable registry, a refused login) is an ordinary error response with its status;
an error after it is the stream's last message.
"""

import asyncio
from typing import Awaitable, Callable, Protocol

from ketch import errors
from ketch.api import filters as flt
from ketch.api.http import Request, Response, Router, StreamResponse, json_response
from ketch.apitypes import progress as prog
from ketch.registry.client.auth import AuthConfig

class DistributionBackend(Protocol):
    async def pull(self, name: str, tag: str, platform: str | None, auth: AuthConfig, emit) -> None: ...
    async def push(self, name: str, tag: str, auth: AuthConfig, emit) -> None: ...
    async def login(self, auth: AuthConfig) -> str: ...
    async def search(self, term: str, limit: int | None, filters: dict, auth: AuthConfig) -> list[dict]: ...


class DistributionRoutes:
    def __init__(self, backend: DistributionBackend) -> None:
        self.backend = backend

    def install(self, router: Router) -> None:
        router.add("POST", "/images/{name:.*}/push", self.push)
        router.add("POST", "/auth", self.auth)
        router.add("GET", "/images/search", self.search)

    async def pull(self, request: Request) -> StreamResponse | Response:
        """POST /images/create with fromImage (images.py hands it over)."""
        name = request.arg("fromImage") or ""
        tag = request.arg("tag") or ""
        platform = request.arg("platform") or None
        auth = AuthConfig.from_header(request.headers.get("x-registry-auth", ""))
        return await _progress(request, lambda emit: self.backend.pull(name, tag, platform, auth, emit))

    async def push(self, request: Request) -> StreamResponse | Response:
        name, tag = request.match["name"], request.arg("tag") or ""
        auth = AuthConfig.from_header(request.headers.get("x-registry-auth", ""))
        return await _progress(request, lambda emit: self.backend.push(name, tag, auth, emit))

    async def auth(self, request: Request) -> Response:
        doc = await request.json()
        token = await self.backend.login(AuthConfig.from_dict(doc if isinstance(doc, dict) else {}))
        return json_response({"Status": "Login Succeeded", "IdentityToken": token})

    async def search(self, request: Request) -> Response:
        f = flt.parse(request.arg("filters"), None)
        for key in f:
            if key not in ("is-automated", "is-official", "stars"):
                raise flt.invalid_filter(key)
        limit = request.int_arg("limit")
        results = await self.backend.search(request.arg("term") or "", limit, f, AuthConfig.from_header(request.headers.get("x-registry-auth", "")))
        return json_response(results)


async def _progress(request: Request, run: Callable[[Callable[[dict], None]], Awaitable[None]]):
    """Run ``run(emit)``, streaming what it emits (from any thread) as JSON lines."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def emit(msg: dict) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, msg)

    task = asyncio.ensure_future(run(emit))
    resp: StreamResponse | None = None
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                await asyncio.sleep(0)  # the emits the thread scheduled before it ended
                break
            if resp is None:
                resp = StreamResponse(200, content_type="application/json")
                await resp.prepare(request)
            await resp.write(prog.encode(getter.result()))
        pending = []
        while not queue.empty():
            pending.append(queue.get_nowait())
        failure = task.exception()
        if resp is None and failure is not None and not pending:
            raise failure
        if resp is None:
            resp = StreamResponse(200, content_type="application/json")
            await resp.prepare(request)
        for msg in pending:
            await resp.write(prog.encode(msg))
        if failure is not None:
            await resp.write(prog.encode(prog.error(_message(failure))))
        await resp.finish()
        return resp
    finally:
        if not task.done():  # the client went away: stop the work
            task.cancel()


def _message(exc: BaseException) -> str:
    if isinstance(exc, errors.KetchError):
        return str(exc)
    return str(exc) or type(exc).__name__

