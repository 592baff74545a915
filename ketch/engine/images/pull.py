"""Pull: remote -> local, with Docker's progress messages.

For each tag (or the digest) asked::

    manifest (an index picks the platform's) ─▶ config blob ─▶ per layer, bottom first:
        its chain id known?  "Already exists"
        else "Pulling fs layer", downloaded ≤ N at a time (daemon-wide), each blob
        streamed once through image/pulled.ingest (stored as pulled, unpacked, both
        digests checked) into a new snapshot; its layer row written at once, leased
    ─▶ one transaction: image (config), tag, repo digest ─▶ "Digest:", "Status:"

A pull that fails leaves no image and no tag: the layers it recorded belong to no image
and go at the next garbage collection (leases keep them only while it runs). A
concurrent pull of the same image waits for the download under way instead of starting
its own (``_inflight``, by chain id). After a crash, layers already recorded are
"Already exists" for the next pull, which completes the rest.

Everything touching SQLite runs on the event loop; registry I/O runs in threads.
"""

import asyncio
import json
import threading
from typing import Callable

from ketch import errors
from ketch.apitypes import progress as prog
from ketch.engine.events import Event
from ketch.engine.images.progress import Reporter
from ketch.engine.images.service import ImageService
from ketch.image import pulled
from ketch.oci import digest as dg
from ketch.oci import platform as platforms
from ketch.oci import reference
from ketch.registry.client import apierror, platforms as selection, remote
from ketch.registry.client.auth import AuthConfig
from ketch.registry.client.manifest import Descriptor, ImageManifest, Manifest
from ketch.registry.client.transport import Session

Emit = Callable[[dict], None]  # thread-safe


def short(digest: str) -> str:
    return dg.hexpart(digest)[:12]


def translate(exc: BaseException, ref: reference.Reference) -> BaseException:
    """moby's translatePullError: the registry's first error, named after the reference."""
    if isinstance(exc, apierror.RegistryError) and exc.codes:
        code, text = exc.codes[0], str(exc).split("; ")[0]
        if code == "MANIFEST_UNKNOWN":
            return errors.NotFound(f"manifest for {ref.familiar} not found: {text}")
        if code == "DENIED":
            return errors.NotFound(f"pull access denied for {ref.familiar_name}, repository does "
                                   f"not exist or may require 'docker login': {text}")
        if code == "NAME_UNKNOWN":
            return errors.NotFound(f"repository {ref.familiar_name} not found: {text}")
    return exc


