"""The container create and update bodies: moby's API types as field tables.

Each table is the Go struct of moby v26.1 (API 1.45), field by field with its Go type,
so a body is checked once, at the API edge, and the engine gets only declared types.
Embedded structs are flattened into the struct that embeds them, which is also how Go
names them in errors (``HostConfig.HostConfig.Memory``: Memory lives in the embedded
Resources). Types the engine does not read yet are still declared, so that a client
sending the wrong type gets Docker's 400 rather than a later surprise.
"""

from ketch.apitypes.gojson import (Any, Bool, GoType, Int, Map, Ptr, Slice, StrSlice, String,
                                   Struct, decode, parse_value, read_json, struct)
from ketch.errors import InvalidArgument

S, B = String(), Bool()
I64, INT = Int("int64"), Int("int")
U16, U64 = Int("uint16", 16, False), Int("uint64", 64, False)
STRS = Slice("[]string", S)
SMAP = Map("map[string]string", S)
_SPACE = b" \t\r\n"
EMPTY = Struct("struct {}", "")  # the values of nat.PortSet and Volumes: {}
DURATION = Int("time.Duration")


def _named(name: str) -> String:
    """A Go string type of its own (``type NetworkMode string``)."""
    return String(name)


HEALTHCHECK = struct(
    "v1.HealthcheckConfig", "HealthcheckConfig",
    ("Test", STRS), ("Interval", DURATION), ("Timeout", DURATION),
    ("StartPeriod", DURATION), ("StartInterval", DURATION), ("Retries", INT))

CONFIG_FIELDS: tuple[tuple[str, GoType], ...] = (
    ("Hostname", S), ("Domainname", S), ("User", S),
    ("AttachStdin", B), ("AttachStdout", B), ("AttachStderr", B),
    ("ExposedPorts", Map("nat.PortSet", EMPTY)),
    ("Tty", B), ("OpenStdin", B), ("StdinOnce", B),
    ("Env", STRS), ("Cmd", StrSlice()), ("Healthcheck", Ptr("*v1.HealthcheckConfig", HEALTHCHECK)),
    ("ArgsEscaped", B), ("Image", S), ("Volumes", Map("map[string]struct {}", EMPTY)),
    ("WorkingDir", S), ("Entrypoint", StrSlice()), ("NetworkDisabled", B), ("MacAddress", S),
    ("OnBuild", STRS), ("Labels", SMAP), ("StopSignal", S), ("StopTimeout", Ptr("*int", INT)),
    ("Shell", StrSlice()),
)

ULIMIT = struct("units.Ulimit", "Ulimit", ("Name", S), ("Hard", I64), ("Soft", I64))
DEVICE = struct("container.DeviceMapping", "DeviceMapping",
                ("PathOnHost", S), ("PathInContainer", S), ("CgroupPermissions", S))
DEVICE_REQUEST = struct(
    "container.DeviceRequest", "DeviceRequest", ("Driver", S), ("Count", INT),
    ("DeviceIDs", STRS), ("Capabilities", Slice("[][]string", STRS)), ("Options", SMAP))
WEIGHT_DEVICE = struct("blkiodev.WeightDevice", "WeightDevice", ("Path", S), ("Weight", U16))
THROTTLE_DEVICE = struct("blkiodev.ThrottleDevice", "ThrottleDevice", ("Path", S), ("Rate", U64))


def _ptr_slice(elem: Struct) -> Slice:
    return Slice(f"[]*{elem.name}", Ptr(f"*{elem.name}", elem))


