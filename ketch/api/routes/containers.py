"""/containers routes."""

import asyncio
import contextlib
import os
import time

from ketch import detachkeys, errors, timefmt
from ketch.api import filters as flt
from ketch.api import mountcompat, netviews, views
from ketch.api.mediatype import check_for_json
from ketch.api.streams import pump_output
from ketch.api.summaries import SummaryEncoder
from ketch.api.http import (MULTIPLEXED_STREAM, RAW_STREAM, Request, Response, Router,
                            StreamResponse, encode_json, json_response)
from ketch.api.versions import at_least
from ketch.apitypes import container as apitypes
from ketch.apitypes.prune import match_kv_list
from ketch.engine import logs as logreader
from ketch.engine import stats, threadstream
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.containers.service import ContainerService
from ketch.monitor.protocol import frame

LIST_FILTERS = ("id", "name", "label", "status", "exited", "ancestor", "before", "since",
                "network", "volume", "health", "isolation", "is-task", "expose", "publish")
PRUNE_FILTERS = ("label", "label!", "until")
NO_CONTENT = Response(204, b"", None, None)
NOT_MODIFIED = Response(304, b"", None, None)


def _stream_type(request: Request, tty: bool) -> str:
    return RAW_STREAM if tty or not at_least(request.api_version, "1.42") else MULTIPLEXED_STREAM


def _parse_time(value: str | None) -> int:
    """Docker's since/until: unix seconds with an optional fraction, as the CLI sends them."""
    if not value:
        return 0
    secs, _, frac = value.partition(".")
    try:
        return int(secs) * 10**9 + int((frac + "000000000")[:9] or 0)
    except ValueError:
        raise errors.InvalidArgument(f"invalid time value: {value}") from None


def _from_run(entry, started_at: str) -> bool:
    """Whether a log entry was written at or after ``started_at`` (a run's start)."""
    return timefmt.parse_ns(entry.time) >= timefmt.parse_ns(started_at)


