"""``docker commit``: a new image from a container's writable layer.

moby's CreateImageFromContainer and CommitImage, in one pass over the layer::

    upper dir ─▶ difftar ─▶ tar ─┬─▶ sha256 ─▶ diff_id
                                 └─▶ gzip (thread) ─▶ blob (sha256 ─▶ digest)

then the image config (the parent's history and layers, plus this layer), its manifest
and one SQLite transaction that makes layer, image, parent link and tag visible at once
(``record.py``, which the builder's steps share). Until that transaction nothing is
visible; whatever fails or is interrupted before it removes the snapshot and blobs it
made. A layer with no entries is no layer: the image gets an ``empty_layer`` history
entry only, as moby's ``layer.IsEmpty``.

A running container is paused for the copy unless ``pause`` is false (moby's default).
"""

import asyncio
from dataclasses import dataclass

from ketch import errors, timefmt
from ketch.build import changes as change_cmds
from ketch.engine import shielded
from ketch.engine.containers import state as S
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.containers.rootfs import INIT_LAYER
from ketch.engine.containers.service import ContainerService
from ketch.engine.images import record
from ketch.engine.images.record import Staged
from ketch.engine.images.service import Image, ImageService, tag_reference

@dataclass(frozen=True)
class CommitRequest:
    container: str
    repo: str = ""
    tag: str = ""
    author: str = ""
    comment: str = ""
    pause: bool = True
    changes: tuple[str, ...] = ()
    config: dict | None = None  # the request body: the config to start from, else the container's


def merge(user: dict, image: dict) -> dict:
    """moby's commit ``merge(userConf, imageConf)``: what the new config lacks comes from
    the container's."""
    out = dict(user)
    if not out.get("User"):
        out["User"] = image.get("User") or ""
    ports = image.get("ExposedPorts")
    if not out.get("ExposedPorts"):
        out["ExposedPorts"] = ports
    elif ports:
        out["ExposedPorts"] = {**ports, **out["ExposedPorts"]}
    if not out.get("Env"):
        out["Env"] = image.get("Env")
    else:
        keys = {e.split("=", 1)[0] for e in out["Env"]}
        out["Env"] = list(out["Env"]) + [e for e in image.get("Env") or [] if e.split("=", 1)[0] not in keys]
    out["Labels"] = {**(image.get("Labels") or {}), **(out.get("Labels") or {})}
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = image.get("Cmd")
            if "ArgsEscaped" in image:
                out["ArgsEscaped"] = image["ArgsEscaped"]
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = image.get("Entrypoint")
    if out.get("Healthcheck") is None and image.get("Healthcheck"):
        out["Healthcheck"] = image["Healthcheck"]
    if not out.get("WorkingDir"):
        out["WorkingDir"] = image.get("WorkingDir") or ""
    if not out.get("Volumes"):
        out["Volumes"] = image.get("Volumes")
    else:
        out["Volumes"] = {**out["Volumes"], **(image.get("Volumes") or {})}
    if not out.get("StopSignal") and image.get("StopSignal"):
        out["StopSignal"] = image["StopSignal"]
    return out


def container_config(rec: ContainerRecord) -> dict:
    """The container's Config as moby keeps it (its hostname and image name filled in)."""
    cfg = dict(rec.config)
    cfg["Hostname"] = cfg.get("Hostname") or rec.id[:12]
    cfg["Image"] = cfg.get("Image") or rec.image
    return cfg


def history_entry(author: str, comment: str, cmd: list[str] | None, created: str, empty: bool) -> dict:
    """moby's NewHistory: created_by is the container's Cmd joined by spaces."""
    entry: dict = {"created": created}
    if author:
        entry["author"] = author
    entry["created_by"] = " ".join(cmd or [])
    if comment:
        entry["comment"] = comment
    if empty:
        entry["empty_layer"] = True
    return entry


def stage_layer(images: ImageService, rec: ContainerRecord) -> Staged:
    """Blocking: the container's layer, walked once, its tar hashed and compressed into a
    blob (``record.stage``), its mount points left out. A paused container waits for the
    tar alone: the layer's files are made from the blob when a container first needs them."""
    return record.stage(images, rec.snapshot, rec.parents, INIT_LAYER)


class Committer:
    def __init__(self, images: ImageService, containers: ContainerService) -> None:
        self.images = images
        self.containers = containers

    async def commit(self, req: CommitRequest) -> str:
        """POST /commit; returns the new image's id."""
        ref = tag_reference(req.repo, req.tag) if req.repo else None  # checked first, as moby's router
        rec = self.containers.get(req.container)
        if rec.status == S.DEAD:
            raise errors.Conflict(f"You cannot commit container {rec.id} which is Dead")
        if rec.status == S.REMOVING:
            raise errors.Conflict(f"You cannot commit container {rec.id} which is being removed")
        base = container_config(rec)
        config = merge(change_cmds.apply(base if req.config is None else req.config, list(req.changes)), base)
        parent = self.images.find(rec.image_id)
        if parent is None:
            raise errors.no_such_image(rec.image_id)
        paused = req.pause and rec.running and not rec.state.paused
        if paused:
            await self.containers.pause(rec.id)
        try:
            try:
                staged = await shielded.uninterrupted(asyncio.to_thread(stage_layer, self.images, rec), self._discard)
            except OSError as exc:  # in Go's words: "open PATH: no space left on device"
                where = f"{exc.filename}: " if exc.filename else ""
                raise errors.Internal(where + (exc.strerror or str(exc)).lower()) from None
        finally:
            if paused:
                try:
                    await self.containers.unpause(rec.id)
                except errors.KetchError:
                    pass  # moby's deferred unpause ignores its error too
        try:
            image_id = self._record(rec, parent, staged, config, req, base)
        finally:
            self.images.release(staged.info.digest)
        if ref is not None:
            self.images.publish(image_id, ref.familiar, "tag", config.get("Labels"))
        self.containers.machine.log(rec, "commit", {"comment": req.comment, "imageID": image_id,
                                                    "imageRef": ref.familiar if ref else ""})
        return image_id

    def _record(self, rec: ContainerRecord, parent: Image, staged: Staged, config: dict,
                req: CommitRequest, base: dict) -> str:
        """The config document and the one transaction (``record.write_image``); on any
        failure the staged layer and the blobs written for it go."""
        created = timefmt.now()
        doc = {
            "architecture": parent.config.get("architecture") or parent.platform.architecture,
            "config": config,
            "container": rec.id,
            "container_config": base,
            "created": created,
            "history": list(parent.config.get("history") or [])
            + [history_entry(req.author, req.comment, base.get("Cmd"), created,
                             not record.adds_layer(staged))],
            "os": parent.config.get("os") or "linux",
        }
        if req.author:
            doc["author"] = req.author
        if parent.config.get("variant"):
            doc["variant"] = parent.config["variant"]
        ref = tag_reference(req.repo, req.tag) if req.repo else None

        def tag(image_id: str) -> None:
            if ref is not None:
                self.images.store.tag(str(ref), image_id)
        return record.write_image(self.images, parent, staged, doc, tag)

    def _discard(self, staged: Staged) -> None:
        """Undo a staged layer that no record names (on the loop thread: the store is read)."""
        record.discard(self.images, staged)
        self.images.release(staged.info.digest)
