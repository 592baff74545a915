"""Pull: remote -> local, with Docker's progress messages.

For each tag (or the digest) asked::

    manifest (an index picks the platform's) ─▶ config blob ─▶ per layer, bottom first:
        its chain id known?  "Already exists"
        else "Pulling fs layer", downloaded ≤ N at a time (daemon-wide), each blob
        streamed once through pulled.ingest (stored as pulled, unpacked, both digests
        checked) into a new snapshot; its layer row written at once, leased
    ─▶ one transaction: image (config), tag, repo digest ─▶ "Digest:", "Status:"

A pull that fails leaves no image and no tag: the layers it recorded belong to no image
and go at the next garbage collection (leases keep them only while it runs). A
concurrent pull of the same image waits for the download under way instead of starting
its own (``_inflight``, by chain id). After a crash, layers already recorded are
"Already exists" for the next pull, which completes the rest.

Everything touching SQLite runs on the event loop; downloads run in threads.
"""

import asyncio
import json
import time
from typing import Callable

from ketch import errors
from ketch.apitypes import progress as prog
from ketch.engine.events import Event
from ketch.engine.images import manifests
from ketch.engine.images.remote import Credentials, Registries, Repository
from ketch.engine.images.service import ImageService
from ketch.image import pulled
from ketch.oci import digest as dg
from ketch.oci import platform as platforms
from ketch.oci import reference

Emit = Callable[[dict], None]  # thread-safe
PROGRESS_INTERVAL = 0.1  # seconds between two "Downloading" messages of a layer


def short(digest: str) -> str:
    return dg.hexpart(digest)[:12]


