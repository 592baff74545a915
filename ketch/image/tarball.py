"""The docker-archive medium: the tar that ``docker save`` writes and ``docker load`` reads.

What ketch writes is what Docker 25+ writes: Docker's ``manifest.json`` beside an OCI
image layout, every file a blob named by its digest, layers uncompressed (a layer's
blob digest is its DiffID)::

    blobs/sha256/<diff_id hex>     a layer tar, uncompressed
    blobs/sha256/<image id hex>    an image config (its digest is the image id)
    blobs/sha256/<hex>             an OCI manifest per image
    index.json                     the manifests, one descriptor per tag, annotated with
                                   io.containerd.image.name (docker.io/library/busybox:latest)
                                   and org.opencontainers.image.ref.name (latest)
    manifest.json                  [{"Config", "RepoTags", "Layers", "LayerSources"}]: paths
                                   of the config and layers inside the archive
    oci-layout                     {"imageLayoutVersion": "1.0.0"}
    repositories                   {"busybox": {"latest": "<top layer's diff_id hex>"}}

Reading takes that, the layout of Docker before 25 (``<v1 id>/layer.tar``, ``<id>.json``,
named by ``manifest.json`` alone; a layer saved twice is a symlink to the first), and an
OCI layout without ``manifest.json`` (names from ``index.json``'s annotations). The
archive's content is untrusted. Nothing of it is written under its own name: every
regular file goes to the caller's ``Spool`` (which hashes it on the way), symlinks and
hard links are kept as a table, and every path the metadata names is resolved in that
table here, with the archive as its root: an absolute path, a ``..`` above the root or a
symlink leading out is refused with an error naming it, never clamped or followed.

Everything streams: a layer is copied in chunks, never held in memory; only the JSON
documents are read whole, up to ``MAX_DOCUMENT`` bytes each.
"""

import io
import json
import posixpath
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Callable, ContextManager, Iterable, Protocol

from ketch.errors import InvalidArgument
from ketch.image.archive import CHUNK, open_decompressed, sniff
from ketch.oci import digest as dg
from ketch.oci import mediatypes
from ketch.oci import platform as platforms
from ketch.oci import reference

MANIFEST = "manifest.json"
REPOSITORIES = "repositories"
INDEX = "index.json"
LAYOUT = "oci-layout"
LAYOUT_CONTENT = b'{"imageLayoutVersion": "1.0.0"}'
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
MAX_DOCUMENT = 32 << 20  # configs and manifests beyond this are not images
MAX_SYMLINKS = 255


def _go_json(doc: object) -> bytes:
    """json.Marshal's bytes for a document whose keys are already in the struct's order."""
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


# -- writing ------------------------------------------------------------------------


@dataclass(frozen=True)
class SaveLayer:
    diff_id: str
    size: int  # bytes of the uncompressed tar
    open: Callable[[], ContextManager[BinaryIO]]  # the uncompressed tar, from its start


@dataclass(frozen=True)
class SaveImage:
    config: bytes  # the raw config; its digest is the image id
    tags: tuple[reference.Reference, ...]  # tagged references, in the order asked for
    layers: tuple[SaveLayer, ...]  # bottom first
    mtime: int  # the image's creation time: its config's and layers' files carry it

    @property
    def id(self) -> str:
        return dg.of_bytes(self.config)


def _blob_path(digest: str) -> str:
    return "blobs/sha256/" + dg.hexpart(digest)


def _oci_manifest(image: SaveImage) -> bytes:
    return _go_json({
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_MANIFEST,
        "config": {"mediaType": mediatypes.OCI_CONFIG, "digest": image.id, "size": len(image.config)},
        "layers": [{"mediaType": mediatypes.OCI_LAYER_TAR, "digest": layer.diff_id, "size": layer.size}
                   for layer in image.layers],
    })


