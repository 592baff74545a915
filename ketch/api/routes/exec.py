"""/containers/{id}/exec and /exec routes (moby's ``router/container/exec.go``).

``POST /exec/{id}/start`` hijacks the connection as attach does: raw bytes for a
terminal, Docker's 8-byte multiplexed frames otherwise (raw before API 1.42). An error
after the hijack (the command does not exist) is written into the stream, as moby
does, and the client learns the exit code from ``GET /exec/{id}/json``.
"""

import asyncio
import contextlib
from typing import Protocol

from ketch import detachkeys, errors
from ketch.api.http import MULTIPLEXED_STREAM, RAW_STREAM, Request, Response, Router, json_response
from ketch.api.streams import pump_output
from ketch.api.versions import at_least
from ketch.engine.containers.exec import ExecRecord
from ketch.monitor.protocol import STDOUT, frame


class ExecBackend(Protocol):
    def create(self, ref: str, body: dict) -> str: ...
    async def start(self, eid: str, attached: bool,
                    console_size: list[int] | None = None) -> ExecRecord: ...
    def get(self, eid: str) -> ExecRecord: ...
    async def send_stdin(self, rec: ExecRecord, data: bytes) -> None: ...
    async def close_stdin(self, rec: ExecRecord) -> None: ...
    def detach(self, rec: ExecRecord) -> None: ...
    async def resize(self, eid: str, height: int, width: int) -> None: ...
    def inspect(self, eid: str) -> dict: ...


async def _json_body(request: Request) -> dict:
    import json
    data = await request.body()
    if not data:
        return {}
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise errors.InvalidArgument(f"invalid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise errors.InvalidArgument("invalid JSON: expected an object")
    return doc


class ExecRoutes:
    def __init__(self, svc: ExecBackend) -> None:
        self.svc = svc

    def install(self, router: Router) -> None:
        router.add("POST", "/containers/{id}/exec", self.create)
        router.add("POST", "/exec/{id}/start", self.start)
        router.add("POST", "/exec/{id}/resize", self.resize)
        router.add("GET", "/exec/{id}/json", self.inspect)

    async def create(self, request: Request) -> Response:
        body = await _json_body(request)
        cmd = body.get("Cmd")
        if isinstance(cmd, str):
            cmd = [cmd]
        if not cmd:
            raise errors.InvalidArgument("No exec command specified")
        size = body.get("ConsoleSize")
        if size is not None and (not isinstance(size, list) or len(size) != 2):
            raise errors.InvalidArgument("invalid ConsoleSize: expected [height, width]")
        eid = self.svc.create(request.match["id"], {**body, "Cmd": [str(c) for c in cmd]})
        return json_response({"Id": eid}, 201)

    async def inspect(self, request: Request) -> Response:
        return json_response(self.svc.inspect(request.match["id"]))

    async def resize(self, request: Request) -> Response:
        await self.svc.resize(request.match["id"], request.int_arg("h", 0), request.int_arg("w", 0))
        return Response(200, b"", None, "text/plain; charset=utf-8")

    async def start(self, request: Request) -> Response | None:
        body = await _json_body(request)
        eid = request.match["id"]
        if body.get("Detach"):
            await self.svc.start(eid, attached=False)
            return Response(200, b"", None, "application/json")
        self.svc.get(eid)  # a missing exec is a 404, before the hijack
        tty = bool(body.get("Tty"))
        size = body.get("ConsoleSize")  # moby: an attached tty's size at its start (API 1.42+)
        if not (tty and isinstance(size, list) and len(size) == 2
                and all(type(v) is int for v in size) and at_least(request.api_version, "1.42")):
            size = None
        content = RAW_STREAM if tty or not at_least(request.api_version, "1.42") else MULTIPLEXED_STREAM
        raw = await request.hijack(content_type=content)
        try:
            rec = await self.svc.start(eid, attached=True, console_size=size)
        except errors.KetchError as exc:  # moby writes the error into the stream
            text = f"{exc}\r\n".encode()
            await raw.write(text if tty else frame(STDOUT, text))
            return None
        tasks = {asyncio.ensure_future(pump_output(rec.sink, raw, tty))}
        if rec.open_stdin:
            proxy = detachkeys.EscapeProxy((rec.detach_keys or detachkeys.parse(detachkeys.DEFAULT))
                                           if tty else b"")
            tasks.add(asyncio.ensure_future(self._pump_stdin(rec, raw, proxy)))
        try:
            while tasks:
                done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                if any(t.result() == "end" for t in done):
                    break
        finally:
            self.svc.detach(rec)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return None

    async def _pump_stdin(self, rec: ExecRecord, raw, proxy: detachkeys.EscapeProxy) -> str:
        while data := await raw.read():
            forward, detached = proxy.feed(data)
            if forward:
                await self.svc.send_stdin(rec, forward)
            if detached:
                return "end"
        await self.svc.close_stdin(rec)  # the client's end of input is the process's EOF
        return "stdin closed"
