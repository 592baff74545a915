"""What a crash can leave without an owner, swept when ketchd starts.

``create`` makes a container's writable snapshot and data directory before its record
is committed, and an image import unpacks layers before the transaction that records
them: a ``kill -9`` in between leaves files nobody refers to. Nothing is in flight while
ketchd starts, so at start-up anything that no record (container or layer) names is an
orphan: a snapshot no container or layer uses, a container data directory without a
record.
"""

import logging
import os

from ketch.engine.containers.bundle import Paths
from ketch.engine.containers.records import Registry
from ketch.engine.store import Store
from ketch.linux.fstree import remove_tree
from ketch.storage.overlay import OverlaySnapshotter

log = logging.getLogger("ketchd.gc")


def sweep_orphans(store: Store, registry: Registry, snapshots: OverlaySnapshotter,
                  paths: Paths) -> list[str]:
    """Remove orphaned snapshots and container directories; returns what was removed."""
    removed = []
    known = {rec.snapshot for rec in registry.all()}
    known |= {snapshot for _chain, _parent, snapshot, _digest in store.all_layers()}
    for name in snapshots.names():
        if name not in known:
            snapshots.remove(name)
            removed.append(f"snapshot {name}")
    for root in (os.path.join(paths.data_root, "containers"), os.path.join(paths.exec_root, "containers")):
        for cid in os.listdir(root) if os.path.isdir(root) else []:
            if cid not in registry.by_id:
                remove_tree(os.path.join(root, cid))
                removed.append(f"container directory {os.path.join(root, cid)}")
    for what in removed:
        log.info("removed an orphan left by a crash: %s", what)
    return removed
