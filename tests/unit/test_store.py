"""engine/store.py's meta rows: what the daemon used to read and write with its own SQL."""

from ketch.engine.store import Store


def test_embedded_image_is_remembered_across_opens(tmp_path):
    path = str(tmp_path / "ketch.db")
    store = Store(path)
    assert store.embedded_image() is None
    store.set_embedded_image("sha256:aa")
    store.set_embedded_image("sha256:bb")  # replaced, not duplicated
    store.close()
    again = Store(path)
    assert again.embedded_image() == "sha256:bb"
    again.close()


def test_repo_digests_table_appears_in_an_old_database(tmp_path):
    import sqlite3
    path = str(tmp_path / "old.db")
    db = sqlite3.connect(path)  # a data root from before the table existed
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                     "INSERT INTO meta VALUES ('schema_version', '1');"
                     "CREATE TABLE images (id TEXT PRIMARY KEY, config BLOB NOT NULL, "
                     "manifest_digest TEXT NOT NULL, created TEXT NOT NULL, size INTEGER NOT NULL);")
    db.close()
    store = Store(path)
    with store.transaction():
        store.put_image("sha256:aa", b"{}", "sha256:m", "2026-01-01T00:00:00Z", 0)
        store.set_repo_digest("localhost:5000/app", "sha256:aa", "sha256:d1")
        store.set_repo_digest("localhost:5000/app", "sha256:aa", "sha256:d2")  # the latest wins
        store.set_repo_digest("docker.io/library/app", "sha256:aa", "sha256:d3")
    assert store.repo_digests_of("sha256:aa") == ["docker.io/library/app@sha256:d3",
                                                  "localhost:5000/app@sha256:d2"]
    assert store.resolve_repo_digest("localhost:5000/app", "sha256:d2") == "sha256:aa"
    assert store.resolve_repo_digest("localhost:5000/app", "sha256:d1") is None
    with store.transaction():
        store.delete_image("sha256:aa")
    assert store.repo_digests_of("sha256:aa") == []
    store.close()
