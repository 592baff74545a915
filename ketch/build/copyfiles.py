"""``FileWork`` over ``build.context`` (finding and hashing sources) and ``build.copier``
(writing them): what a real build's COPY and ADD do.

    hash(job)   sources resolved in the context (globs, links kept inside it) and hashed
                as moby does; several sources need a directory destination
    edit(job)   in the backend's thread, on the mounted roots: the owner (--chown through
                the image's own /etc/passwd and /etc/group; COPY --from keeps the source's
                owners), then the copy, then the heredoc files

A ``COPY --from`` image's root is mounted only for the edit, so its sources cannot be
hashed beforehand: their hash is taken over the image id and the words instead. An
image never changes under its id, so equal hashes still mean equal files (and another
image, even with the same files, misses the cache, where moby would hit it).
"""

import hashlib
import os
import tempfile
from collections.abc import Callable

from ketch.build import context, copier
from ketch.build.backend import MountedRoots
from ketch.build.copyjob import CopyJob

_DIR = os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC


class ContextFiles:
    def __init__(self) -> None:
        self._resolved: dict[CopyJob, list[context.Source]] = {}

    def hash(self, job: CopyJob) -> str:
        if job.from_image:
            words = "\0".join((job.from_image, *job.sources))
            hashes = ["file:" + hashlib.sha256(words.encode("utf-8", "surrogateescape")).hexdigest()]
            count = len(job.sources)
        else:
            sources = self._sources(job)
            hashes = [s.hash for s in sources]
            count = len(sources)
        hashes += [_heredoc_hash(h.name, h.content) for h in job.heredocs]
        context.check_destination(job.kind, count + len(job.heredocs), job.dest)
        if len(hashes) == 1:
            return hashes[0]
        return "multi:" + hashlib.sha256(",".join(hashes).encode()).hexdigest()

    def _sources(self, job: CopyJob) -> list[context.Source]:
        if not job.sources:
            return []
        if job not in self._resolved:
            with _Root(job.context_dir) as root_fd:
                self._resolved[job] = context.resolve_sources(root_fd, job.sources, job.kind)
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
            elif sources:
                with _Root(job.context_dir) as src_fd:
                    copier.copy_sources(src_fd, sources, dest_fd, job.dest, options)
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

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.tmp: tempfile.TemporaryDirectory | None = None
        self.fd = -1

    def __enter__(self) -> int:
        if self.path is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="ketch-nocontext-")
            self.fd = os.open(self.tmp.name, _DIR)
        else:
            self.fd = os.open(self.path, _DIR)
        return self.fd

    def __exit__(self, *exc) -> None:
        os.close(self.fd)
        if self.tmp is not None:
            self.tmp.cleanup()
