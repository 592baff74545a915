"""Mount syntax: Binds strings, HostConfig.Mounts objects, VolumesFrom and Tmpfs entries ->
MountRequest or moby's message (volume/mounts/linux_parser.go, validate.go), word for word.

Cases from moby's linux_parser_test.go and the rules read from its parser.
"""

import pytest

from ketch.apitypes.mounts import (BIND, TMPFS, VOLUME, MountSpecError, from_api_mount,
                                   parse_anonymous, parse_bind, parse_volumes_from, read_write,
                                   tmpfs_data, valid_mode, validate_tmpfs)

VALID_BINDS = [
    "/home", "/home:/home", "/home:/something/else", "/with space", "/home:/with space",
    "relative:/absolute-path", "hostPath:/containerPath:ro", "/hostPath:/containerPath:rw",
    "/rw:/ro", "/hostPath:/containerPath:shared", "/hostPath:/containerPath:rshared",
    "/hostPath:/containerPath:slave", "/hostPath:/containerPath:rslave",
    "/hostPath:/containerPath:private", "/hostPath:/containerPath:rprivate",
    "/hostPath:/containerPath:ro,shared", "/hostPath:/containerPath:ro,z,shared",
    "/hostPath:/containerPath:Z,ro,slave", "/hostPath:/containerPath:slave,ro,Z",
    "/hostPath:/containerPath:ro,Z,rprivate", "vol:/data:nocopy", "vol:/data:ro,nocopy,z",
    "/a:/b:cached", "/a:/b:delegated,ro", "/a:/b:consistent",
]


@pytest.mark.parametrize("raw", VALID_BINDS)
def test_moby_accepts_these_binds(raw):
    assert parse_bind(raw, "local").destination.startswith("/")


def _spec(raw, rest):
    return f"invalid volume specification: '{raw}'" + rest


INVALID_BINDS = {
    "": _spec("", ""),
    "./": _spec("./", ": invalid mount config for type \"volume\": "
                      "invalid mount path: './' mount path must be absolute"),
    "../": _spec("../", ": invalid mount config for type \"volume\": "
                        "invalid mount path: '../' mount path must be absolute"),
    "/:../": _spec("/:../", ": invalid mount config for type \"bind\": "
                            "invalid mount path: '../' mount path must be absolute"),
    "/:path": _spec("/:path", ": invalid mount config for type \"bind\": "
                              "invalid mount path: 'path' mount path must be absolute"),
    ":": _spec(":", ""), "/tmp:": _spec("/tmp:", ""), ":test": _spec(":test", ""),
    ":/test": _spec(":/test", ""), "tmp:": _spec("tmp:", ""), "::": _spec("::", ""),
    ":::": _spec(":::", ""), "/tmp:::": _spec("/tmp:::", ""), "a:/b:ro:x": _spec("a:/b:ro:x", ""),
    "/path:rw": _spec("/path:rw", ""), "/path:ro": _spec("/path:ro", ""),
    "/path:shared": _spec("/path:shared", ""), "path:ro": _spec("path:ro", ""),
    "/path:/path:sw": "invalid mode: sw", "/path:/path:rwz": "invalid mode: rwz",
    "/path:/path:ro,rshared,rslave": "invalid mode: ro,rshared,rslave",
    "/path:/path:ro,rw": "invalid mode: ro,rw", "/path:/path:z,Z": "invalid mode: z,Z",
    "/path:/path:ro,": "invalid mode: ro,", "/p:/p:nocopy,nocopy": "invalid mode: nocopy,nocopy",
    "/p:/p:cached,delegated": "invalid mode: cached,delegated",
    "/p:/p:default": "invalid mode: default",
    "name:/absolute-path:shared": _spec("name:/absolute-path:shared",
                                       ": invalid mount config for type \"volume\": "
                                       "field BindOptions must not be specified"),
    "name:/abs:rprivate": _spec("name:/abs:rprivate", ": invalid mount config for type "
                                                      "\"volume\": field BindOptions must not be specified"),
    "/a:/b:nocopy": _spec("/a:/b:nocopy", ": invalid mount config for type \"bind\": "
                                          "field VolumeOptions must not be specified"),
    "a::ro": _spec("a::ro", ": invalid mount config for type \"volume\": "
                            "field Target must not be empty"),
    "/a:/": _spec("/a:/", ": invalid mount config for type \"bind\": "
                          "invalid specification: destination can't be '/'"),
    "/a:/x/..": _spec("/a:/x/..", ": invalid mount config for type \"bind\": "
                                  "invalid specification: destination can't be '/'"),
    "/": _spec("/", ": invalid mount config for type \"volume\": "
                    "invalid specification: destination can't be '/'"),
    "v:rel": _spec("v:rel", ": invalid mount config for type \"volume\": "
                            "invalid mount path: 'rel' mount path must be absolute"),
}


@pytest.mark.parametrize("raw, message", INVALID_BINDS.items(), ids=list(INVALID_BINDS))
def test_moby_refuses_these_binds_in_its_words(raw, message):
    with pytest.raises(MountSpecError) as err:
        parse_bind(raw, "local")
    assert str(err.value) == message


