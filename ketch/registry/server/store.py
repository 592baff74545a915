"""The registry's content on a StorageDriver, in distribution's own layout, so a directory
docker-registry wrote can be served by ketch and the other way round::

    docker/registry/v2/
      blobs/sha256/<2 hex>/<hex>/data                    every blob and manifest, by digest
      repositories/<name>/
        _layers/sha256/<hex>/link                        "sha256:<hex>": a blob of this repository
        _manifests/revisions/sha256/<hex>/link           a manifest of this repository
        _manifests/tags/<tag>/current/link               what the tag points at
        _manifests/tags/<tag>/index/sha256/<hex>/link    what it ever pointed at
        _uploads/<uuid>/data, startedat                  an upload in progress

A blob lands in blobs/ by rename of its upload's file once its digest checked out;
links and manifests are written whole and atomically (the driver's put_content), links
last, so a crash leaves at worst an unreferenced blob for the garbage collector.
"""

from __future__ import annotations

import datetime
import hashlib
import uuid
from typing import BinaryIO

from ketch.registry.server import errcodes
from ketch.registry.server.drivers import FileWriter, PathNotFound, StorageDriver
from ketch.registry.server.errcodes import RegistryError
from ketch.registry.server.names import Digest, InvalidDigest

ROOT = "docker/registry/v2"
_READ = 1 << 20


def blob_path(digest: Digest) -> str:
    return f"{ROOT}/blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}/data"


def _repo(name: str) -> str:
    return f"{ROOT}/repositories/{name}"


def _layer_link(name: str, digest: Digest) -> str:
    return f"{_repo(name)}/_layers/{digest.algorithm}/{digest.hex}/link"


def _revision_link(name: str, digest: Digest) -> str:
    return f"{_repo(name)}/_manifests/revisions/{digest.algorithm}/{digest.hex}/link"


def _tag_dir(name: str, tag: str) -> str:
    return f"{_repo(name)}/_manifests/tags/{tag}"


def _upload_dir(name: str, upload: str) -> str:
    return f"{_repo(name)}/_uploads/{upload}"