class ContainerRoutes:
    def __init__(self, svc: ContainerService) -> None:
        self.svc = svc
        self.summaries = SummaryEncoder(svc.network_view)

    def install(self, router: Router) -> None:
        add = router.add
        add("POST", "/containers/create", self.create)
        add("GET", "/containers/json", self.list_containers)
        add("GET", "/containers/{id}/json", self.inspect)
        add("POST", "/containers/{id}/start", self.start)
        add("POST", "/containers/{id}/stop", self.stop)
        add("POST", "/containers/{id}/restart", self.restart)
        add("POST", "/containers/{id}/kill", self.kill)
        add("POST", "/containers/{id}/pause", self.pause)
        add("POST", "/containers/{id}/unpause", self.unpause)
        add("POST", "/containers/{id}/wait", self.wait)
        add("POST", "/containers/{id}/attach", self.attach)
        add("POST", "/containers/{id}/resize", self.resize)
        add("POST", "/containers/{id}/rename", self.rename)
        add("GET", "/containers/{id}/logs", self.logs)
        add("DELETE", "/containers/{id}", self.remove)
        add("GET", "/containers/{id}/stats", self.stats)
        add("POST", "/containers/{id}/update", self.update)
        add("GET", "/containers/{id}/top", self.top)
        add("GET", "/containers/{id}/changes", self.changes)
        add("GET", "/containers/{id}/export", self.export)
        add("POST", "/containers/prune", self.prune)

    # -- lifecycle ----------------------------------------------------------------
    async def create(self, request: Request) -> Response:
        check_for_json(request)
        body = apitypes.decode_create(await request.body())
        if not at_least(request.api_version, "1.44") and isinstance(body.get("Healthcheck"), dict):
            body["Healthcheck"] = {**body["Healthcheck"], "StartInterval": 0}  # moby: 1.44's field
        if isinstance(body.get("HostConfig"), dict):
            mountcompat.adapt(body["HostConfig"], request.api_version)
        await self.svc.unpack_image(body.get("Image"))  # off the event loop, before create
        cid, warnings = await self.svc.create(body, request.arg("name"), request.arg("platform"),
                                        readonly_non_recursive=not at_least(request.api_version, "1.44"))
        return json_response({"Id": cid, "Warnings": warnings}, 201)

    async def start(self, request: Request) -> Response:
        started = await self.svc.start(request.match["id"])
        return NO_CONTENT if started else NOT_MODIFIED

    async def stop(self, request: Request) -> Response:
        stopped = await self.svc.stop(request.match["id"], request.int_arg("t", bits=32), request.arg("signal"))
        return NO_CONTENT if stopped else NOT_MODIFIED

    async def restart(self, request: Request) -> Response:
        await self.svc.restart(request.match["id"], request.int_arg("t", bits=32), request.arg("signal"))
        return NO_CONTENT

    async def kill(self, request: Request) -> Response:
        name = request.match["id"]
        try:
            await self.svc.kill(name, request.arg("signal"))
        except errors.KetchError as exc:  # moby's router wraps every kill error so
            raise errors.wrapped(exc, f"cannot kill container: {name}") from None
        return NO_CONTENT

    async def pause(self, request: Request) -> Response:
        await self.svc.pause(request.match["id"])
        return NO_CONTENT

    async def unpause(self, request: Request) -> Response:
        await self.svc.unpause(request.match["id"])
        return NO_CONTENT

    async def remove(self, request: Request) -> Response:
        if request.flag("link"):
            self.svc.remove_link(request.match["id"])
        await self.svc.remove(request.match["id"], force=request.flag("force"), volumes=request.flag("v"))
        return NO_CONTENT

    async def rename(self, request: Request) -> Response:
        new_name = request.arg("name") or ""
        if not new_name:  # moby checks this before it looks the container up
            raise errors.InvalidArgument("Neither old nor new names may be empty")
        self.svc.rename(request.match["id"], new_name)
        return NO_CONTENT

    async def resize(self, request: Request) -> Response:
        await self.svc.resize(request.match["id"], request.int_arg("h", 0), request.int_arg("w", 0))
        return Response(200, b"", None, "text/plain; charset=utf-8")

    async def wait(self, request: Request) -> StreamResponse:
        fut = self.svc.wait(request.match["id"], request.arg("condition") or "not-running")
        # Headers go out before the container exits: clients (docker run) wait for them
        # before they start the container.
        resp = StreamResponse(200, content_type="application/json")
        await resp.prepare(request)
        gone = asyncio.ensure_future(request.wait_disconnected())
        try:
            await asyncio.wait({fut, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if fut.done():
            await resp.write(encode_json({"Error": None, "StatusCode": fut.result()}))
            await resp.finish()
        return resp

    # -- queries ------------------------------------------------------------------
    async def inspect(self, request: Request) -> Response:
        rec = self.svc.get(request.match["id"])
        size = self._sizes(rec) if request.flag("size") else (None, 0)
        doc = views.container_json(rec, self.svc.paths, *size, self.svc.graph_driver_data(rec),
                                   self.svc.network_view(rec), self.svc.sandbox(rec))
        if not at_least(request.api_version, "1.45"):
            netviews.add_short_id_aliases(doc["NetworkSettings"]["Networks"], rec.id)
        return json_response(doc)

    def _sizes(self, rec: ContainerRecord) -> tuple[int, int]:
        image = self.svc.images.find(rec.image_id)
        return self.svc.size_rw(rec), image.size if image else 0

    async def list_containers(self, request: Request) -> Response:
        f = flt.container_filter(flt.parse(request.arg("filters"), LIST_FILTERS))
        before = [self.svc.get_exact(ref) for ref in f.filters.get("before", [])]
        since = [self.svc.get_exact(ref) for ref in f.filters.get("since", [])]
        limit = request.int_arg("limit", -1) or -1
        records = everything = self.svc.list_all()
        # As in moby, a limit (ps -n/-l) lists containers in every state, as a status filter does.
        if not (request.flag("all") or f.wants_all or limit > 0):
            records = [r for r in records if r.running]
        if f.filters:
            records = [r for r in records if self._matches(r, f, before, since)]
        if limit > 0:
            records = records[:limit]
        if request.flag("size"):
            return json_response([views.container_summary(rec, *self._sizes(rec),
                                                          self.svc.network_view(rec)) for rec in records])
        body = self.summaries.listing(records)
        if len(self.summaries) > len(everything):  # some were removed
            self.summaries.forget(rec.id for rec in everything)
        return Response(200, body, None, "application/json")

    def _network_matches(self, rec: ContainerRecord, cf: flt.ContainerFilter) -> bool:
        """moby's network filter (a network's exact name or an id prefix) and its
        publish/expose filters over the list's Ports (what a running container shows)."""
        attached = self.svc.network_view(rec)
        if cf.filters.get("network") and not any(
                name == value or (net is not None and net.id.startswith(value))
                for value in cf.filters["network"] for name, _, _, net in attached):
            return False
        if cf.publish or cf.expose:
            ports = netviews.port_list(rec.config.get("ExposedPorts"), attached, rec.state.running)
            return any(f"{p.get('PublicPort')}/{p['Type']}" in cf.publish or
                       f"{p['PrivatePort']}/{p['Type']}" in cf.expose for p in ports)
        return True

    def _matches(self, rec: ContainerRecord, cf: flt.ContainerFilter,
                 before: list[ContainerRecord], since: list[ContainerRecord]) -> bool:
        f = cf.filters
        # moby's Args.Match: equal, or an unanchored regular expression found in the id,
        # and in the name with or without its "/" (`name=^/web` and `name=^web` both anchor)
        if not flt.matches(f.get("id", []), rec.id):
            return False
        names = f.get("name", [])
        if not (flt.matches(names, "/" + rec.name) or flt.matches(names, rec.name)):
            return False
        if f.get("status") and rec.state.to_docker()["Status"] not in f["status"]:
            return False
        if cf.exit_codes and (rec.running or rec.state.exit_code not in cf.exit_codes
                              or rec.state.started_at == timefmt.ZERO):
            return False
        if f.get("label") and not match_kv_list(tuple(f["label"]), rec.config.get("Labels") or {}):
            return False
        if cf.is_task:  # no container of ketch's is a swarm task
            return False
        if f.get("health") and (rec.health.status if rec.health else "none") not in f["health"]:
            return False
        if f.get("volume") and not views.mounts_match(rec, f["volume"]):
            return False
        if (cf.publish or cf.expose or f.get("network")) and not self._network_matches(rec, cf):
            return False
        if f.get("ancestor"):
            ids = {img.id for img in (self.svc.images.find(a) for a in f["ancestor"]) if img}
            if rec.image_id not in ids and rec.image not in f["ancestor"]:
                return False
        for others, newer in ((before, False), (since, True)):
            for other in others:
                if (rec.created > other.created) != newer or rec.id == other.id:
                    return False
        return True

    async def update(self, request: Request) -> Response:
        check_for_json(request)
        body = apitypes.decode_update(await request.body())
        warnings = await self.svc.update(request.match["id"], body)
        return json_response({"Warnings": warnings})

    async def stats(self, request: Request) -> StreamResponse:
        """One object per second (stream), or one (stream=0; precpu from a second earlier
        unless one-shot), as dockerd's stats collector gives them."""
        rec = self.svc.get(request.match["id"])
        stream, one_shot = request.flag("stream", True), request.flag("one-shot")
        resp = StreamResponse(200, content_type="application/json")
        await resp.prepare(request)
        prev = None
        if not rec.running or rec.state.restarting:  # no processes, no cgroup
            await resp.write(encode_json(stats.docker_json(rec.id, rec.name, None, None)))
            await resp.finish()
            return resp
        if not stream and not one_shot:
            prev = await asyncio.to_thread(stats.sample, rec.cgroups_path)
            await asyncio.sleep(1.0)
        while True:
            started = time.monotonic()
            try:
                cur = await asyncio.to_thread(stats.sample, rec.cgroups_path)
            except errors.KetchError:
                cur = None  # the container stopped between samples
            networks = stats.network_counters(self.svc.interfaces(rec)) if cur else None
            await resp.write(encode_json(stats.docker_json(rec.id, rec.name, cur, prev, networks)))
            if not stream or cur is None or not rec.running:
                break
            prev = cur
            await asyncio.sleep(stats.wait_interval(started))
        await resp.finish()
        return resp

    # -- processes and files --------------------------------------------------------
    async def top(self, request: Request) -> Response:
        result = await self.svc.top(request.match["id"], request.arg("ps_args") or "")
        return json_response(result.to_docker())

    async def changes(self, request: Request) -> Response:
        changes = await self.svc.changes(request.match["id"])
        # moby answers null, not [], for a container that changed nothing
        return json_response([c.to_docker() for c in changes] or None)

    async def export(self, request: Request) -> StreamResponse:
        rec, fd = await self.svc.open_export(request.match["id"])
        try:
            resp = StreamResponse(200, content_type="application/x-tar")
            await resp.prepare(request)
            chunks = threadstream.produce(lambda out: self.svc.rootfs.write(fd, out))
            try:
                async for chunk in chunks:
                    await resp.write(chunk)
            finally:
                await chunks.aclose()
        finally:
            os.close(fd)
        self.svc.exported(rec)
        await resp.finish()
        return resp

    async def prune(self, request: Request) -> Response:
        f = flt.prune_filter(flt.parse(request.arg("filters"), PRUNE_FILTERS))
        deleted, reclaimed = await self.svc.prune(f)
        return json_response({"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed})

    # -- streams ------------------------------------------------------------------
    async def logs(self, request: Request) -> StreamResponse:
        rec = self.svc.get(request.match["id"])
        stdout, stderr = request.flag("stdout"), request.flag("stderr")
        if not stdout and not stderr:
            raise errors.InvalidArgument("Bad parameters: you must choose at least one stream")
        path = self.svc.readable_log(rec)
        tail = request.arg("tail") or "all"
        try:
            tail_n = -1 if tail == "all" else int(tail)
        except ValueError:
            tail_n = -1
        opts = logreader.LogOptions(stdout, stderr, _parse_time(request.arg("since")),
                                    _parse_time(request.arg("until")), tail_n, request.flag("follow"))
        tty = bool(rec.config.get("Tty"))
        timestamps, details = request.flag("timestamps"), request.flag("details")
        resp = StreamResponse(200, content_type=_stream_type(request, tty))
        await resp.prepare(request)
        # a follower ends with the run it found, as moby's does (the log driver is closed
        # when the container stops): a restart does not carry it on into the next run
        run = rec.state.started_at
        async for entry in logreader.read(path, opts, lambda: rec.running and rec.state.started_at == run):
            if opts.follow and rec.state.started_at != run and _from_run(entry, rec.state.started_at):
                break  # the next run's output, read before the stream saw the stop
            data = entry.data
            if details:  # moby: the attributes, then the time, go before the line
                data = entry.details() + b" " + data
            if timestamps:
                data = entry.time.encode() + b" " + data
            await resp.write(data if tty else frame(entry.stream, data))
        await resp.finish()
        return resp

    async def attach(self, request: Request) -> None:
        rec = self.svc.attachable(request.match["id"])
        want_stdin = request.flag("stdin")
        stdout, stderr = request.flag("stdout"), request.flag("stderr")
        keys = detachkeys.parse(request.arg("detachKeys") or detachkeys.DEFAULT)
        tty = bool(rec.config.get("Tty"))
        sink = self.svc.attach(rec, stdout, stderr) if request.flag("stream") else None
        detached = False
        try:
            # moby writes the attach head by hand: no version headers, and an old
            # client's 200 (no Upgrade) is always a raw stream
            request.response_headers = None
            upgrade = "upgrade" in request.headers
            raw = await request.hijack(content_type=_stream_type(request, tty) if upgrade else RAW_STREAM)
            if request.flag("logs"):
                opts = logreader.LogOptions(stdout, stderr)
                async for entry in logreader.read(self.svc.log_path(rec), opts, lambda: False):
                    await raw.write(entry.data if tty else frame(entry.stream, entry.data))
            if sink is None:
                return None
            tasks = {asyncio.ensure_future(pump_output(sink, raw, tty))}
            if want_stdin:
                # As in moby, the detach keys are looked for only on a terminal.
                proxy = detachkeys.EscapeProxy(keys if tty else b"")
                tasks.add(asyncio.ensure_future(self._pump_stdin(rec, raw, proxy)))
            try:
                # The stream ends with the container's output, or when the client types the
                # detach keys (the container goes on; its stdin stays open).
                while tasks:
                    done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    detached = any(t.result() == "detached" for t in done)
                    if detached or any(t.result() == "end" for t in done):
                        break
            finally:
                for task in tasks:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        finally:
            if sink is not None:
                self.svc.detach(rec, sink, keys=detached)
        return None

    async def _pump_stdin(self, rec: ContainerRecord, raw, proxy: detachkeys.EscapeProxy) -> str:
        while data := await raw.read():
            forward, detached = proxy.feed(data)
            if forward:
                await self.svc.send_stdin(rec, forward)
            if detached:
                return "detached"
        # As in moby: the end of input closes the container's stdin when it is a pipe opened
        # once (StdinOnce); otherwise it ends this attach and stdin stays open for the next.
        if rec.config.get("StdinOnce") and not rec.config.get("Tty"):
            await self.svc.close_stdin(rec)
            return "stdin closed"
        return "end"
