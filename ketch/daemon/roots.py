"""ketchd's two roots: their fixed paths and modes, made and repaired at start-up.

Each owner sets the modes of what it creates (the store, the content store, the
snapshotter, the bundles). What an older ketchd made, or a hand loosened, is put right
here, before anything opens it: ``ketch.db-wal`` holds every container's environment.
Only the fixed paths are repaired, never the entries below them: a directory another
user cannot enter protects all it holds, and a start-up that walked every container
and blob would slow down as they grow. moby's modes (``setupDaemonRoot``, image store,
``create.go``)::

    <data-root>/                  0710
        ketch.db{,-wal,-shm}      0600  (engine/store)
        ketchd.lock               0600
        events.jsonl              0600  (engine/eventlog: the /events replay ring)
        content/ blobs/ sha256/   0700  (image/content)
        content/ingest/           0700
        snapshots/                0700  (storage/overlay)
        containers/               0710  (engine/containers/bundle)
        volumes/                  0701  (volume/local)
        builder/                  0700  (engine/builds/contexts, engine/builds/cachemounts,
                                        downloads/: build/copyfiles)
    <exec-root>/                  0711  holds the API socket by default, which the
                                        socket's group must reach
        containers/               0710
        runtime/                  0700
"""

import logging
import os
import stat
from dataclasses import dataclass

from ketch.engine import eventlog, store
from ketch.engine.containers.bundle import Paths
from ketch.image import content
from ketch.linux import filemode
from ketch.storage import overlay
from ketch.volume import local

log = logging.getLogger("ketchd")

DATA_ROOT_MODE = 0o710
EXEC_ROOT_MODE = 0o711
PARENTS_MODE = 0o711  # of the roots' missing parents, as moby's MkdirAll
LOCK_MODE = 0o600
BUILDER_MODE = 0o700  # build contexts and RUN --mount=type=cache directories


@dataclass(frozen=True)
class Roots:
    data_root: str
    exec_root: str

    @property
    def db(self) -> str:
        return os.path.join(self.data_root, "ketch.db")

    @property
    def lock(self) -> str:
        return os.path.join(self.data_root, "ketchd.lock")

    @property
    def events(self) -> str:
        return os.path.join(self.data_root, eventlog.FILE)

    @property
    def content(self) -> str:
        return os.path.join(self.data_root, "content")

    @property
    def snapshots(self) -> str:
        return os.path.join(self.data_root, "snapshots")

    @property
    def volumes(self) -> str:
        return os.path.join(self.data_root, "volumes")

    @property
    def builder(self) -> str:
        return os.path.join(self.data_root, "builder")

    def modes(self) -> list[tuple[str, int]]:
        """Every fixed path with its mode, parents before children."""
        return [
            (self.data_root, DATA_ROOT_MODE), (self.exec_root, EXEC_ROOT_MODE),
            (self.lock, LOCK_MODE), (self.events, eventlog.MODE),
            *((path, store.MODE) for path in store.files(self.db)),
            *((os.path.normpath(os.path.join(self.content, d)), content.DIR_MODE)
              for d in content.DIRS),
            (self.snapshots, overlay.ROOT_MODE),
            (self.volumes, local.ROOT_MODE),
            (self.builder, BUILDER_MODE),
            *Paths(self.data_root, self.exec_root).dirs,
        ]


def make(roots: Roots) -> None:
    """Create the two roots if they are missing."""
    filemode.makedirs(roots.data_root, DATA_ROOT_MODE, PARENTS_MODE)
    filemode.makedirs(roots.exec_root, EXEC_ROOT_MODE, PARENTS_MODE)


def repair(roots: Roots) -> list[str]:
    """Set the mode of every fixed path that exists with another; returns those paths.
    Symlinks are followed: a root may be one (``/var/lib/ketch -> /srv/ketch``)."""
    changed = []
    for path, mode in roots.modes():
        try:
            was = stat.S_IMODE(os.stat(path).st_mode)
        except FileNotFoundError:
            continue
        if was != mode:
            os.chmod(path, mode)
            log.info("mode of %s repaired: %04o -> %04o", path, was, mode)
            changed.append(path)
    return changed