class Puller:
    def __init__(self, images: ImageService, registries: Registries, max_downloads: int = 3) -> None:
        self.images = images
        self.registries = registries
        self._slots = asyncio.Semaphore(max(1, max_downloads))
        self._inflight: dict[str, asyncio.Future] = {}  # chain id -> its download under way

    async def pull(self, ref: reference.Reference, all_tags: bool, platform: str | None,
                   auth: Credentials, emit: Emit) -> None:
        """``ref`` is a tag or digest reference, or a bare name with ``all_tags``."""
        want = platforms.parse(platform) if platform else None
        repo = await asyncio.to_thread(self.registries.repository, ref, auth)
        if all_tags:
            tags = await asyncio.to_thread(repo.tags)
            newer = False
            for tag in sorted(tags):
                newer |= await self._pull_one(repo, ref.with_tag(tag), tag, want, emit)
            emit(prog.status(_status(newer, reference.Reference(ref.domain, ref.path).familiar)))
            return
        newer = await self._pull_one(repo, ref, ref.digest or ref.tag, want, emit)
        emit(prog.status(_status(newer, ref.familiar)))

    async def _pull_one(self, repo: Repository, ref: reference.Reference, wanted: str,
                        want: platforms.Platform | None, emit: Emit) -> bool:
        """One tag or digest; True when it changed what ``ref`` names locally."""
        top = await asyncio.to_thread(repo.manifest, wanted)
        if ref.digest and top.digest != ref.digest:
            raise errors.InvalidArgument(f"manifest verification failed for digest {ref.digest}")
        manifest = top
        if manifests.is_index(top):
            chosen = manifests.select_platform(top, want or manifests.default_platform())
            manifest = await asyncio.to_thread(repo.manifest, chosen)
            if manifest.digest != chosen:
                raise errors.InvalidArgument(f"manifest verification failed for digest {chosen}")
        image = manifests.parse_image_manifest(manifest)
        emit(prog.status(f"Pulling from {ref.familiar_name}", wanted))
        config_bytes = await asyncio.to_thread(_read_small_blob, repo, image.config_digest,
                                               image.config_size)
        config = manifests.parse_config(config_bytes, image)
        if want is not None and not manifests.is_index(top):
            manifests.check_platform(ref.familiar, config, want)
        diff_ids = config["rootfs"]["diff_ids"]
        chains = dg.chain_ids(diff_ids)
        store = self.images.store
        jobs = []
        for i, layer in enumerate(image.layers):
            if store.get_layer(chains[i]) is not None:
                emit(prog.status("Already exists", short(layer.digest)))
            else:
                emit(prog.status("Pulling fs layer", short(layer.digest)))
                jobs.append(self._layer(repo, layer, chains[i], chains[i - 1] if i else None,
                                        diff_ids[i], emit))
        leased = set(chains)
        self.images._leases.update(leased)
        try:
            results = await asyncio.gather(*jobs, return_exceptions=True)
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            if failure is not None:
                raise failure
            return self._commit(ref, top, manifest, config_bytes, image, chains, emit)
        finally:
            self.images._leases.difference_update(leased)

    async def _layer(self, repo: Repository, layer: manifests.Descriptor, chain: str,
                     parent: str | None, diff_id: str, emit: Emit) -> None:
        ident = short(layer.digest)
        running = self._inflight.get(chain)
        if running is not None:  # another pull is fetching it: wait for that one
            emit(prog.status("Waiting", ident))
            await asyncio.shield(running)
            emit(prog.status("Pull complete", ident))
            return
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        done.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no warning
        self._inflight[chain] = done
        try:
            if self._slots.locked():
                emit(prog.status("Waiting", ident))
            async with self._slots:
                if self.images.store.get_layer(chain) is None:
                    await self._download(repo, layer, chain, parent, diff_id, emit)
            emit(prog.status("Pull complete", ident))
            done.set_result(None)
        except BaseException as exc:
            done.set_exception(exc)
            raise
        finally:
            del self._inflight[chain]

    async def _download(self, repo: Repository, layer: manifests.Descriptor, chain: str,
                        parent: str | None, diff_id: str, emit: Emit) -> None:
        ident = short(layer.digest)
        snapshots = self.images.snapshots
        snapshot = snapshots.new()
        state = {"n": 0, "at": 0.0}

        def on_bytes(n: int) -> None:
            state["n"] += n
            now = time.monotonic()
            if now - state["at"] >= PROGRESS_INTERVAL:
                state["at"] = now
                emit(prog.progress("Downloading", ident, state["n"], layer.size))

        def fetch() -> pulled.PulledLayer:
            with repo.open_blob(layer.digest, layer.size) as stream:
                return pulled.ingest(stream, self.images.content, snapshots.fs(snapshot),
                                     layer.digest, diff_id, on_bytes)
        self.images._leases.add(layer.digest)
        try:
            info = await asyncio.to_thread(fetch)
        except BaseException:
            snapshots.remove(snapshot)
            raise
        emit(prog.progress("Downloading", ident, layer.size, layer.size))
        emit(prog.status("Verifying Checksum", ident))
        emit(prog.status("Download complete", ident))
        emit(prog.progress("Extracting", ident, layer.size, layer.size))
        store = self.images.store
        with store.transaction():
            store.put_layer(chain, diff_id, info.digest, layer.media_type, parent, snapshot, info.size)
        if store.get_layer(chain)[5] != snapshot:  # recorded meanwhile by someone else
            snapshots.remove(snapshot)

    def _commit(self, ref: reference.Reference, top, manifest, config_bytes: bytes,
                image: manifests.ImageManifest, chains: list[str], emit: Emit) -> bool:
        images, store = self.images, self.images.store
        content = images.content
        config_digest = content.put(config_bytes)
        content.put(manifest.data)
        if top is not manifest:
            content.put(top.data)
        size = sum(store.get_layer(c)[6] for c in chains)
        created = json.loads(config_bytes).get("created") or "0001-01-01T00:00:00Z"
        before = store.resolve_tag(str(ref)) if ref.tag and not ref.digest else \
            store.resolve_repo_digest(ref.name, top.digest)
        with store.transaction():
            store.put_image(config_digest, config_bytes, manifest.digest, created, size)
            if ref.tag and not ref.digest:
                store.tag(str(ref), config_digest)
            store.set_repo_digest(ref.name, config_digest, top.digest)
        emit(prog.status(f"Digest: {top.digest}"))
        if images.bus is not None:  # moby: the pulled reference names the event
            images.bus.publish(Event("image", "pull", ref.familiar, {"name": ref.familiar_name}))
        return before != config_digest


def _status(newer: bool, name: str) -> str:
    if newer:
        return f"Status: Downloaded newer image for {name}"
    return f"Status: Image is up to date for {name}"


def _read_small_blob(repo: Repository, digest: str, size: int) -> bytes:
    if size > manifests.MAX_CONFIG_SIZE:
        raise errors.InvalidArgument(f"config blob {digest} is too large ({size} bytes)")
    parts, total = [], 0
    with repo.open_blob(digest, size) as stream:
        while total <= manifests.MAX_CONFIG_SIZE and (piece := stream.read(1 << 16)):
            parts.append(piece)
            total += len(piece)
    data = b"".join(parts)
    if len(data) > manifests.MAX_CONFIG_SIZE:
        raise errors.InvalidArgument(f"config blob {digest} is too large")
    if dg.of_bytes(data) != digest:
        raise errors.InvalidArgument(f"image config verification failed for digest {digest}")
    return data