def test_a_bind_keeps_its_mode_text_and_gets_rprivate():
    req = parse_bind("/tmp//x/:/tmp2/:ro,Z")
    assert (req.type, req.source, req.destination, req.rw, req.mode, req.propagation) == \
        (BIND, "/tmp/x", "/tmp2", False, "ro,Z", "rprivate")
    assert req.create_source and not req.create_mountpoint and req.spec is None
    assert parse_bind("/a:/b:rslave").propagation == "rslave"
    assert parse_bind("/a:/b:rw").rw and parse_bind("/a:/b").mode == ""


def test_a_named_volume_takes_the_volume_driver_and_nocopy():
    req = parse_bind("data:/named2", "external")
    assert (req.type, req.source, req.destination, req.driver, req.mode, req.propagation) == \
        (VOLUME, "data", "/named2", "external", "", "")
    assert req.copy_data and not req.create_source
    assert not parse_bind("data:/d:nocopy,ro").copy_data
    assert parse_bind("data:/d:nocopy,ro").rw is False
    assert parse_bind("/host:/d", "external").driver == ""  # a bind has no driver


def test_an_anonymous_volume_from_binds_or_config_volumes():
    req = parse_bind("/just/a/path", "drv")
    assert (req.type, req.source, req.destination, req.driver) == (VOLUME, "", "/just/a/path", "drv")
    assert parse_anonymous("/data/") == parse_anonymous("/data")
    assert parse_anonymous("//x/../y").destination == "/y"
    assert parse_anonymous("/d", "drv").driver == "drv"


# -- HostConfig.Mounts ------------------------------------------------------------------

def _cfg(kind, message):
    return f"invalid mount config for type \"{kind}\": {message}"


INVALID_MOUNTS = [
    ({"Type": "bind", "Target": "/x"}, _cfg("bind", "field Source must not be empty")),
    ({"Type": "bind", "Source": "/s"}, _cfg("bind", "field Target must not be empty")),
    ({"Type": "bind", "Source": "rel", "Target": "/x"},
     _cfg("bind", "invalid mount path: 'rel' mount path must be absolute")),
    ({"Type": "bind", "Source": "/s", "Target": "rel"},
     _cfg("bind", "invalid mount path: 'rel' mount path must be absolute")),
    ({"Type": "bind", "Source": "/s", "Target": "/"},
     _cfg("bind", "invalid specification: destination can't be '/'")),
    ({"Type": "bind", "Source": "/s", "Target": "/x", "BindOptions": {"Propagation": "bogus"}},
     _cfg("bind", "invalid propagation mode: bogus")),
    ({"Type": "bind", "Source": "/s", "Target": "/x", "VolumeOptions": {}},
     _cfg("bind", "field VolumeOptions must not be specified")),
    ({"Type": "volume", "Target": "/x", "BindOptions": {}},
     _cfg("volume", "field BindOptions must not be specified")),
    ({"Type": "volume", "Target": "/x", "TmpfsOptions": {}},
     _cfg("volume", "field TmpfsOptions must not be specified")),
    ({"Type": "tmpfs", "Target": "/x", "ImageOptions": {}},
     _cfg("tmpfs", "field ImageOptions must not be specified")),
    ({"Type": "tmpfs", "Target": "/x", "ClusterOptions": {}},
     _cfg("tmpfs", "field ClusterOptions must not be specified")),
    ({"Type": "volume", "Target": "/x", "VolumeOptions": {"Subpath": "a"}},
     _cfg("volume", "must not set Subpath when using anonymous volumes")),
    ({"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {"Subpath": "../a"}},
     _cfg("volume", "subpath must be a relative path within the volume")),
    ({"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {"Subpath": "/a"}},
     _cfg("volume", "subpath must be a relative path within the volume")),
    ({"Type": "tmpfs", "Source": "s", "Target": "/x"},
     _cfg("tmpfs", "field Source must not be specified")),
    ({"Type": "tmpfs", "Target": "/x", "TmpfsOptions": {"Options": [["exec", "a", "b"]]}},
     _cfg("tmpfs", "invalid option array length")),
    ({"Type": "tmpfs", "Target": "/x", "TmpfsOptions": {"Options": [["nosuid"]]}},
     _cfg("tmpfs", "invalid option: nosuid")),
    ({"Type": "npipe", "Source": "s", "Target": "/x"}, _cfg("npipe", "mount type unknown")),
    ({"Type": "", "Target": "/x"}, _cfg("", "mount type unknown")),
    ({"Type": "image", "Target": "/x"}, _cfg("image", "field Source must not be empty")),
    ({"Type": "image", "Source": "busybox", "Target": "/x"},
     _cfg("image", "mount type not supported")),
]


@pytest.mark.parametrize("mount, message", INVALID_MOUNTS, ids=[m for _, m in INVALID_MOUNTS])
def test_moby_refuses_these_mounts_in_its_words(mount, message):
    with pytest.raises(MountSpecError) as err:
        from_api_mount(mount)
    assert str(err.value) == message


def test_a_bind_mount_object():
    spec = {"Type": "bind", "Source": "/s/", "Target": "/x/", "ReadOnly": True,
            "BindOptions": {"Propagation": "rshared", "NonRecursive": True,
                            "ReadOnlyForceRecursive": True, "CreateMountpoint": True}}
    req = from_api_mount(spec)
    assert (req.type, req.source, req.destination, req.rw, req.mode, req.propagation) == \
        (BIND, "/s", "/x", False, "", "rshared")
    assert req.non_recursive and req.readonly_force_recursive and not req.readonly_non_recursive
    assert req.create_mountpoint and req.create_source and req.spec == spec
    plain = from_api_mount({"Type": "bind", "Source": "/s", "Target": "/x"})
    assert plain.propagation == "rprivate" and plain.rw and not plain.create_source


def test_a_volume_mount_object():
    req = from_api_mount({"Type": "volume", "Source": "v", "Target": "/x", "VolumeOptions": {
        "NoCopy": True, "Labels": {"a": "b"}, "Subpath": "sub/dir",
        "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs"}}}})
    assert (req.type, req.source, req.copy_data, req.labels, req.subpath, req.driver,
            req.driver_opts) == (VOLUME, "v", False, {"a": "b"}, "sub/dir", "local", {"type": "tmpfs"})
    anonymous = from_api_mount({"Type": "volume", "Target": "/x", "VolumeOptions": None})
    assert (anonymous.source, anonymous.copy_data, anonymous.driver) == ("", True, "")