RESOURCES_FIELDS: tuple[tuple[str, GoType], ...] = (
    ("CpuShares", I64), ("Memory", I64), ("NanoCpus", I64), ("CgroupParent", S),
    ("BlkioWeight", U16), ("BlkioWeightDevice", _ptr_slice(WEIGHT_DEVICE)),
    ("BlkioDeviceReadBps", _ptr_slice(THROTTLE_DEVICE)),
    ("BlkioDeviceWriteBps", _ptr_slice(THROTTLE_DEVICE)),
    ("BlkioDeviceReadIOps", _ptr_slice(THROTTLE_DEVICE)),
    ("BlkioDeviceWriteIOps", _ptr_slice(THROTTLE_DEVICE)),
    ("CpuPeriod", I64), ("CpuQuota", I64), ("CpuRealtimePeriod", I64), ("CpuRealtimeRuntime", I64),
    ("CpusetCpus", S), ("CpusetMems", S),
    ("Devices", Slice("[]container.DeviceMapping", DEVICE)),
    ("DeviceCgroupRules", STRS),
    ("DeviceRequests", Slice("[]container.DeviceRequest", DEVICE_REQUEST)),
    ("KernelMemory", I64), ("KernelMemoryTCP", I64), ("MemoryReservation", I64),
    ("MemorySwap", I64), ("MemorySwappiness", Ptr("*int64", I64)),
    ("OomKillDisable", Ptr("*bool", B)), ("PidsLimit", Ptr("*int64", I64)),
    ("Ulimits", _ptr_slice(ULIMIT)),
    ("CpuCount", I64), ("CpuPercent", I64), ("IOMaximumIOps", U64), ("IOMaximumBandwidth", U64),
)

RESTART_POLICY = struct("container.RestartPolicy", "RestartPolicy",
                        ("Name", _named("container.RestartPolicyMode")), ("MaximumRetryCount", INT))
LOG_CONFIG = struct("container.LogConfig", "LogConfig", ("Type", S), ("Config", SMAP))
PORT_BINDING = struct("nat.PortBinding", "PortBinding", ("HostIp", S), ("HostPort", S))
MOUNT = struct(
    "mount.Mount", "Mount", ("Type", _named("mount.Type")), ("Source", S), ("Target", S),
    ("ReadOnly", B), ("Consistency", _named("mount.Consistency")),
    ("BindOptions", Ptr("*mount.BindOptions", struct(
        "mount.BindOptions", "BindOptions", ("Propagation", _named("mount.Propagation")),
        ("NonRecursive", B), ("CreateMountpoint", B), ("ReadOnlyNonRecursive", B),
        ("ReadOnlyForceRecursive", B)))),
    ("VolumeOptions", Ptr("*mount.VolumeOptions", struct(
        "mount.VolumeOptions", "VolumeOptions", ("NoCopy", B), ("Labels", SMAP), ("Subpath", S),
        ("DriverConfig", Ptr("*mount.Driver", struct(
            "mount.Driver", "Driver", ("Name", S), ("Options", SMAP))))))),
    ("ImageOptions", Ptr("*mount.ImageOptions", struct(
        "mount.ImageOptions", "ImageOptions", ("Subpath", S)))),
    ("TmpfsOptions", Ptr("*mount.TmpfsOptions", struct(
        "mount.TmpfsOptions", "TmpfsOptions", ("SizeBytes", I64),
        ("Mode", Int("fs.FileMode", 32, False)), ("Options", Slice("[][]string", STRS))))),
    ("ClusterOptions", Any()),
)

