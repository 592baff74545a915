"""One suite for every registry storage driver (the StorageDriver protocol)."""

import threading

import pytest

from ketch.registry.server.drivers import PathNotFound
from ketch.registry.server.drivers.filesystem import FilesystemDriver
from ketch.registry.server.drivers.inmemory import InMemoryDriver


@pytest.fixture(params=["filesystem", "inmemory"])
def driver(request, tmp_path):
    return FilesystemDriver(str(tmp_path / "root")) if request.param == "filesystem" else InMemoryDriver()


def test_put_and_get(driver):
    driver.put_content("a/b/c", b"one")
    assert driver.get_content("a/b/c") == b"one"
    driver.put_content("a/b/c", b"two")  # replaced whole
    assert driver.get_content("a/b/c") == b"two"
    with pytest.raises(PathNotFound):
        driver.get_content("a/b/missing")
    with pytest.raises(PathNotFound):
        driver.get_content("a/b")  # a directory is no file


def test_stat_and_list(driver):
    driver.put_content("r/x/1", b"abc")
    driver.put_content("r/y", b"")
    info = driver.stat("r/x/1")
    assert (info.size, info.is_dir) == (3, False)
    assert driver.stat("r/x").is_dir
    assert driver.list("r") == ["x", "y"]
    assert driver.list("r/x") == ["1"]
    for missing in ("nope", "r/nope"):
        with pytest.raises(PathNotFound):
            driver.stat(missing)
        with pytest.raises(PathNotFound):
            driver.list(missing)


def test_reader_from_an_offset(driver):
    driver.put_content("f", b"0123456789")
    with driver.reader("f", 4) as f:
        assert f.read() == b"456789"
    with pytest.raises(PathNotFound):
        driver.reader("g")


def test_writer_appends_across_writers(driver):
    w = driver.writer("up/data")
    w.write(b"abc")
    assert w.size == 3
    w.close()
    w = driver.writer("up/data", append=True)
    assert w.size == 3
    w.write(b"def")
    w.commit()
    assert driver.get_content("up/data") == b"abcdef"
    w = driver.writer("up/data")  # no append: truncated
    w.write(b"x")
    w.close()
    assert driver.get_content("up/data") == b"x"


def test_writer_cancel_removes_the_file(driver):
    w = driver.writer("up/data")
    w.write(b"abc")
    w.cancel()
    with pytest.raises(PathNotFound):
        driver.stat("up/data")


def test_move_replaces_and_delete_removes_trees(driver):
    driver.put_content("src/f", b"new")
    driver.put_content("dst/f", b"old")
    driver.move("src/f", "dst/f")
    assert driver.get_content("dst/f") == b"new"
    with pytest.raises(PathNotFound):
        driver.get_content("src/f")
    with pytest.raises(PathNotFound):
        driver.move("src/f", "dst/g")
    driver.put_content("dst/sub/g", b"g")
    driver.delete("dst")
    with pytest.raises(PathNotFound):
        driver.stat("dst")
    with pytest.raises(PathNotFound):
        driver.delete("dst")


@pytest.mark.parametrize("path", ["", "/abs", "a/../b", "a//b", "./a"])
def test_paths_stay_inside(driver, path):
    with pytest.raises(ValueError):
        driver.put_content(path, b"x")


def test_concurrent_put_content_is_never_seen_half_written(driver):
    big_a, big_b = b"a" * (1 << 20), b"b" * (1 << 20)
    driver.put_content("f", big_a)
    stop, seen = threading.Event(), set()

    def read():
        while not stop.is_set():
            seen.add(driver.get_content("f")[::65536])
    reader = threading.Thread(target=read)
    reader.start()
    for i in range(20):
        driver.put_content("f", big_b if i % 2 else big_a)
    stop.set()
    reader.join()
    assert seen <= {big_a[::65536], big_b[::65536]}


def test_filesystem_put_content_leaves_no_temporary_files(tmp_path):
    driver = FilesystemDriver(str(tmp_path))
    driver.put_content("d/f", b"x")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["f"]
