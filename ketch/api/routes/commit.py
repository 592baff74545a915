"""POST /commit: a container's writable layer as a new image (moby's postCommit)."""

from typing import Protocol

from ketch import errors
from ketch.api.http import Request, Response, Router, json_response
from ketch.api.mediatype import check_for_json
from ketch.engine.images.commit import CommitRequest


class CommitBackend(Protocol):
    async def commit(self, req: CommitRequest) -> str:
        """The new image's id (``engine/images/commit.py``)."""


class CommitRoutes:
    def __init__(self, backend: CommitBackend) -> None:
        self.backend = backend

    def install(self, router: Router) -> None:
        router.add("POST", "/commit", self.commit)

    async def commit(self, request: Request) -> Response:
        check_for_json(request)
        config = await request.json()  # moby: an empty body is no config, not an error
        if config is not None and not isinstance(config, dict):
            raise errors.InvalidArgument("json: cannot unmarshal into Go value of type container.Config")
        image_id = await self.backend.commit(CommitRequest(
            container=request.arg("container") or "", repo=request.arg("repo") or "",
            tag=request.arg("tag") or "", author=request.arg("author") or "",
            comment=request.arg("comment") or "", pause=request.flag("pause", True),
            changes=tuple(request.query.get("changes", [])), config=config))
        return json_response({"Id": image_id}, 201)
