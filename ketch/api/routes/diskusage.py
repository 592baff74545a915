"""POST /images/prune and GET /system/df: what images and containers take, and
removing the images nothing uses."""

import asyncio
import dataclasses

from ketch.api import filters as flt
from ketch.api import views
from ketch.api.buildviews import cache_json
from ketch.api.http import Request, Response, Router, json_response
from ketch.api.versions import at_least
from ketch.api.volumeviews import volume_json
from ketch.engine.diskusage import KINDS, DiskUsage
from ketch.engine.images.prune import ImagePruner
from ketch.errors import InvalidArgument

IMAGE_PRUNE_FILTERS = ("dangling", "label", "label!", "until")


class DiskUsageRoutes:
    def __init__(self, usage: DiskUsage, pruner: ImagePruner, collect_garbage,
                 build_cache=None) -> None:
        self.usage = usage
        self.pruner = pruner
        self.collect_garbage = collect_garbage  # () -> None: layers and blobs nothing needs
        self.build_cache = build_cache  # () -> [CacheRecord] (BuildService.usage), or None

    def install(self, router: Router) -> None:
        router.add("POST", "/images/prune", self.prune_images)
        router.add("GET", "/system/df", self.disk_usage)

    async def prune_images(self, request: Request) -> Response:
        f = flt.parse(request.arg("filters"), IMAGE_PRUNE_FILTERS)
        dangling_only = flt.get_bool(f, "dangling", True)
        report = self.pruner.prune(flt.prune_filter(f), dangling_only, self.collect_garbage)
        return json_response({"ImagesDeleted": report.deleted or None,
                              "SpaceReclaimed": report.reclaimed})

    async def disk_usage(self, request: Request) -> Response:
        asked = request.query.get("type")
        if asked is None or not at_least(request.api_version, "1.42"):
            kinds = frozenset(KINDS)
        else:
            for kind in asked:
                if kind not in KINDS:
                    raise InvalidArgument(f"unknown object type: {kind}")
            kinds = frozenset(asked)
        usage = self.usage.usage(kinds)
        if "container" in kinds:
            records = self.usage.container_records()
            usage = dataclasses.replace(usage, containers=await asyncio.to_thread(self.usage.measure, records))
        if "volume" in kinds:
            volume_records = self.usage.volume_records()
            usage = dataclasses.replace(usage, volumes=await asyncio.to_thread(self.usage.measure_volumes,
                                                                                volume_records))
        build_cache = usage.build_cache
        if build_cache is not None and self.build_cache is not None:
            build_cache = [cache_json(r, request.api_version)
                           for r in await asyncio.to_thread(self.build_cache)]
        doc = {"LayersSize": usage.layers_size, "Images": None, "Containers": None,
               "Volumes": None, "BuildCache": build_cache}
        if usage.images is not None:
            doc["Images"] = [views.image_summary(u.image, u.containers, shared_size=u.shared_size)
                             for u in usage.images]
        if usage.volumes is not None:
            doc["Volumes"] = [volume_json(u.volume, (u.size, u.ref_count)) for u in usage.volumes]
        if usage.containers is not None:
            doc["Containers"] = [views.container_summary(u.record, u.size_rw, u.image_size)
                                 for u in usage.containers]
        return json_response(doc)