def _documents(images: list[SaveImage]) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(manifest blobs by digest, the top-level files by name) for ``images``."""
    manifests: dict[str, bytes] = {}
    descriptors, items = [], []
    repositories: dict[str, dict[str, str]] = {}
    for image in images:
        data = _oci_manifest(image)
        digest = dg.of_bytes(data)
        manifests[digest] = data
        plain = {"mediaType": mediatypes.OCI_MANIFEST, "digest": digest, "size": len(data)}
        for ref in image.tags:
            repositories.setdefault(ref.familiar_name, {})[ref.tag] = dg.hexpart(image.layers[-1].diff_id)
            descriptors.append({**plain, "annotations": {ANNOTATION_IMAGE_NAME: str(ref),
                                                         ANNOTATION_REF_NAME: ref.tag}})
        if not image.tags:
            descriptors.append(plain)
        item = {
            "Config": _blob_path(image.id),
            "RepoTags": [ref.familiar for ref in image.tags] or None,
            "Layers": [_blob_path(layer.diff_id) for layer in image.layers],
            "LayerSources": {layer.diff_id: {"mediaType": mediatypes.OCI_LAYER_TAR, "size": layer.size,
                                             "digest": layer.diff_id}
                             for layer in sorted(image.layers, key=lambda layer: layer.diff_id)},
        }
        items.append(item)
    top = {
        INDEX: _go_json({"schemaVersion": 2, "mediaType": mediatypes.OCI_INDEX, "manifests": descriptors}),
        MANIFEST: _go_json(items) + b"\n",  # json.Encoder's newline
        LAYOUT: LAYOUT_CONTENT,
    }
    if repositories:
        top[REPOSITORIES] = _go_json(repositories) + b"\n"
    return manifests, top


class _Counted(io.RawIOBase):
    """A layer's stream, refusing to give more or fewer bytes than its header said."""

    def __init__(self, src: BinaryIO, size: int, name: str) -> None:
        self._src, self._left, self._name = src, size, name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._src.read(min(len(buffer), self._left)) if self._left else b""
        if not data and self._left:
            raise InvalidArgument(f"layer {self._name} ended {self._left} bytes early")
        buffer[: len(data)] = data
        self._left -= len(data)
        return len(data)


def write_archive(images: Iterable[SaveImage], out: BinaryIO) -> None:
    """Write ``images`` to ``out`` as Docker 25+ saves them (see the module's docstring).

    Entries come in the order of Docker's walk of its export directory (sorted), a layer
    shared by several images once. ``out`` is not closed.
    """
    images = list(images)
    manifests, top = _documents(images)
    blobs: dict[str, tuple[int, object]] = {}  # hex -> (mtime, bytes or SaveLayer)
    for image in images:
        for layer in image.layers:
            blobs.setdefault(dg.hexpart(layer.diff_id), (image.mtime, layer))
        blobs[dg.hexpart(image.id)] = (image.mtime, image.config)
    for digest, data in manifests.items():
        blobs[dg.hexpart(digest)] = (0, data)
    newest = max((image.mtime for image in images), default=0)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.GNU_FORMAT, copybufsize=CHUNK) as tf:
        for name in ("blobs", "blobs/sha256"):
            tf.addfile(_header(name, tarfile.DIRTYPE, 0, newest))
        for hexname in sorted(blobs):
            mtime, what = blobs[hexname]
            name = "blobs/sha256/" + hexname
            if isinstance(what, SaveLayer):
                with what.open() as src:
                    tf.addfile(_header(name, tarfile.REGTYPE, what.size, mtime),
                               io.BufferedReader(_Counted(src, what.size, what.diff_id), CHUNK))
            else:
                tf.addfile(_header(name, tarfile.REGTYPE, len(what), mtime), io.BytesIO(what))
        for name in sorted(top):
            tf.addfile(_header(name, tarfile.REGTYPE, len(top[name]), 0), io.BytesIO(top[name]))