class Puller:
    def __init__(self, images: ImageService, session: Session, max_downloads: int = 3) -> None:
        self.images = images
        self.session = session
        self._slots = asyncio.Semaphore(max(1, max_downloads))
        self._inflight: dict[str, asyncio.Future] = {}  # chain id -> its download under way

    def _lease(self, keys: set[str]) -> None:
        """Keep chain ids and blobs from the garbage collector until ``_release``: a pull's
        layers are recorded before its image, which alone makes them live."""
        self.images.lease(*keys)

    def _release(self, keys: set[str]) -> None:
        self.images.release(*keys)

    async def pull(self, ref: reference.Reference, all_tags: bool, platform: str | None,
                   auth: AuthConfig, emit: Emit) -> None:
        """``ref`` is a tag or digest reference, or a bare name with ``all_tags``."""
        want = platforms.parse(platform) if platform else None
        try:
            repo = await asyncio.to_thread(remote.open_repository, self.session, ref, auth)
            if all_tags:
                tags = await asyncio.to_thread(repo.list_tags)
                newer = False
                for tag in sorted(tags):
                    newer |= await self._pull_one(repo, ref.with_tag(tag), tag, want, emit)
                emit(prog.message(_status(newer, ref.familiar_name)))
                return
            newer = await self._pull_one(repo, ref, ref.digest or ref.tag, want, emit)
        except Exception as exc:  # noqa: BLE001 - reworded, then raised again
            raise translate(exc, ref) from None
        emit(prog.message(_status(newer, ref.familiar)))

    async def _pull_one(self, repo: remote.Repository, ref: reference.Reference, wanted: str,
                        want: platforms.Platform | None, emit: Emit) -> bool:
        """One tag or digest; True when it changed what ``ref`` names locally."""
        top = await asyncio.to_thread(repo.get_manifest, wanted)
        manifest = top
        if top.is_index:
            entry = selection.select(top.document, want)
            manifest = await asyncio.to_thread(repo.get_manifest, entry.digest, entry)
            if manifest.is_index:
                raise errors.InvalidArgument(f"manifest {entry.digest} is an index inside an index")
        image: ImageManifest = manifest.document
        emit(prog.message(f"Pulling from {ref.path}", wanted))  # moby: the path, library/busybox
        config_bytes = await asyncio.to_thread(repo.fetch_blob, image.config)
        config = _parse_config(config_bytes, image)
        if want is not None and not top.is_index:
            _check_platform(ref.familiar, config, want)
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
        leased = set(chains) | {layer.digest for layer in image.layers} | {image.config.digest}
        self._lease(leased)
        try:
            results = await asyncio.gather(*jobs, return_exceptions=True)
            failure = next((r for r in results if isinstance(r, BaseException)), None)
            if failure is not None:
                raise failure
            return self._commit(ref, top, manifest, config_bytes, chains, emit)
        finally:
            self._release(leased)

    async def _layer(self, repo: remote.Repository, layer: Descriptor, chain: str,
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
        except asyncio.CancelledError:
            done.cancel()
            raise
        except BaseException as exc:
            done.set_exception(exc)
            raise
        finally:
            del self._inflight[chain]

    async def _download(self, repo: remote.Repository, layer: Descriptor, chain: str,
                        parent: str | None, diff_id: str, emit: Emit) -> None:
        ident = short(layer.digest)
        snapshots = self.images.snapshots
        snapshot = snapshots.new()
        stop = threading.Event()
        reporter = Reporter(emit, layer.size, ident, "Downloading")

        def on_progress(done: int) -> None:
            if stop.is_set():
                raise errors.Unavailable("pull cancelled")
            reporter.update(done)

        def fetch() -> pulled.PulledLayer:
            with repo.open_blob(layer, on_progress=on_progress) as stream:
                return pulled.ingest(pulled.ChunkReader(stream), self.images.content,
                                     snapshots.fs(snapshot), layer.digest, diff_id,
                                     verifies_itself=True)
        work = asyncio.ensure_future(asyncio.to_thread(fetch))
        try:
            info = await asyncio.shield(work)
        except asyncio.CancelledError:
            # the client went away: the thread stops at its next piece, and its snapshot
            # goes only once nothing writes into it any more
            stop.set()
            await asyncio.wait({work})
            if not work.cancelled():
                work.exception()  # moot now (a blob it stored goes at the next GC)
            snapshots.remove(snapshot)
            raise
        except BaseException:
            snapshots.remove(snapshot)
            raise
        reporter.done()
        emit(prog.status("Verifying Checksum", ident))
        emit(prog.status("Download complete", ident))
        emit(prog.progress("Extracting", ident, layer.size, layer.size))
        store = self.images.store
        with store.transaction():
            store.put_layer(chain, diff_id, info.digest, layer.media_type, parent, snapshot, info.size)
        if store.get_layer(chain)[5] != snapshot:  # recorded meanwhile by another pull
            snapshots.remove(snapshot)

    def _commit(self, ref: reference.Reference, top: Manifest, manifest: Manifest,
                config_bytes: bytes, chains: list[str], emit: Emit) -> bool:
        images, store = self.images, self.images.store
        content = images.content
        config_digest = content.put(config_bytes)
        content.put(manifest.raw)
        if top is not manifest:
            content.put(top.raw)
        size = sum(store.get_layer(c)[6] for c in chains)
        created = json.loads(config_bytes).get("created") or "0001-01-01T00:00:00Z"
        tagged = bool(ref.tag and not ref.digest)
        before = store.resolve_tag(str(ref)) if tagged else store.resolve_repo_digest(ref.name, top.digest)
        with store.transaction():
            store.put_image(config_digest, config_bytes, manifest.digest, created, size)
            if tagged:
                store.tag(str(ref), config_digest)
            store.set_repo_digest(ref.name, config_digest, top.digest)
        emit(prog.message(f"Digest: {top.digest}"))
        if images.bus is not None:  # moby: the pulled reference names the event
            images.bus.publish(Event("image", "pull", ref.familiar, {"name": ref.familiar_name}))
        return before != config_digest


def _status(newer: bool, name: str) -> str:
    if newer:
        return f"Status: Downloaded newer image for {name}"
    return f"Status: Image is up to date for {name}"


def _parse_config(data: bytes, image: ImageManifest) -> dict:
    try:
        config = json.loads(data)
    except ValueError as exc:
        raise errors.InvalidArgument(f"invalid image config: {exc}") from None
    diff_ids = ((config.get("rootfs") or {}).get("diff_ids")) if isinstance(config, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(image.layers):
        raise errors.InvalidArgument("layers from manifest don't match image configuration")
    return config


def _check_platform(ref: str, config: dict, want: platforms.Platform) -> None:
    have = platforms.Platform(config.get("os") or "linux", config.get("architecture") or "",
                              config.get("variant") or "")
    if not want.matches(have):
        raise errors.NotFound(f"image with reference {ref} was found but does not match the "
                              f"specified platform: wanted {want}, actual: {have}")
