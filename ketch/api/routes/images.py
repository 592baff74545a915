"""/images routes."""

from ketch import errors
from ketch.api import filters as flt
from ketch.api import views
from ketch.api.http import Request, Response, Router, StreamResponse, encode_json, json_response
from ketch.api.versions import at_least
from ketch.engine.containers.service import ContainerService
from ketch.engine.threadstream import run_with_stream
from ketch.engine.images import ImageService

LIST_FILTERS = ("dangling", "label", "before", "since", "reference", "until")


class ImageRoutes:
    def __init__(self, images: ImageService, containers: ContainerService) -> None:
        self.images = images
        self.containers = containers

    def install(self, router: Router) -> None:
        router.add("GET", "/images/json", self.list_images)
        router.add("POST", "/images/create", self.create)
        router.add("GET", "/images/{name:.*}/json", self.inspect)
        router.add("GET", "/images/{name:.*}/history", self.history)
        router.add("POST", "/images/{name:.*}/tag", self.tag)
        router.add("DELETE", "/images/{name:.*}", self.remove)

    async def list_images(self, request: Request) -> Response:
        filters = flt.parse(request.arg("filters"), LIST_FILTERS)
        out = []
        for image in sorted(self.images.list_all(), key=lambda i: i.created, reverse=True):
            if not self._matches(image, filters):
                continue
            doc = views.image_summary(image)
            if not at_least(request.api_version, "1.44"):
                doc["VirtualSize"] = image.size
            out.append(doc)
        return json_response(out)

    def _matches(self, image, f: dict[str, list[str]]) -> bool:
        if f.get("dangling"):
            dangling = f["dangling"][0].lower() in ("true", "1")
            if dangling != (not image.tags):
                return False
        if f.get("label") and not flt.match_labels(image.container_config.get("Labels") or {}, f["label"]):
            return False
        if f.get("reference"):
            import fnmatch
            names = [views.reference.parse(t).familiar for t in image.tags]
            repos = [n.rsplit(":", 1)[0] for n in names]
            if not any(fnmatch.fnmatch(n, pat) for pat in f["reference"] for n in names + repos):
                return False
        return True

    async def inspect(self, request: Request) -> Response:
        return json_response(views.image_json(self.images.resolve(request.match["name"])))

    async def history(self, request: Request) -> Response:
        return json_response(views.image_history(self.images.resolve(request.match["name"])))

    async def tag(self, request: Request) -> Response:
        repo = request.arg("repo") or ""
        tag = request.arg("tag") or ""
        self.images.tag(request.match["name"], f"{repo}:{tag}" if tag else repo)
        return Response(201, b"", None, None)

    async def remove(self, request: Request) -> Response:
        image = self.images.resolve(request.match["name"])
        users = self.containers.users_of_image(image.id)
        report = self.images.remove(request.match["name"], request.flag("force"), users)
        self.images.collect_garbage(self.containers.layers_in_use())
        return json_response(report)

    async def create(self, request: Request) -> StreamResponse:
        if request.arg("fromSrc") is None:
            name = request.arg("fromImage") or ""
            raise errors.NotImplementedYet(
                f"pulling images is not supported by this ketch yet (image {name!r}); "
                "import a rootfs with `ketch import` instead")
        if request.arg("fromSrc") != "-":
            raise errors.NotImplementedYet("importing from a URL is not supported yet; use fromSrc=-")
        repo, tag = request.arg("repo"), request.arg("tag")
        changes = request.query.get("changes", [])
        self.images.check_import_args(repo, changes)
        info, chain, snapshot = await run_with_stream(
            request.stream(), lambda reader: self.images.ingest_layer(reader, None))
        image_id = self.images.commit_import(info, chain, snapshot, repo, tag, changes,
                                             request.arg("message") or "Imported from -")
        resp = StreamResponse(200, content_type="application/json")
        await resp.prepare(request)
        await resp.write(encode_json({"status": image_id}))
        await resp.finish()
        return resp