def test_a_tmpfs_mount_object_and_its_mount_data():
    req = from_api_mount({"Type": "tmpfs", "Target": "/t", "ReadOnly": True, "TmpfsOptions": {
        "SizeBytes": 64 << 20, "Mode": 0o1770, "Options": [["noexec"], ["exec"]]}})
    assert (req.type, req.tmpfs_size, req.tmpfs_mode, req.tmpfs_options) == \
        (TMPFS, 64 << 20, 0o1770, ("noexec", "exec"))
    assert tmpfs_data(req) == "ro,mode=1770,size=64m,noexec,exec"
    assert tmpfs_data(from_api_mount({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {
        "SizeBytes": 1000}})) == "size=1000"
    assert tmpfs_data(from_api_mount({"Type": "tmpfs", "Target": "/t"})) == ""


# -- VolumesFrom, Tmpfs, modes ------------------------------------------------------------

@pytest.mark.parametrize("spec, expected", [
    ("c1", ("c1", "rw")), ("c1:ro", ("c1", "ro")), ("c1:rw", ("c1", "rw")),
    ("c1:ro,z", ("c1", "ro,z")), ("c1:", ("c1", "rw")),
    ("", "volumes-from specification cannot be an empty string"),
    ("c1:shared", "invalid mode: shared"), ("c1:ro,rslave", "invalid mode: ro,rslave"),
    ("c1:nocopy", "invalid mode: nocopy"), ("c1:bogus", "invalid mode: bogus"),
    ("c1:ro:x", "invalid mode: ro:x"),
])
def test_volumes_from(spec, expected):
    if isinstance(expected, tuple):
        assert parse_volumes_from(spec) == expected
    else:
        with pytest.raises(MountSpecError, match=f"^{expected}$"):
            parse_volumes_from(spec)


@pytest.mark.parametrize("dest, message", [
    ("/run", None), ("/x/y", None), ("/", "invalid specification: destination can't be '/'"),
    ("/x/..", "invalid specification: destination can't be '/'"),
    ("run", "invalid mount path: 'run' mount path must be absolute"),
])
def test_tmpfs_destinations(dest, message):
    if message is None:
        validate_tmpfs(dest, "size=1m")
    else:
        with pytest.raises(MountSpecError, match=f"^{message}$"):
            validate_tmpfs(dest, "")


@pytest.mark.parametrize("mode, valid, rw", [
    ("", True, True), ("ro", True, False), ("rw", True, True), ("ro,z", True, False),
    ("Z,rshared,nocopy,cached", True, True), ("ro,ro", False, False), ("x", False, False),
])
def test_modes(mode, valid, rw):
    assert (valid_mode(mode), read_write(mode)) == (valid, rw)


def test_the_create_decoder_keeps_what_the_parser_reads():
    """TmpfsOptions.Options (API 1.46) and ImageOptions (1.48) survive the Go-struct decode,
    so moby's checks on them are made."""
    import json

    from ketch.apitypes.container import decode_create
    body = decode_create(json.dumps({"Image": "x", "HostConfig": {"Mounts": [
        {"type": "tmpfs", "target": "/t", "TmpfsOptions": {"Options": [["noexec"]]}},
        {"Type": "volume", "Target": "/v", "ImageOptions": {"Subpath": "a"}}]}}).encode())
    tmpfs, volume = body["HostConfig"]["Mounts"]
    assert from_api_mount(tmpfs).tmpfs_options == ("noexec",)
    with pytest.raises(MountSpecError, match="field ImageOptions must not be specified"):
        from_api_mount(volume)
