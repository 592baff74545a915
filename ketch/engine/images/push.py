"""Push: local -> remote, with Docker's progress messages.

For each tag pushed: "The push refers to repository [NAME]" once, then per layer
(keyed by its diff_id, as moby shows them) "Preparing"; at most N layers at a time
(daemon-wide) ask the registry first (HEAD): "Layer already exists"; else, when the
image came from another repository of the same registry (its RepoDigests say which),
a cross-repository mount: "Mounted from library/busybox"; else the blob is uploaded
("Pushing" with a bar, "Pushed"). The config follows, then the manifest the image was
pulled or made with, byte for byte (so its digest stays), under the tag:
"TAG: digest: sha256:... size: N" and the aux message the docker CLI reads.
"""

import asyncio

from ketch import errors
from ketch.apitypes import progress as prog
from ketch.engine.events import Event
from ketch.engine.images.progress import Reporter
from ketch.engine.images.pull import Emit
from ketch.engine.images.service import Image, ImageService
from ketch.oci import digest as dg
from ketch.oci import mediatypes, reference
from ketch.registry.client import manifest as mf
from ketch.registry.client import remote
from ketch.registry.client.auth import AuthConfig
from ketch.registry.client.manifest import Descriptor
from ketch.registry.client.transport import Session


class Pusher:
    def __init__(self, images: ImageService, session: Session, max_uploads: int = 5) -> None:
        self.images = images
        self.session = session
        self._slots = asyncio.Semaphore(max(1, max_uploads))

    def _targets(self, ref: reference.Reference) -> list[tuple[str, Image]]:
        """(tag, image) to push: the tag asked, or every tag of the repository."""
        prefix = ref.name + ":"
        out = [(t[len(prefix):], self.images.resolve(image_id))
               for t, image_id in sorted(self.images.store.all_tags()) if t.startswith(prefix)]
        if not out:
            raise errors.NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        if ref.tag:
            out = [(tag, image) for tag, image in out if tag == ref.tag]
            if not out:
                raise errors.NotFound(f"tag does not exist: {ref.familiar}")
        return out

    async def push(self, ref: reference.Reference, auth: AuthConfig, emit: Emit) -> None:
        # moby says where it pushes first: a missing image is an error in the stream
        emit(prog.message(f"The push refers to repository [{ref.name}]"))
        targets = self._targets(ref)
        repo = await asyncio.to_thread(remote.open_repository, self.session, ref, auth, True)
        for tag, image in targets:
            await self._push_one(repo, ref, tag, image, emit)

    async def _push_one(self, repo: remote.Repository, ref: reference.Reference, tag: str, image: Image,
                        emit: Emit) -> None:
        content = self.images.content
        manifest_bytes = content.read(image.manifest_digest)
        media_type, parsed = mf.parse(manifest_bytes)
        manifest_bytes, parsed = await self._with_local_blobs(repo, image, manifest_bytes, media_type, parsed)
        diff_ids = image.config["rootfs"]["diff_ids"]
        sources = _mount_sources(image, ref)
        ids = [dg.hexpart(d)[:12] for d in diff_ids]
        for ident in reversed(ids):  # moby lists the top layer first
            emit(prog.status("Preparing", ident))
        jobs = [self._layer(repo, layer, ident, sources, emit)
                for layer, ident in zip(parsed.layers, ids)]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        failure = next((r for r in results if isinstance(r, BaseException)), None)
        if failure is not None:
            raise failure
        config = parsed.config
        if await asyncio.to_thread(repo.blob_exists, config.digest) is None:
            await asyncio.to_thread(self._upload, repo, config.digest, config.size, None, None)
        digest = await asyncio.to_thread(repo.put_manifest, tag, manifest_bytes, media_type)
        store = self.images.store
        with store.transaction():
            store.set_repo_digest(ref.name, image.id, digest)
        emit(prog.message(f"{tag}: digest: {digest} size: {len(manifest_bytes)}"))
        emit(prog.aux({"Tag": tag, "Digest": digest, "Size": len(manifest_bytes)}))
        if self.images.bus is not None:
            name = ref.with_tag(tag)
            self.images.bus.publish(Event("image", "push", name.familiar, {"name": name.familiar_name}))

    async def _with_local_blobs(self, repo: remote.Repository, image: Image, manifest_bytes: bytes,
                                media_type: str, parsed):
        """The manifest to push: the image's own, unless a layer's blob is neither here
        (the layer was already unpacked, from another compression, when the image came)
        nor at the registry; then that layer goes as the blob kept for it, in a new
        manifest (moby compresses such a layer again: the digest changes either way)."""
        content, store = self.images.content, self.images.store
        layers, changed = list(parsed.layers), False
        for i, (layer, chain) in enumerate(zip(parsed.layers, image.chain_ids)):
            if layer.foreign or content.exists(layer.digest):
                continue
            if await asyncio.to_thread(repo.blob_exists, layer.digest) is not None:
                continue
            row = store.get_layer(chain)
            if row is None or not content.exists(row[2]):
                continue  # nothing to send instead: the layer's own error says so
            kind = row[3]
            if media_type == mediatypes.DOCKER_MANIFEST and kind == mediatypes.OCI_LAYER_GZIP:
                kind = mediatypes.DOCKER_LAYER_GZIP
            elif media_type == mediatypes.OCI_MANIFEST and kind == mediatypes.DOCKER_LAYER_GZIP:
                kind = mediatypes.OCI_LAYER_GZIP
            layers[i] = Descriptor(kind, row[2], content.size(row[2]))
            changed = True
        if not changed:
            return manifest_bytes, parsed
        raw = remote.manifest_json(media_type, parsed.config, layers)
        return raw, mf.parse(raw)[1]

    async def _layer(self, repo: remote.Repository, layer: Descriptor, ident: str,
                     sources: list[str], emit: Emit) -> None:
        if layer.foreign:  # never pushed, as Docker does
            emit(prog.status("Skipped foreign layer", ident))
            return
        if self._slots.locked():
            emit(prog.status("Waiting", ident))
        async with self._slots:
            if await asyncio.to_thread(repo.blob_exists, layer.digest) is not None:
                emit(prog.status("Layer already exists", ident))
                return
            upload_url = None
            for source in sources:
                result = await asyncio.to_thread(repo.mount_blob, layer.digest, source)
                if result.mounted:
                    emit(prog.status(f"Mounted from {source}", ident))
                    return
                upload_url = result.upload_url
                break  # the registry opened an upload instead: send the blob there
            if not self.images.content.exists(layer.digest):
                raise errors.NotFound(f"blob {layer.digest} of the image is not in the local store")
            await asyncio.to_thread(self._upload, repo, layer.digest, layer.size, (ident, emit),
                                    upload_url)
            emit(prog.status("Pushed", ident))

    def _upload(self, repo: remote.Repository, digest: str, size: int, shown,
                upload_url: str | None) -> None:
        reporter = None if shown is None else Reporter(shown[1], size, shown[0], "Pushing")
        with open(self.images.content.path(digest), "rb") as f:
            repo.upload_blob(digest, size, f, upload_url=upload_url,
                             on_progress=None if reporter is None else reporter.update)
        if reporter is not None:
            reporter.done()


def _mount_sources(image: Image, target: reference.Reference) -> list[str]:
    """Other repositories of the same registry the image came from or went to."""
    out = []
    for repo_digest in image.repo_digests:
        name = repo_digest.split("@", 1)[0]
        domain, _, path = name.partition("/")
        if domain == target.domain and path != target.path and path not in out:
            out.append(path)
    return out
