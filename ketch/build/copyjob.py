"""COPY and ADD as the builder hands them to the file code: a ``CopyJob`` and the
``FileWork`` that hashes its sources and writes them.

The builder decides everything about the step (the words expanded, the destination
made absolute against WORKDIR, which image ``--from`` names, whose ownership applies);
``FileWork`` does the file work in two parts, because the cache is probed between them:

    hash(job)  -> "file:<sha256>" | "dir:<sha256>" | "multi:<sha256>"   before the probe:
                  goes into the history ("COPY file:... in /dest ") and so the cache key;
                  raises Docker's errors (a source not found, several sources and a dest
                  that is not a directory)
    edit(job)  -> a function of MountedRoots that writes the sources into the new root;
                  run by the backend's mutate only on a cache miss

The default implementation (``build.copyfiles``) uses ``build.context`` and
``build.copier``; tests pass their own.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ketch.build.backend import MountedRoots
from ketch.build.instructions import Heredoc


@dataclass(frozen=True)
class CopyJob:
    kind: str  # "COPY" or "ADD"
    sources: tuple[str, ...]  # expanded, as written (relative to the context or image root)
    dest: str  # absolute in the image (WORKDIR applied), a trailing "/" kept
    context_dir: str | None  # the build context on the daemon (None: no context)
    from_image: str = ""  # COPY --from: the id of the image whose root the sources are in
    heredocs: tuple[Heredoc, ...] = ()  # inline files, content already expanded
    chown: str = ""  # expanded; user[:group], names looked up in the image's passwd/group
    chmod: str = ""
    preserve_ownership: bool = False  # --from without --chown keeps the source's owners
    decompress: bool = False  # ADD: local tar archives are extracted
    checksum: str = ""  # ADD --checksum for URL sources
    keep_git_dir: bool = False
    excludes: tuple[str, ...] = ()
    parents: bool = False
    link: bool = False


class FileWork(Protocol):
    def hash(self, job: CopyJob, from_root: int | None = None) -> str:
        """The content hash of the job's sources (moby's ``file:``/``dir:``/``multi:``);
        ``from_root``: the ``--from`` image's root (an O_PATH directory descriptor)."""

    def edit(self, job: CopyJob) -> Callable[[MountedRoots], None]:
        """What ``BuildBackend.mutate`` runs to copy the sources into the new root."""