def _header(name: str, kind: bytes, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = mtime
    info.uname = info.gname = ""
    return info


# -- reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class Staged:
    """A regular file of the archive, copied out by the caller's spool."""
    path: str  # where its bytes are now
    digest: str  # sha256 of them
    size: int


class Spool(Protocol):
    def __call__(self, src: BinaryIO) -> Staged:
        """Copy ``src`` to its end somewhere of the caller's choosing, hashing it."""


@dataclass(frozen=True)
class ArchiveImage:
    config: bytes
    id: str  # the config's digest
    tags: tuple[reference.Reference, ...]  # tagged references, as the archive names them
    layers: tuple[Staged, ...]  # bottom first, one per diff_id of the config

    @property
    def diff_ids(self) -> list[str]:
        return json.loads(self.config)["rootfs"]["diff_ids"]


@dataclass(frozen=True)
class Archive:
    images: tuple[ArchiveImage, ...]
    files: tuple[Staged, ...]  # everything spooled: the caller keeps some, discards the rest


def _bad(message: str) -> InvalidArgument:
    return InvalidArgument(f"invalid archive: {message}")


def _entry_name(name: str) -> str:
    """An entry's name relative to the archive's root; refused if it leaves it."""
    if name.startswith("/"):
        raise _bad(f"entry {name!r} is an absolute path")
    clean = posixpath.normpath(name)
    if clean == ".." or clean.startswith("../"):
        raise _bad(f"entry {name!r} is outside the archive")
    return "" if clean == "." else clean


class _Forward:
    """A stream that tarfile may treat as seekable: ``seek`` goes forward only (skipping),
    and reads return the source's chunks as they came where they fit, without copying."""

    def __init__(self, src: BinaryIO, head: bytes = b"") -> None:
        self._src = src
        self._buf = head  # read from src already
        self._pos = 0  # of the next byte, in the whole stream

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence != 0:
            raise io.UnsupportedOperation("seek from the end of a stream")
        if offset < self._pos:
            raise io.UnsupportedOperation("seek backwards in a stream")
        while offset > self._pos and self._piece(offset - self._pos):
            pass
        return self._pos

    def _piece(self, n: int) -> bytes:
        """Up to ``n`` bytes (n > 0), a whole chunk of the source when it fits; b"" at the end."""
        if not self._buf:
            self._buf = self._src.read(CHUNK)
            if not self._buf:
                return b""
        if n >= len(self._buf):
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        self._pos += len(out)
        return out

    def read(self, n: int = -1) -> bytes:
        """``n`` bytes, fewer only at the end of the stream (as tarfile expects)."""
        if n is None or n < 0:
            n = 1 << 62
        parts = []
        while n > 0 and (piece := self._piece(n)):
            parts.append(piece)
            n -= len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def member(self, size: int) -> "_Member":
        return _Member(self, size)


def _archive_stream(stream: BinaryIO) -> _Forward:
    """The archive's tar: an uncompressed one read as it comes, without copies."""
    head = b""
    while len(head) < 6 and (data := stream.read(6 - len(head))):
        head += data
    if sniff(head) == "tar":
        return _Forward(stream, head)
    return _Forward(open_decompressed(_Forward(stream, head)))


class _Member:
    """The next ``size`` bytes of a ``_Forward``: a file's contents, read in its chunks."""

    def __init__(self, src: _Forward, size: int) -> None:
        self._src = src
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = self._left
        n = min(n, self._left)
        if n <= 0:
            return b""
        piece = self._src._piece(n)
        if not piece:
            raise tarfile.ReadError("unexpected end of data")
        self._left -= len(piece)
        return piece


class _Contents:
    """The archive's names: regular files as spooled, symlinks as a table."""

    def __init__(self) -> None:
        self.files: dict[str, Staged] = {}
        self.links: dict[str, str] = {}
        self.spooled: list[Staged] = []

    def add(self, tf: tarfile.TarFile, member: tarfile.TarInfo, spool: Spool) -> None:
        name = _entry_name(member.name)
        if not name:
            return
        self.files.pop(name, None)  # a later entry replaces an earlier one, as tar does
        self.links.pop(name, None)
        if member.type in (tarfile.REGTYPE, tarfile.AREGTYPE) and isinstance(tf.fileobj, _Forward):
            # the contents follow the header: handed to the spool as they came, uncopied
            staged = spool(tf.fileobj.member(member.size))
            self.spooled.append(staged)
            self.files[name] = staged
        elif member.isreg():
            staged = spool(tf.extractfile(member))
            self.spooled.append(staged)
            self.files[name] = staged
        elif member.issym():
            self.links[name] = member.linkname
        elif member.islnk():
            target = _entry_name(member.linkname)
            if target not in self.files:
                raise _bad(f"hard link {member.name!r} to {member.linkname!r}, not a file before it")
            self.files[name] = self.files[target]
        # directories are implied by the names under them; devices and fifos mean nothing here

    def resolve(self, path: str, where: str) -> Staged:
        """The file ``path`` names, following the archive's symlinks inside it only."""
        if not isinstance(path, str) or not path:
            raise _bad(f"{where} names no file")
        if path.startswith("/"):
            raise _bad(f"{where} names {path!r}, an absolute path")
        pending = path.split("/")
        resolved: list[str] = []
        via = ""  # the last symlink followed, for the message
        links = 0
        while pending:
            part = pending.pop(0)
            if part in ("", "."):
                continue
            if part == "..":
                if not resolved:
                    raise _bad(f"{where} names {path!r}{via}, which leads outside the archive")
                resolved.pop()
                continue
            resolved.append(part)
            link = "/".join(resolved)
            target = self.links.get(link)
            if target is None:
                continue
            links += 1
            if links > MAX_SYMLINKS:
                raise _bad(f"{where} names {path!r}: too many levels of symbolic links")
            via = f" through symlink {link!r} to {target!r}"
            if target.startswith("/"):
                raise _bad(f"{where} names {path!r}{via}, which leads outside the archive")
            resolved.pop()  # a relative target starts from the link's directory
            pending = target.split("/") + pending
        staged = self.files.get("/".join(resolved))
        if staged is None:
            raise _bad(f"{where} names {path!r}, which is not a file in the archive")
        return staged

    def has(self, name: str) -> bool:
        return name in self.files or name in self.links

    def read(self, staged: Staged, where: str) -> bytes:
        if staged.size > MAX_DOCUMENT:
            raise _bad(f"{where} is {staged.size} bytes, more than {MAX_DOCUMENT}")
        with open(staged.path, "rb") as f:
            return f.read()

    def document(self, path: str, where: str) -> tuple[object, Staged]:
        staged = self.resolve(path, where)
        try:
            return json.loads(self.read(staged, where)), staged
        except (ValueError, UnicodeDecodeError) as exc:
            raise _bad(f"failed to decode {where}: {exc}") from None


def read_archive(stream: BinaryIO, spool: Spool) -> Archive:
    """Read an archive from ``stream`` (compressed or not), spooling its files.

    Raises ``InvalidArgument`` for anything that is not a well-formed archive; the
    files spooled so far are then the caller's to discard (its spool knows them).
    """
    contents = _Contents()
    try:
        # tarfile reads the headers of a "seekable" stream that only goes forward; the
        # files' contents bypass it (``_Forward.member``)
        tf = tarfile.open(fileobj=_archive_stream(stream), mode="r:",
                          encoding="utf-8", errors="surrogateescape")
        with tf:
            while (member := tf.next()) is not None:
                del tf.members[:]  # a stream keeps no use for them
                contents.add(tf, member, spool)
    except tarfile.ReadError as exc:
        if str(exc) != "empty file":  # an empty stream is an archive of nothing, as for Go
            raise _untar_error(exc) from exc
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise _untar_error(exc) from exc
    if contents.has(MANIFEST):
        images = _from_manifest(contents)
    elif contents.has(INDEX):
        images = _from_index(contents)
    else:
        raise _bad(f"does not contain a {MANIFEST}")
    return Archive(tuple(images), tuple(contents.spooled))


def _untar_error(exc: BaseException) -> InvalidArgument:
    """moby's words for a tar its untar helper could not read, with Go's reason."""
    text = str(exc)
    if isinstance(exc, EOFError) or text in ("truncated header", "unexpected end of data") \
            or "ended before the end-of-stream marker" in text:
        reason = "unexpected EOF"
    else:
        reason = "archive/tar: invalid tar header"
    return InvalidArgument(f"Error processing tar file(exit status 1): {reason}")


def _config(contents: _Contents, staged: Staged, where: str) -> tuple[bytes, list[str]]:
    config = contents.read(staged, where)
    try:
        doc = json.loads(config)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad(f"failed to decode {where}: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rootfs"), dict):
        raise InvalidArgument("invalid image JSON, no RootFS key")
    diff_ids = doc["rootfs"].get("diff_ids") or []
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        raise _bad(f"{where}: rootfs.diff_ids is not a list of digests")
    for diff_id in diff_ids:
        try:
            dg.validate(diff_id)
        except InvalidArgument:
            raise _bad(f"{where}: invalid diff_id {diff_id!r}") from None
    os_name = doc.get("os") or "linux"
    if os_name != "linux":
        raise InvalidArgument(f"cannot load {os_name} image on linux")
    return config, diff_ids