HOST_FIELDS: tuple[tuple[str, GoType], ...] = (
    ("Binds", STRS), ("ContainerIDFile", S), ("LogConfig", LOG_CONFIG),
    ("NetworkMode", _named("container.NetworkMode")),
    ("PortBindings", Map("nat.PortMap", Slice("[]nat.PortBinding", PORT_BINDING))),
    ("RestartPolicy", RESTART_POLICY), ("AutoRemove", B), ("VolumeDriver", S),
    ("VolumesFrom", STRS), ("ConsoleSize", Slice("[2]uint", Int("uint", 64, False), length=2)),
    ("Annotations", SMAP), ("CapAdd", StrSlice()), ("CapDrop", StrSlice()),
    ("CgroupnsMode", _named("container.CgroupnsMode")),
    ("Dns", STRS), ("DnsOptions", STRS), ("DnsSearch", STRS), ("ExtraHosts", STRS),
    ("GroupAdd", STRS), ("IpcMode", _named("container.IpcMode")),
    ("Cgroup", _named("container.CgroupSpec")), ("Links", STRS), ("OomScoreAdj", INT),
    ("PidMode", _named("container.PidMode")), ("Privileged", B), ("PublishAllPorts", B),
    ("ReadonlyRootfs", B), ("SecurityOpt", STRS), ("StorageOpt", SMAP), ("Tmpfs", SMAP),
    ("UTSMode", _named("container.UTSMode")), ("UsernsMode", _named("container.UsernsMode")),
    ("ShmSize", I64), ("Sysctls", SMAP), ("Runtime", S),
    ("Isolation", _named("container.Isolation")),
    *RESOURCES_FIELDS,
    ("Mounts", Slice("[]mount.Mount", MOUNT)), ("MaskedPaths", STRS), ("ReadonlyPaths", STRS),
    ("Init", Ptr("*bool", B)),
)
HOST_CONFIG = Struct("container.HostConfig", "HostConfig", HOST_FIELDS)

ENDPOINT = struct(
    "network.EndpointSettings", "EndpointSettings",
    ("IPAMConfig", Ptr("*network.EndpointIPAMConfig", struct(
        "network.EndpointIPAMConfig", "EndpointIPAMConfig", ("IPv4Address", S),
        ("IPv6Address", S), ("LinkLocalIPs", STRS)))),
    ("Links", STRS), ("Aliases", STRS), ("MacAddress", S), ("DriverOpts", SMAP),
    ("NetworkID", S), ("EndpointID", S), ("Gateway", S), ("IPAddress", S),
    ("IPPrefixLen", INT), ("IPv6Gateway", S), ("GlobalIPv6Address", S),
    ("GlobalIPv6PrefixLen", INT), ("DNSNames", STRS))
NETWORKING_CONFIG = struct(
    "network.NetworkingConfig", "NetworkingConfig",
    ("EndpointsConfig", Map("map[string]*network.EndpointSettings",
                            Ptr("*network.EndpointSettings", ENDPOINT))))

# runconfig.ContainerConfigWrapper: the Config and (deprecated, still decoded) a HostConfig
# embedded at the top, the real HostConfig under its key.
CREATE_REQUEST = Struct(
    "runconfig.ContainerConfigWrapper", "ContainerConfigWrapper",
    (*CONFIG_FIELDS, ("HostConfig", Ptr("*container.HostConfig", HOST_CONFIG)), ("Cpuset", S),
     ("NetworkingConfig", Ptr("*network.NetworkingConfig", NETWORKING_CONFIG)), *HOST_FIELDS))

UPDATE_CONFIG = Struct("container.UpdateConfig", "UpdateConfig",
                       (*RESOURCES_FIELDS, ("RestartPolicy", RESTART_POLICY)))


_CONFIG_KEYS = frozenset(name.lower() for name, _ in CONFIG_FIELDS)


def decode_create(data: bytes | None) -> dict:
    """A create body -> a checked dict of it (canonical keys, strslices as lists).

    No value at all is moby's "got EOF" error, ``null`` its empty config; a malformed
    body, a body of the wrong JSON type or with a field of the wrong type is Go's
    decoding error; all are 400s.
    """
    if not data or not data.strip(_SPACE):
        raise InvalidArgument("invalid JSON: got EOF while reading request body")
    value, more = parse_value(data)
    body = decode(value, CREATE_REQUEST)
    if more:
        raise InvalidArgument("unexpected content after JSON")
    # the wrapper embeds *container.Config: it stays nil unless a key of its fields is
    # sent (even with null), and moby refuses a nil config
    if not isinstance(value, dict) or not any(k.lower() in _CONFIG_KEYS for k in value):
        raise InvalidArgument("config cannot be empty in order to create a container")
    return body


def decode_update(data: bytes | None) -> dict:
    """An update body -> a checked dict; no body changes nothing, as in moby (httputils.ReadJSON)."""
    return read_json(data, UPDATE_CONFIG) or {}
