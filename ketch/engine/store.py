"""The daemon's metadata: one SQLite database in WAL mode, ``<data-root>/ketch.db``.

Schema, version 1::

    meta(key PRIMARY KEY, value)                      schema_version, embedded_busybox
    layers(chain_id PRIMARY KEY, diff_id, digest,     one unpacked layer: its snapshot dir,
           media_type, parent, snapshot, size)        compressed blob digest and content size
    images(id PRIMARY KEY, config, manifest_digest,   id is the config digest; config the raw
           created, size)                             JSON bytes whose digest the id is
    tags(reference PRIMARY KEY, image_id)             "docker.io/library/busybox:latest" -> id
    image_meta(id PRIMARY KEY, parent,                what moby keeps beside an image: the
               last_tag_time)                         image a commit was made on, when last tagged
    containers(id PRIMARY KEY, name UNIQUE, doc)      doc: a ContainerRecord as JSON
    repo_digests(repository, image_id, digest)        "localhost:5000/app" -> the manifest digest
                                                      it was pulled or pushed as (RepoDigests);
                                                      one per repository and image

Version 2 adds, for networks::

    networks(id PRIMARY KEY, name UNIQUE, doc)        doc: a network.model.Network as JSON
    endpoints(id PRIMARY KEY, network_id,             a running container's attachment; its
              container_id, doc)                      address is taken while the row exists

Version 3 adds, for volumes::

    volumes(name PRIMARY KEY, doc)                    doc: a volume.model.Volume as JSON
                                                      (its data: volume/local.py)

Version 4 adds, for the builder (``engine/builds/cache.py``)::

    build_cache(key PRIMARY KEY, image_id,            a build step's cache key -> the image it
                created, last_used, usage_count)      made (moby's classic cache: intermediate
                                                      images); goes with its image (CASCADE)

Blobs and unpacked layers live on disk (``image/content.py``, ``storage/``); a row is
written only after its files are complete, in one transaction, so a crash or a failed
import leaves the database as it was. Used from the event-loop thread only.

The database and its ``-wal`` and ``-shm`` hold every container's environment
(passwords included): they are ``MODE`` (0600), which SQLite copies from the database
file to the other two.
"""

import json
import os
import sqlite3

from ketch import timefmt
from ketch.linux import filemode

SCHEMA_VERSION = 4
MODE = 0o600


def files(path: str) -> tuple[str, str, str]:
    """The database at ``path`` and the files SQLite keeps beside it in WAL mode."""
    return path, f"{path}-wal", f"{path}-shm"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS layers (
    chain_id TEXT PRIMARY KEY, diff_id TEXT NOT NULL, digest TEXT NOT NULL,
    media_type TEXT NOT NULL, parent TEXT, snapshot TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY, config BLOB NOT NULL, manifest_digest TEXT NOT NULL,
    created TEXT NOT NULL, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tags (
    reference TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id));