def _tag(text: object) -> reference.Reference:
    if not isinstance(text, str):
        raise _bad(f"tag {text!r} is not a string")
    ref = reference.parse(text)  # a bad one raises Docker's message
    if ref.digest or not ref.tag:
        raise InvalidArgument(f"invalid tag {text!r}")
    return ref


def _from_manifest(contents: _Contents) -> list[ArchiveImage]:
    doc, _ = contents.document(MANIFEST, MANIFEST)
    if doc is None:
        raise InvalidArgument("invalid manifest, manifest cannot be null (but can be [])")
    if not isinstance(doc, list) or not all(isinstance(item, dict) for item in doc):
        raise _bad(f"failed to decode {MANIFEST}: not a list of objects")
    images = []
    for n, item in enumerate(doc):
        where = f"{MANIFEST} item {n}"
        staged = contents.resolve(item.get("Config"), f"{where} Config")
        config, diff_ids = _config(contents, staged, f"the config {item.get('Config')!r}")
        layers = item.get("Layers") or []
        if not isinstance(layers, list):
            raise _bad(f"{where}: Layers is not a list")
        if len(layers) != len(diff_ids):
            raise InvalidArgument(f"invalid manifest, layers length mismatch: expected "
                                  f"{len(layers)}, got {len(diff_ids)}")
        repo_tags = item.get("RepoTags") or []
        if not isinstance(repo_tags, list):
            raise _bad(f"{where}: RepoTags is not a list")
        images.append(ArchiveImage(
            config, staged.digest, tuple(_tag(t) for t in repo_tags),
            tuple(contents.resolve(path, f"{where} layer {i}") for i, path in enumerate(layers))))
    return images


