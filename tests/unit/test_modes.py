"""The modes of what ketchd makes, whatever its umask, and the start-up repair of its roots.

Each owner is tried under the laxest umask (0: nothing may come out more open than
asked) and the strictest (077: nothing may come out closer, or a container's non-root
user loses its /etc/hosts and its /).
"""

import os
import stat

import pytest

from ketch.daemon import roots
from ketch.engine.containers.bundle import Paths
from ketch.engine.store import Store
from ketch.image.content import ContentStore
from ketch.linux import filemode
from ketch.linux.atomic import write_file
from ketch.storage.overlay import OverlaySnapshotter


@pytest.fixture(params=[0, 0o077], ids=["umask0", "umask077"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_filemode_gives_exactly_the_mode_asked_for(tmp_path, umask):
    filemode.makedirs(str(tmp_path / "a" / "b" / "c"), 0o710, parents=0o711)
    assert [_mode(tmp_path / p) for p in ("a", "a/b", "a/b/c")] == [0o711, 0o711, 0o710]
    filemode.mkdir(str(tmp_path / "d"), 0o755)
    os.close(filemode.create(str(tmp_path / "f"), 0o644))
    write_file(str(tmp_path / "w"), b"x", 0o644)
    assert [_mode(tmp_path / p) for p in ("d", "f", "w")] == [0o755, 0o644, 0o644]


def test_filemode_leaves_what_exists_alone(tmp_path):
    (tmp_path / "a").mkdir(0o755)
    (tmp_path / "f").write_bytes(b"mine")
    os.chmod(tmp_path / "a", 0o755)
    filemode.makedirs(str(tmp_path / "a"), 0o700)
    assert _mode(tmp_path / "a") == 0o755
    with pytest.raises(FileExistsError):
        filemode.create(str(tmp_path / "f"), 0o600)
    with pytest.raises(FileExistsError):
        filemode.makedirs(str(tmp_path / "f"), 0o700)


def test_the_database_and_its_wal_are_the_daemons_alone(tmp_path, umask):
    path = str(tmp_path / "ketch.db")
    store = Store(path)
    store.set_embedded_image("sha256:aa")  # something in the WAL
    try:
        assert {name: _mode(tmp_path / name) for name in os.listdir(tmp_path)} == {
            "ketch.db": 0o600, "ketch.db-wal": 0o600, "ketch.db-shm": 0o600}
    finally:
        store.close()


def test_content_store_dirs_and_blobs(tmp_path, umask):
    store = ContentStore(str(tmp_path / "content"))
    digest = store.put(b"a layer")
    got = {p: _mode(tmp_path / "content" / p) for p in ("", "blobs", "blobs/sha256", "ingest")}
    assert got == {"": 0o700, "blobs": 0o700, "blobs/sha256": 0o700, "ingest": 0o700}
    assert _mode(store.path(digest)) == 0o600


def test_snapshots_keep_a_containers_root_traversable(tmp_path, umask):
    snaps = OverlaySnapshotter(str(tmp_path / "snapshots"))
    name = snaps.new(writable=True)
    base = tmp_path / "snapshots"
    assert [_mode(base), _mode(base / name), _mode(base / name / "fs"),
            _mode(base / name / "work")] == [0o700, 0o710, 0o755, 0o700]


def _old_root(tmp_path) -> roots.Roots:
    """A root as ketch left it before: readable by all, the entries below as loose."""
    r = roots.Roots(str(tmp_path / "data"), str(tmp_path / "exec"))
    for path, _mode_ in r.modes():
        if path.endswith(("ketch.db", "-wal", "-shm", ".lock")):
            open(path, "w").close()
        else:
            os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o644 if os.path.isfile(path) else 0o755)
    for i in range(50):
        os.mkdir(os.path.join(r.data_root, "containers", f"c{i}"), 0o755)
        open(os.path.join(r.content, "blobs", "sha256", f"b{i}"), "w").close()
    return r


def test_repair_sets_every_fixed_path_and_walks_nothing_below(tmp_path):
    r = _old_root(tmp_path)
    os.remove(r.db + "-shm")  # what is missing is skipped, not made
    changed = roots.repair(r)
    fixed = dict(r.modes())
    assert {p: _mode(p) for p in changed} == {p: m for p, m in fixed.items() if p in changed}
    assert sorted(changed) == sorted(p for p in fixed if os.path.exists(p))
    assert not os.path.exists(r.db + "-shm")
    assert _mode(os.path.join(r.data_root, "containers", "c0")) == 0o755  # below: not walked
    assert roots.repair(r) == []  # a second start has nothing to do


def test_the_fixed_paths_are_those_the_owners_make(tmp_path):
    """The repair's table names the paths the daemon's parts create, with their modes."""
    r = roots.Roots(str(tmp_path / "data"), str(tmp_path / "exec"))
    roots.make(r)
    for d, mode in Paths(r.data_root, r.exec_root).dirs:
        filemode.makedirs(d, mode)
    Store(r.db).close()
    ContentStore(r.content)
    OverlaySnapshotter(r.snapshots)
    os.close(filemode.create(r.lock, roots.LOCK_MODE))
    made = {os.path.join(dirpath, n) for dirpath, dirs, files in os.walk(tmp_path)
            for n in dirs + files}
    table = dict(r.modes())
    assert made - set(table) == set()
    assert {p: _mode(p) for p in made} == {p: m for p, m in table.items() if p in made}


def test_write_file_from_threads_at_once(tmp_path):
    """Concurrent writers of one file each rename their own temporary file."""
    import threading

    from ketch.linux.atomic import write_file
    path = str(tmp_path / "meta.json")
    errors = []

    def writer(n: int) -> None:
        try:
            for i in range(300):
                write_file(path, f"{n}:{i}".encode(), 0o600)
        except OSError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(os.listdir(tmp_path)) == ["meta.json"]