class Store:
    """Blobs, uploads, manifests and tags of every repository."""

    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver
        # upload id -> (hash of what it holds, its size): PATCHes hash as they write, so
        # the final PUT need not read the blob again (a restart loses it: then we do)
        self._hashes: dict[str, tuple[object, int]] = {}

    # links

    def _read_link(self, path: str) -> Digest | None:
        try:
            return Digest.parse(self.driver.get_content(path).decode().strip())
        except (PathNotFound, InvalidDigest, UnicodeDecodeError):
            return None

    def _write_link(self, path: str, digest: Digest) -> None:
        self.driver.put_content(path, str(digest).encode())

    def _exists(self, path: str) -> bool:
        try:
            self.driver.stat(path)
            return True
        except PathNotFound:
            return False

    # blobs

    def blob_size(self, digest: Digest) -> int | None:
        try:
            return self.driver.stat(blob_path(digest)).size
        except PathNotFound:
            return None

    def stat_blob(self, name: str, digest: Digest) -> int:
        """The size of a blob of this repository; BLOB_UNKNOWN if it is not one."""
        size = self.blob_size(digest) if self._exists(_layer_link(name, digest)) else None
        if size is None:
            raise RegistryError(errcodes.BLOB_UNKNOWN, str(digest))
        return size

    def open_blob(self, digest: Digest, offset: int = 0) -> BinaryIO:
        return self.driver.reader(blob_path(digest), offset)

    def read_blob(self, digest: Digest) -> bytes:
        return self.driver.get_content(blob_path(digest))

    def link_blob(self, name: str, digest: Digest) -> None:
        self._write_link(_layer_link(name, digest), digest)

    def unlink_blob(self, name: str, digest: Digest) -> None:
        try:
            self.driver.delete(f"{_repo(name)}/_layers/{digest.algorithm}/{digest.hex}")
        except PathNotFound:
            raise RegistryError(errcodes.BLOB_UNKNOWN) from None

    def mount_blob(self, name: str, source: str, digest: Digest) -> bool:
        """Link a blob of repository source into name; False if source lacks it."""
        try:
            self.stat_blob(source, digest)
        except RegistryError:
            return False
        self.link_blob(name, digest)
        return True

    # uploads

    def start_upload(self, name: str) -> str:
        upload = str(uuid.uuid4())
        started = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        self.driver.put_content(f"{_upload_dir(name, upload)}/startedat", started.encode())
        self.driver.writer(f"{_upload_dir(name, upload)}/data").close()
        self._hashes[upload] = (hashlib.sha256(), 0)
        return upload

    def upload_size(self, name: str, upload: str) -> int:
        try:
            return self.driver.stat(f"{_upload_dir(name, upload)}/data").size
        except (PathNotFound, ValueError):  # ValueError: an id that is no path component
            raise RegistryError(errcodes.BLOB_UPLOAD_UNKNOWN) from None

    def upload_writer(self, name: str, upload: str) -> tuple[FileWriter, object | None]:
        """An appending writer and the running hash of what the upload holds (None if
        lost); give both back with upload_written()."""
        size = self.upload_size(name, upload)
        state = self._hashes.pop(upload, None)
        hasher = state[0] if state is not None and state[1] == size else None
        return self.driver.writer(f"{_upload_dir(name, upload)}/data", append=True), hasher

    def upload_written(self, upload: str, writer: FileWriter, hasher: object | None) -> None:
        size = writer.size
        writer.close()
        if hasher is not None:
            self._hashes[upload] = (hasher, size)

    def finish_upload(self, name: str, upload: str, digest: Digest) -> int:
        """Check the upload against digest, move it into place and link it; returns its
        size. DIGEST_INVALID cancels the upload, as distribution does."""
        data = f"{_upload_dir(name, upload)}/data"
        size = self.upload_size(name, upload)
        state = self._hashes.pop(upload, None)
        if state is not None and state[1] == size and state[0].name == digest.algorithm:
            actual = state[0].hexdigest()
        else:
            hasher = digest.hasher()
            with self.driver.reader(data) as f:
                while chunk := f.read(_READ):
                    hasher.update(chunk)
            actual = hasher.hexdigest()
        if actual != digest.hex:
            self.cancel_upload(name, upload)
            raise RegistryError(errcodes.DIGEST_INVALID, f"digest {digest} does not match the content")
        if self.blob_size(digest) is None:
            self.driver.move(data, blob_path(digest))
        self.link_blob(name, digest)
        self.driver.delete(_upload_dir(name, upload))
        return size

    def cancel_upload(self, name: str, upload: str) -> None:
        self._hashes.pop(upload, None)
        try:
            self.driver.delete(_upload_dir(name, upload))
        except (PathNotFound, ValueError):
            raise RegistryError(errcodes.BLOB_UPLOAD_UNKNOWN) from None

    def uploads(self, name: str) -> list[tuple[str, datetime.datetime | None]]:
        """The uploads in progress in a repository and when each started (None: unknown)."""
        out = []
        for upload in self._list(f"{_repo(name)}/_uploads"):
            try:
                text = self.driver.get_content(f"{_upload_dir(name, upload)}/startedat").decode()
                started = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            except (PathNotFound, ValueError, UnicodeDecodeError):
                started = None
            out.append((upload, started))
        return out

    def put_blob(self, data: bytes, digest: Digest) -> None:
        """A small blob (a manifest) written whole, unless it is there already."""
        if self.blob_size(digest) is None:
            self.driver.put_content(blob_path(digest), data)

    # manifests and tags

    def has_manifest(self, name: str, digest: Digest) -> bool:
        return self._exists(_revision_link(name, digest)) and self.blob_size(digest) is not None

    def tag_digest(self, name: str, tag: str) -> Digest | None:
        return self._read_link(f"{_tag_dir(name, tag)}/current/link")

    def resolve(self, name: str, reference: str) -> Digest:
        """The digest a tag or digest reference names in this repository; MANIFEST_UNKNOWN if none."""
        if ":" in reference:
            digest = Digest.parse(reference)
            if not self.has_manifest(name, digest):
                raise RegistryError(errcodes.MANIFEST_UNKNOWN, {"Name": name, "Revision": reference})
            return digest
        digest = self.tag_digest(name, reference)
        if digest is None or self.blob_size(digest) is None:
            raise RegistryError(errcodes.MANIFEST_UNKNOWN, {"Tag": reference})
        return digest

    def put_manifest(self, name: str, digest: Digest, data: bytes, tag: str | None) -> None:
        self.put_blob(data, digest)
        self._write_link(_revision_link(name, digest), digest)
        if tag is not None:
            self._write_link(f"{_tag_dir(name, tag)}/index/{digest.algorithm}/{digest.hex}/link", digest)
            self._write_link(f"{_tag_dir(name, tag)}/current/link", digest)

    def delete_manifest(self, name: str, digest: Digest) -> None:
        """Remove a revision and every tag that points at it."""
        if not self._exists(_revision_link(name, digest)):
            raise RegistryError(errcodes.MANIFEST_UNKNOWN)
        for tag in self.tags(name):
            if self.tag_digest(name, tag) == digest:
                self.driver.delete(_tag_dir(name, tag))
        self.driver.delete(f"{_repo(name)}/_manifests/revisions/{digest.algorithm}/{digest.hex}")

    def delete_tag(self, name: str, tag: str) -> None:
        if self.tag_digest(name, tag) is None:
            raise RegistryError(errcodes.MANIFEST_UNKNOWN)
        self.driver.delete(_tag_dir(name, tag))

    def tags(self, name: str) -> list[str]:
        try:
            names = self.driver.list(f"{_repo(name)}/_manifests/tags")
        except (PathNotFound, ValueError):
            return []
        return [tag for tag in names if self.tag_digest(name, tag) is not None]

    def revisions(self, name: str) -> list[Digest]:
        return self._links(f"{_repo(name)}/_manifests/revisions")

    def layers(self, name: str) -> list[Digest]:
        return self._links(f"{_repo(name)}/_layers")

    def _links(self, base: str) -> list[Digest]:
        """The digests linked under ``base``/<algorithm>/<encoded>/link (distribution's layout)."""
        out = []
        for algorithm in self._list(base):
            for encoded in self._list(f"{base}/{algorithm}"):
                digest = self._read_link(f"{base}/{algorithm}/{encoded}/link")
                if digest is not None:
                    out.append(digest)
        return out

    def repository_exists(self, name: str) -> bool:
        return self._exists(f"{_repo(name)}/_manifests") or self._exists(f"{_repo(name)}/_layers")

    def repositories(self) -> list[str]:
        """Every repository name, in lexical order (distribution's catalog order)."""
        found: list[str] = []

        def walk(prefix: str) -> None:
            children = self._list(f"{ROOT}/repositories/{prefix}".rstrip("/"))
            if prefix and ("_manifests" in children or "_layers" in children):
                found.append(prefix.rstrip("/"))
            for child in children:
                if not child.startswith("_"):
                    walk(f"{prefix}{child}/")
        walk("")
        return sorted(found)

    def blobs(self) -> list[Digest]:
        out = []
        base = f"{ROOT}/blobs"
        for algorithm in self._list(base):
            for prefix in self._list(f"{base}/{algorithm}"):
                for encoded in self._list(f"{base}/{algorithm}/{prefix}"):
                    try:
                        out.append(Digest.parse(f"{algorithm}:{encoded}"))
                    except InvalidDigest:
                        continue
        return out

    def delete_blob(self, digest: Digest) -> None:
        self.driver.delete(blob_path(digest).rpartition("/")[0])

    def _list(self, path: str) -> list[str]:
        try:
            return self.driver.list(path)
        except PathNotFound:
            return []
