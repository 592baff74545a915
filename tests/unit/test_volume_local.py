"""volume/local.py: moby's name rule and option validation, the directories and their modes."""

import os
import stat

import pytest

from ketch import errors
from ketch.volume import local

BAD_CHARS = ('"{}" includes invalid characters for a local volume name, only '
             '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
             'use absolute path')


@pytest.mark.parametrize("name", ["ab", "a1", "A_b.c-d", "0x", "x" * 200])
def test_good_names(name):
    local.validate_name(name)


@pytest.mark.parametrize("name", ["..", "../x", "x/y", ".x", "_x", "-x", "a b", "/abs", "x/../..",
                                  "ü1", "a\n"])
def test_bad_names(name):
    with pytest.raises(errors.InvalidArgument) as exc:
        local.validate_name(name)
    assert str(exc.value) == BAD_CHARS.format(name.replace("\n", "\\n"))


def test_one_character_is_too_short():
    with pytest.raises(errors.InvalidArgument, match="^volume name is too short, names should be "
                       "at least two alphanumeric characters$"):
        local.validate_name("a")


@pytest.mark.parametrize("opts, message", [
    ({"foo": "x"}, 'invalid option: "foo"'),
    ({"type": "tmpfs"}, 'missing required option: "device"'),
    ({"device": "tmpfs"}, 'missing required option: "type"'),
    ({"o": "size=1m"}, 'missing required option: "device"'),
    ({"o": "size=1m", "device": "x"}, 'missing required option: "type"'),
    ({"size": "10m"}, "quota size requested but no quota support"),
    ({"size": "ten"}, "invalid size: 'ten'"),
    ({"type": "cifs", "device": "//srv:445/share"},
     "port not allowed in CIFS device URL, include 'port' in 'o='"),
])
def test_bad_options(opts, message):
    with pytest.raises(errors.InvalidArgument) as exc:
        local.validate_opts(opts)
    assert str(exc.value) == message


@pytest.mark.parametrize("opts", [{}, {"type": "tmpfs", "device": "tmpfs"},
                                  {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"},
                                  {"type": "cifs", "device": "//srv/share"}, {"size": "0"}])
def test_good_options(opts):
    local.validate_opts(opts)


def test_directories_and_modes(tmp_path):
    os.umask(0o022)
    driver = local.LocalDriver(str(tmp_path / "volumes"))
    data = driver.create("vol1", {})
    assert data == str(tmp_path / "volumes" / "vol1" / "_data")
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "volumes") == 0o701
    assert mode(tmp_path / "volumes" / "vol1") == 0o701
    assert mode(data) == 0o755
    with open(os.path.join(data, "f"), "wb") as f:
        f.write(b"x" * 1000)
    os.link(os.path.join(data, "f"), os.path.join(data, "g"))  # counted once
    os.mkdir(os.path.join(data, "d"))
    with open(os.path.join(data, "d", "h"), "wb") as f:
        f.write(b"y" * 24)
    assert driver.usage("vol1") == 1024
    driver.remove("vol1", {})
    assert os.listdir(tmp_path / "volumes") == []


def test_a_bad_name_makes_nothing(tmp_path):
    driver = local.LocalDriver(str(tmp_path / "volumes"))
    for name in ("..", "x/y", "a"):
        with pytest.raises(errors.InvalidArgument):
            driver.create(name, {})
    with pytest.raises(errors.InvalidArgument):
        driver.create("good", {"bad": "1"})
    assert os.listdir(tmp_path / "volumes") == []
    assert sorted(os.listdir(tmp_path)) == ["volumes"]


@pytest.mark.parametrize("opts, device, options", [
    ({"type": "nfs", "device": ":/export", "o": "addr=nas.lan,rw"}, ":/export", "addr=192.0.2.7,rw"),
    ({"type": "nfs", "device": ":/export", "o": "addr=10.0.0.2,rw"}, ":/export", "addr=10.0.0.2,rw"),
    ({"type": "cifs", "device": "//nas.lan/share", "o": "username=u"}, "//192.0.2.7/share", "username=u"),
    ({"type": "cifs", "device": "//10.1.1.1/share"}, "//10.1.1.1/share", ""),
    ({"type": "tmpfs", "device": "tmpfs", "o": "addr=nas.lan"}, "tmpfs", "addr=nas.lan"),
])
def test_network_shares_are_mounted_by_address(opts, device, options):
    assert local.mount_source(opts, lambda host: {"nas.lan": "192.0.2.7"}[host]) == (device, options)


def test_a_mount_without_device():
    with pytest.raises(errors.Internal, match="^missing device in volume options$"):
        local.mount_source({"type": "tmpfs"})


def test_a_data_directory_that_cannot_be_made_says_so(tmp_path, monkeypatch):
    driver = local.LocalDriver(str(tmp_path / "volumes"))
    real = local.filemode.mkdir

    def mkdir(path, mode):
        if path.endswith("/_data"):
            raise OSError(28, "No space left on device")
        return real(path, mode)

    monkeypatch.setattr(local.filemode, "mkdir", mkdir)
    data = tmp_path / "volumes" / "v1" / "_data"
    with pytest.raises(errors.Internal) as exc:
        driver.create("v1", {})
    assert str(exc.value) == (f"error while creating volume data path '{data}': "
                              f"mkdir {data}: no space left on device")
    assert os.listdir(tmp_path / "volumes") == []  # moby's message for that step, nothing left


def test_tombstones_are_no_volume_names(tmp_path):
    driver = local.LocalDriver(str(tmp_path / "volumes"))
    driver.create("v1", {})
    tomb = driver.bury("v1")
    assert tomb.startswith(".v1.removing-") and driver.names() == [] and driver.tombstones() == [tomb]
    with pytest.raises(errors.InvalidArgument):
        local.validate_name(tomb)
    driver.create("v1", {})  # the name is free at once
    driver.unbury(tomb, "v1")  # taken again: the tombstone stays for the sweep
    assert driver.names() == ["v1"] and driver.tombstones() == [tomb]
    driver.delete_tombstone(tomb)
    assert os.listdir(tmp_path / "volumes") == ["v1"]
    with pytest.raises(errors.InvalidArgument):
        driver.delete_tombstone("v1")  # never a volume's directory
    assert driver.bury("gone") == ""