def _blob(contents: _Contents, descriptor: object, where: str) -> Staged:
    """The blob a descriptor points at, checked against its digest."""
    if not isinstance(descriptor, dict):
        raise _bad(f"{where} is not a descriptor")
    digest = descriptor.get("digest")
    try:
        dg.validate(digest if isinstance(digest, str) else "")
    except InvalidArgument:
        raise _bad(f"{where} has an invalid digest {digest!r}") from None
    staged = contents.resolve(_blob_path(digest), where)
    if staged.digest != digest:
        raise _bad(f"blob {digest} does not match its digest (got {staged.digest})")
    return staged


def _from_index(contents: _Contents) -> list[ArchiveImage]:
    index, _ = contents.document(INDEX, INDEX)
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise _bad(f"failed to decode {INDEX}: no manifests")
    by_id: dict[str, ArchiveImage] = {}
    for n, descriptor in enumerate(index["manifests"]):
        where = f"{INDEX} manifest {n}"
        manifest_blob = _pick_manifest(contents, descriptor, where)
        manifest = json.loads(contents.read(manifest_blob, where))
        if not isinstance(manifest, dict):
            raise _bad(f"{where} is not a manifest")
        config_blob = _blob(contents, manifest.get("config"), f"{where} config")
        config, diff_ids = _config(contents, config_blob, f"{where} config")
        layers = manifest.get("layers") or []
        if not isinstance(layers, list) or len(layers) != len(diff_ids):
            raise InvalidArgument(f"invalid manifest, layers length mismatch: expected "
                                  f"{len(layers) if isinstance(layers, list) else 0}, got {len(diff_ids)}")
        staged = tuple(_blob(contents, d, f"{where} layer {i}") for i, d in enumerate(layers))
        tags = _index_tags(descriptor)
        known = by_id.get(config_blob.digest)
        if known is not None:
            tags = known.tags + tuple(t for t in tags if t not in known.tags)
        by_id[config_blob.digest] = ArchiveImage(config, config_blob.digest, tags, staged)
    return list(by_id.values())


def _pick_manifest(contents: _Contents, descriptor: object, where: str, depth: int = 0) -> Staged:
    """An image manifest's blob; for an index, that of the host's platform."""
    staged = _blob(contents, descriptor, where)
    media_type = descriptor.get("mediaType")
    if media_type not in (mediatypes.OCI_INDEX, mediatypes.DOCKER_MANIFEST_LIST):
        return staged
    if depth > 4:
        raise _bad(f"{where}: indexes nested too deep")
    index = json.loads(contents.read(staged, where))
    host = platforms.Platform("linux", platforms.host_arch())
    for i, child in enumerate(index.get("manifests") or []):
        p = child.get("platform") if isinstance(child, dict) else None
        if isinstance(p, dict) and host.matches(platforms.Platform(p.get("os", ""), p.get("architecture", ""),
                                                                   p.get("variant", ""))):
            return _pick_manifest(contents, child, f"{where} manifest {i}", depth + 1)
    raise InvalidArgument(f"{where}: no manifest for platform {host}")


def _index_tags(descriptor: dict) -> tuple[reference.Reference, ...]:
    """The name an OCI layout gives a manifest: containerd's image name annotation, else
    a ref.name that is a whole reference (a bare tag names no repository)."""
    annotations = descriptor.get("annotations") or {}
    if not isinstance(annotations, dict):
        return ()
    name = annotations.get(ANNOTATION_IMAGE_NAME)
    if not name:
        ref_name = annotations.get(ANNOTATION_REF_NAME) or ""
        name = ref_name if isinstance(ref_name, str) and any(c in ref_name for c in ":/") else ""
    if not name:
        return ()
    try:
        return (_tag(name),)
    except InvalidArgument:
        return ()