CREATE TABLE IF NOT EXISTS image_meta (
    id TEXT PRIMARY KEY REFERENCES images(id) ON DELETE CASCADE, parent TEXT,
    last_tag_time TEXT);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repo_digests (
    repository TEXT NOT NULL, image_id TEXT NOT NULL, digest TEXT NOT NULL,
    PRIMARY KEY (repository, image_id));
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (
    id TEXT PRIMARY KEY, network_id TEXT NOT NULL REFERENCES networks(id),
    container_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS volumes (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY, image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    created TEXT NOT NULL, last_used TEXT, usage_count INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS build_cache_image ON build_cache (image_id);
"""


class Store:
    def __init__(self, path: str) -> None:
        try:
            os.close(filemode.create(path, MODE))  # before SQLite makes it with the umask's
        except FileExistsError:
            pass
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode loses nothing when the process dies; only a power cut
        # can drop the last transactions.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise RuntimeError(f"database schema {row[0]} is newer than this ketchd ({SCHEMA_VERSION})")
        # Versions 1 -> 2 -> 3 -> 4 only added tables (and 4 an index), which the script
        # above made: an older database is migrated by running it.
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.db.close()

    def transaction(self):
        return _Transaction(self.db)

    # -- meta -------------------------------------------------------------------
    def embedded_image(self) -> str | None:
        """The id of the embedded busybox image once it was built for this data root."""
        row = self.db.execute("SELECT value FROM meta WHERE key='embedded_busybox'").fetchone()
        return row[0] if row else None

    def set_embedded_image(self, image_id: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('embedded_busybox', ?)", (image_id,))

    # -- layers -----------------------------------------------------------------
    def get_layer(self, chain_id: str) -> sqlite3.Row | None:
        cur = self.db.execute("SELECT chain_id, diff_id, digest, media_type, parent, snapshot, size "
                              "FROM layers WHERE chain_id=?", (chain_id,))
        return cur.fetchone()

    def put_layer(self, chain_id: str, diff_id: str, digest: str, media_type: str,
                  parent: str | None, snapshot: str, size: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO layers VALUES (?,?,?,?,?,?,?)",
                        (chain_id, diff_id, digest, media_type, parent, snapshot, size))

    def delete_layer(self, chain_id: str) -> None:
        self.db.execute("DELETE FROM layers WHERE chain_id=?", (chain_id,))

    def all_layers(self) -> list[tuple]:
        return self.db.execute("SELECT chain_id, parent, snapshot, digest FROM layers").fetchall()

    # -- images -----------------------------------------------------------------
    def get_image(self, image_id: str) -> tuple | None:
        return self.db.execute("SELECT id, config, manifest_digest, created, size FROM images "
                               "WHERE id=?", (image_id,)).fetchone()

    def find_images_by_prefix(self, prefix: str) -> list[str]:
        rows = self.db.execute("SELECT id FROM images WHERE id >= ? AND id < ?",
                               (prefix, prefix + "\x7f")).fetchall()
        return [r[0] for r in rows]

    def put_image(self, image_id: str, config: bytes, manifest_digest: str, created: str,
                  size: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO images VALUES (?,?,?,?,?)",
                        (image_id, config, manifest_digest, created, size))

    def delete_image(self, image_id: str) -> None:
        self.db.execute("DELETE FROM repo_digests WHERE image_id=?", (image_id,))
        self.db.execute("DELETE FROM images WHERE id=?", (image_id,))

    def all_images(self) -> list[tuple]:
        return self.db.execute("SELECT id, config, manifest_digest, created, size FROM images").fetchall()

    # -- tags -------------------------------------------------------------------
    def tag(self, reference: str, image_id: str) -> str | None:
        """Point ``reference`` at ``image_id``; returns the image it pointed at before."""
        row = self.db.execute("SELECT image_id FROM tags WHERE reference=?", (reference,)).fetchone()
        self.db.execute("INSERT OR REPLACE INTO tags VALUES (?,?)", (reference, image_id))
        self.db.execute("INSERT INTO image_meta (id, last_tag_time) VALUES (?, ?) "
                        "ON CONFLICT(id) DO UPDATE SET last_tag_time=excluded.last_tag_time",
                        (image_id, timefmt.now()))
        return row[0] if row else None

    def untag(self, reference: str) -> None:
        self.db.execute("DELETE FROM tags WHERE reference=?", (reference,))

    def resolve_tag(self, reference: str) -> str | None:
        row = self.db.execute("SELECT image_id FROM tags WHERE reference=?", (reference,)).fetchone()
        return row[0] if row else None

    def tags_of(self, image_id: str) -> list[str]:
        rows = self.db.execute("SELECT reference FROM tags WHERE image_id=? ORDER BY reference",
                               (image_id,)).fetchall()
        return [r[0] for r in rows]

    def set_parent(self, image_id: str, parent: str) -> None:
        self.db.execute("INSERT INTO image_meta (id, parent) VALUES (?, ?) "
                        "ON CONFLICT(id) DO UPDATE SET parent=excluded.parent", (image_id, parent))

    def image_meta(self, image_id: str) -> tuple[str, str]:
        """(parent image id, last tag time); empty strings when unknown."""
        row = self.db.execute("SELECT parent, last_tag_time FROM image_meta WHERE id=?",
                              (image_id,)).fetchone()
        return (row[0] or "", row[1] or "") if row else ("", "")

    def children(self, image_id: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT id FROM image_meta WHERE parent=?", (image_id,))]

    def all_tags(self) -> list[tuple[str, str]]:
        return self.db.execute("SELECT reference, image_id FROM tags").fetchall()

    # -- repository digests -----------------------------------------------------
    def set_repo_digest(self, repository: str, image_id: str, digest: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO repo_digests VALUES (?,?,?)",
                        (repository, image_id, digest))

    def delete_repo_digest(self, repository: str, image_id: str) -> None:
        self.db.execute("DELETE FROM repo_digests WHERE repository=? AND image_id=?",
                        (repository, image_id))

    def repo_digests_of(self, image_id: str) -> list[str]:
        """``repository@digest`` of an image, sorted."""
        rows = self.db.execute("SELECT repository, digest FROM repo_digests WHERE image_id=? "
                               "ORDER BY repository", (image_id,)).fetchall()
        return [f"{r[0]}@{r[1]}" for r in rows]

    def resolve_repo_digest(self, repository: str, digest: str) -> str | None:
        row = self.db.execute("SELECT image_id FROM repo_digests WHERE repository=? AND digest=?",
                              (repository, digest)).fetchone()
        return row[0] if row else None

    # -- containers -------------------------------------------------------------
    def put_container(self, cid: str, name: str, doc: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO containers VALUES (?,?,?)",
                        (cid, name, json.dumps(doc)))

    def delete_container(self, cid: str) -> None:
        self.db.execute("DELETE FROM containers WHERE id=?", (cid,))

    def all_containers(self) -> list[dict]:
        return [json.loads(r[0]) for r in self.db.execute("SELECT doc FROM containers")]

    # -- networks -------------------------------------------------------------------
    def put_network(self, nid: str, name: str, doc: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO networks VALUES (?,?,?)", (nid, name, json.dumps(doc)))

    def delete_network(self, nid: str) -> None:
        self.db.execute("DELETE FROM networks WHERE id=?", (nid,))

    def all_networks(self) -> list[dict]:
        return [json.loads(r[0]) for r in self.db.execute("SELECT doc FROM networks")]

    def put_endpoint(self, eid: str, network_id: str, container_id: str, doc: dict) -> None:
        # an update keeps the row's place (REPLACE would move it last): the endpoints read
        # back after a restart are in the order they were made, which says whose network
        # gives the container its default route (the first that routes out)
        self.db.execute("INSERT INTO endpoints VALUES (?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                        "network_id=excluded.network_id, container_id=excluded.container_id, "
                        "doc=excluded.doc", (eid, network_id, container_id, json.dumps(doc)))

    def delete_endpoint(self, eid: str) -> None:
        self.db.execute("DELETE FROM endpoints WHERE id=?", (eid,))

    def all_endpoints(self) -> list[dict]:
        return [json.loads(r[0]) for r in self.db.execute("SELECT doc FROM endpoints ORDER BY rowid")]

    # -- volumes --------------------------------------------------------------------
    def put_volume(self, name: str, doc: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO volumes VALUES (?,?)", (name, json.dumps(doc)))

    def delete_volume(self, name: str) -> None:
        self.db.execute("DELETE FROM volumes WHERE name=?", (name,))

    def all_volumes(self) -> list[dict]:
        return [json.loads(r[0]) for r in self.db.execute("SELECT doc FROM volumes ORDER BY rowid")]

    # -- build cache ----------------------------------------------------------------
    def put_cache_entry(self, key: str, image_id: str, created: str) -> None:
        """Record (or point again) ``key`` at ``image_id``; a new entry is unused so far."""
        self.db.execute("INSERT INTO build_cache (key, image_id, created) VALUES (?,?,?) "
                        "ON CONFLICT(key) DO UPDATE SET image_id=excluded.image_id, "
                        "created=excluded.created, last_used=NULL, usage_count=0",
                        (key, image_id, created))

    def get_cache_entry(self, key: str) -> tuple | None:
        """(key, image id, created, last used or None, usage count)."""
        return self.db.execute("SELECT key, image_id, created, last_used, usage_count FROM build_cache "
                               "WHERE key=?", (key,)).fetchone()

    def use_cache_entry(self, key: str, when: str) -> None:
        self.db.execute("UPDATE build_cache SET last_used=?, usage_count=usage_count+1 WHERE key=?",
                        (when, key))

    def delete_cache_entry(self, key: str) -> None:
        self.db.execute("DELETE FROM build_cache WHERE key=?", (key,))

    def cache_keys_of(self, image_id: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT key FROM build_cache WHERE image_id=?", (image_id,))]

    def all_cache_entries(self) -> list[tuple]:
        return self.db.execute("SELECT key, image_id, created, last_used, usage_count FROM build_cache "
                               "ORDER BY created").fetchall()



class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
