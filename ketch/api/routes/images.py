"""/images routes."""

import asyncio
import io

from ketch import errors, timefmt
from ketch.api import filters as flt
from ketch.api import views
from ketch.api.http import Request, Response, Router, StreamResponse, json_response
from ketch.api.versions import at_least
from ketch.apitypes import progress as prog
from ketch.apitypes.prune import match_kv_list
from ketch.engine.containers.service import ContainerService
from ketch.engine import threadstream
from ketch.engine.threadstream import run_with_stream
from ketch.engine.images import urlimport
from ketch.engine.images.progress import ProgressReader
from ketch.engine.images.history import image_history
from ketch.engine.images.service import ImageService
from ketch.oci import pathmatch, reference
from ketch.oci import platform as platforms

LIST_FILTERS = ("dangling", "label", "before", "since", "reference", "until")


def _until(value: str) -> int:
    try:
        return timefmt.timestamp_ns(timefmt.get_timestamp(value))
    except ValueError as exc:
        raise errors.Internal(str(exc)) from None  # a plain error in moby: a 500


class ImageRoutes:
    def __init__(self, images: ImageService, containers: ContainerService, pull=None) -> None:
        self.images = images
        self.containers = containers
        self.pull = pull  # POST /images/create?fromImage=: distribution.DistributionRoutes.pull

    def install(self, router: Router) -> None:
        router.add("GET", "/images/json", self.list_images)
        router.add("POST", "/images/create", self.create)
        router.add("GET", "/images/{name:.*}/json", self.inspect)
        router.add("GET", "/images/{name:.*}/history", self.history)
        router.add("POST", "/images/{name:.*}/tag", self.tag)
        router.add("DELETE", "/images/{name:.*}", self.remove)

    async def list_images(self, request: Request) -> Response:
        f = flt.parse(request.arg("filters"), LIST_FILTERS)
        dangling_only = flt.get_bool(f, "dangling", False)
        # moby's before/until: older than the oldest image or time named; since: newer
        # than the newest image named
        before = min([self._created(v) for v in f.get("before", [])]
                     + [_until(v) for v in f.get("until", [])], default=None)
        since = max((self._created(v) for v in f.get("since", [])), default=None)
        out = []
        for image in sorted(self.images.list_all(), key=lambda i: i.created, reverse=True):
            created = timefmt.parse_ns(image.created)
            if (before is not None and created >= before) or (since is not None and created <= since):
                continue
            if f.get("label") and not match_kv_list(tuple(f["label"]), image.container_config.get("Labels") or {}):
                continue
            tags = self._matching_tags(image.tags, f.get("reference"))
            digests = self._matching_tags(image.repo_digests, f.get("reference"))
            if not image.tags and not request.flag("all") and self.images.store.children(image.id):
                continue  # an intermediate image: only -a lists it
            if not tags and not digests:
                # untagged, or none of its tags matches: a dangling row, unless filtered out
                if "reference" in f or ("dangling" in f and not dangling_only):
                    continue
            elif dangling_only and tags:
                continue
            doc = views.image_summary(image, tags=tags, digests=digests)
            if not at_least(request.api_version, "1.44"):
                doc["VirtualSize"] = image.size
            out.append(doc)
        return json_response(out)

    def _created(self, name: str) -> int:
        return timefmt.parse_ns(self.images.resolve(name).created)

    @staticmethod
    def _matching_tags(tags: tuple[str, ...], patterns: list[str] | None) -> tuple[str, ...]:
        """The tags a ``reference`` filter lets through: only those rows are listed, as
        moby lists only the matching references of an image (``images busybox`` does not
        show the image's other repositories)."""
        if patterns is None:
            return tags
        try:
            return tuple(t for t in tags
                         if any(reference.familiar_match(p, reference.parse(t)) for p in patterns))
        except pathmatch.BadPattern as exc:
            raise errors.Internal(str(exc)) from None  # a plain error in moby: a 500

    async def inspect(self, request: Request) -> Response:
        image = self.images.resolve(request.match["name"])
        return json_response(views.image_json(image, self.images.graph_driver_data(image),
                                              request.api_version))

    async def history(self, request: Request) -> Response:
        return json_response(views.image_history(image_history(self.images, request.match["name"])))

    async def tag(self, request: Request) -> Response:
        repo = request.arg("repo") or ""
        tag = request.arg("tag") or ""
        self.images.tag(request.match["name"], repo, tag)
        return Response(201, b"", None, None)

    async def remove(self, request: Request) -> Response:
        report = self.images.remove(request.match["name"], request.flag("force"),
                                    self.containers.users_of_image, not request.flag("noprune"))
        self.images.collect_garbage(self.containers.layers_in_use())
        return json_response(report)

    async def create(self, request: Request) -> StreamResponse:
        if request.arg("fromSrc") is None and self.pull is not None:
            return await self.pull(request)
        if request.arg("fromSrc") is None:
            name = request.arg("fromImage") or ""
            raise errors.NotImplementedYet(
                f"pulling images is not supported by this ketch yet (image {name!r}); "
                "import a rootfs with `ketch import` instead")
        source = request.arg("fromSrc")
        platform = _platform(request)
        repo, tag = request.arg("repo"), request.arg("tag")
        changes = request.query.get("changes", [])
        self.images.check_import_args(repo, changes)
        message = request.arg("message") or f"Imported from {source}"
        if source != "-":
            return await self._create_from_url(request, source, repo, tag, changes, message, platform)
        info, chain, snapshot = await run_with_stream(
            request.stream(), lambda reader: self.images.ingest_layer(reader, None))
        image_id = self.images.commit_import(info, chain, snapshot, repo, tag, changes, message,
                                             platform=platform)
        resp = StreamResponse(200, content_type="application/json")
        await resp.prepare(request)
        await resp.write(prog.encode(prog.message(image_id)))
        await resp.finish()
        return resp

    async def _create_from_url(self, request: Request, source: str, repo, tag, changes, message,
                               platform) -> StreamResponse:
        """moby's fromSrc=URL: "Downloading from URL", the "Importing" progress (with a
        blank status after its last report), then the id; failures after the first
        message are the stream's last message."""
        download = await asyncio.to_thread(urlimport.open_url, source)
        resp = StreamResponse(200, content_type="application/json")
        try:
            await resp.prepare(request)
            await resp.write(prog.encode(prog.message(f"Downloading from {download.url}")))
            made = []

            def ingest(out) -> None:
                def report(msg: dict) -> None:
                    out.write(prog.encode(msg))
                    out.flush()
                reader = ProgressReader(download.body, max(download.length, 0), report, "", "Importing")
                made.append(self.images.ingest_layer(io.BufferedReader(reader, 1 << 20), None))
                out.write(prog.encode(prog.message("")))  # moby's newLines output after the last report

            chunks = threadstream.produce(ingest)
            try:
                async for chunk in chunks:
                    await resp.write(chunk)
            finally:
                await chunks.aclose()
            info, chain, snapshot = made[0]
            image_id = self.images.commit_import(info, chain, snapshot, repo, tag, changes, message,
                                                 platform=platform)
            await resp.write(prog.encode(prog.message(image_id)))
        except (errors.KetchError, OSError) as exc:
            await resp.write(prog.encode(prog.error(str(exc))))
        finally:
            await asyncio.to_thread(download.close)
        await resp.finish()
        return resp


def _platform(request: Request) -> platforms.Platform | None:
    """The import's ``platform`` (API 1.32+); an OS other than linux is refused as moby's
    CheckOS refuses it."""
    spec = request.arg("platform")
    if not spec or not at_least(request.api_version, "1.32"):
        return None
    platform = platforms.parse(spec)
    if platform.os != "linux":
        raise errors.InvalidArgument("operating system is not supported")
    return platform
