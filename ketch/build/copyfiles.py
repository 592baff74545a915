"""``FileWork`` over ``build.context`` (finding and hashing sources) and ``build.copier``
(writing them): what a real build's COPY and ADD do.

    hash(job)   sources resolved in the context (globs, links kept inside it) and hashed
                as moby does; several sources need a directory destination
    edit(job)   in the backend's thread, on the mounted roots: the owner (--chown through
                the image's own /etc/passwd and /etc/group; COPY --from keeps the source's
                owners), then the copy, then the heredoc files

``ADD <url>`` sources are downloaded when hashed (moby downloads them on every build to
hash them), into a directory of this object's under ``scratch`` (the daemon's
``<data-root>/builder/downloads``, swept at start-up: never the host's /tmp), removed by
``close`` at the build's end; a URL in COPY is refused with moby's text.

A ``COPY --from`` image's sources are hashed in its root (``from_root``, mounted by the
backend's ``read_root``) as moby hashes another image's files, so a stage rebuilt with
the same files hits the cache and the history's ``file:`` is dockerd's. Without a root
(a backend that cannot mount one) the hash is taken over the image id and the words:
equal hashes still mean equal files, but another image with the same files misses.
"""

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable

from ketch.build import context, copier, remote
from ketch.build.backend import MountedRoots
from ketch.build.copyjob import CopyJob
from ketch.errors import InvalidArgument

_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


DOWNLOADS_PREFIX = "downloads-"


class ContextFiles:
    def __init__(self, scratch: str | None = None) -> None:
        # per job, in the words' order: (the directory of a download, or None for the
        # context; the source)
        self._resolved: dict[CopyJob, list[tuple[str | None, context.Source]]] = {}
        self._scratch = scratch  # None: the system's temp dir (a build without a daemon)
        self._downloads = ""

    def _download_dir(self) -> str:
        if not self._downloads:
            self._downloads = tempfile.mkdtemp(prefix=DOWNLOADS_PREFIX, dir=self._scratch)
        return self._downloads

    def close(self) -> None:
        """Blocking: the build's downloads removed."""
        if self._downloads:
            shutil.rmtree(self._downloads, ignore_errors=True)
            self._downloads = ""

    def hash(self, job: CopyJob, from_root: int | None = None) -> str:
        if job.from_image and from_root is not None:
            found = context.resolve_sources(from_root, job.sources, job.kind, in_context=False) \
                if job.sources else []
            hashes = [s.hash for s in found]
            count = len(found)
        elif job.from_image:
            words = "\0".join((job.from_image, *job.sources))
            hashes = ["file:" + hashlib.sha256(words.encode("utf-8", "surrogateescape")).hexdigest()]
            count = len(job.sources)
        else:
            sources = self._sources(job)
            hashes = [s.hash for _, s in sources]
            count = len(sources)
        hashes += [_heredoc_hash(h.name, h.content) for h in job.heredocs]
        context.check_destination(job.kind, count + len(job.heredocs), job.dest)
        if len(hashes) == 1:
            return hashes[0]
        return "multi:" + hashlib.sha256(",".join(hashes).encode()).hexdigest()

    def _sources(self, job: CopyJob) -> list[tuple[str | None, context.Source]]:
        if not job.sources:
            return []
        if job not in self._resolved:
            found: list[tuple[str | None, context.Source]] = []
            with _Root(job.context_dir, self._scratch) as root_fd:
                for word in job.sources:
                    if not remote.is_url(word):
                        found += [(None, s) for s in context.resolve_word(root_fd, word, job.kind)]
                    elif job.kind != "ADD":
                        raise InvalidArgument(f"{job.kind} failed: source can't be a URL for COPY")
                    else:
                        got = remote.download(word, self._download_dir(), job.dest, job.checksum)
                        found.append((got.directory, got.source))
            if not found:
                raise InvalidArgument(f"{job.kind} failed: no source files were specified")
            self._resolved[job] = found
        return self._resolved[job]

    def edit(self, job: CopyJob) -> Callable[[MountedRoots], None]:
        sources = [] if job.from_image else self._sources(job)

        def run(roots: MountedRoots) -> None:
            dest_fd = roots.root
            if job.chown:
                owner = copier.resolve_chown(dest_fd, job.chown)
            else:
                owner = None if job.preserve_ownership else copier.ROOT
            options = copier.CopyOptions(
                owner=owner, chmod=copier.parse_chmod(job.chmod) if job.chmod else None,
                decompress=job.decompress, excludes=job.excludes, parents=job.parents)
            if job.from_image:
                src_fd = roots.sources[job.from_image]
                found = context.resolve_sources(src_fd, job.sources, job.kind, in_context=False) \
                    if job.sources else []
                context.check_destination(job.kind, len(found) + len(job.heredocs), job.dest)
                copier.copy_sources(src_fd, found, dest_fd, job.dest, options)
            for where, source in sources:
                with _Root(job.context_dir if where is None else where) as src_fd:
                    copier.copy_sources(src_fd, [source], dest_fd, job.dest, options)
            for heredoc in job.heredocs:
                copier.write_heredoc(dest_fd, job.dest, heredoc.name,
                                     heredoc.content.encode("utf-8", "surrogateescape"), options)
        return run


def _heredoc_hash(name: str, content: str) -> str:
    data = f"{name}\0{content}".encode("utf-8", "surrogateescape")
    return "file:" + hashlib.sha256(data).hexdigest()


class _Root:
    """The context directory as a descriptor; no context: an empty one, so sources are
    "not found in build context" with moby's text."""

    def __init__(self, path: str | None, scratch: str | None = None) -> None:
        self.path = path
        self.scratch = scratch  # where the empty one is made (swept as the downloads are)
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.fd = -1

    def __enter__(self) -> int:
        if self.path is None:
            self.tmp = tempfile.TemporaryDirectory(prefix=DOWNLOADS_PREFIX + "nocontext-", dir=self.scratch)
            self.fd = os.open(self.tmp.name, _DIR)
        else:
            self.fd = os.open(self.path, _DIR)
        return self.fd

    def __exit__(self, *exc) -> None:
        os.close(self.fd)
        if self.tmp is not None:
            self.tmp.cleanup()
