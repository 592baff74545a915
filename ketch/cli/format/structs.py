"""The Go values docker's ``version`` and ``info`` templates run over.

``docker version --format`` executes over docker/cli's ``versionInfo`` struct and
``docker info --format`` over ``dockerInfo`` (system.Info embedded), not over the JSON
the daemon sent: a field is found by its Go name (``.Client.APIVersion``, not the JSON
key ``ApiVersion``), a name the struct lacks is an error ("can't evaluate field Nope in
type system.versionInfo"), a field the daemon left out is its zero value, and
``{{json .}}`` marshals the struct again (its JSON keys, omitempty). These builders
turn the decoded JSON into gotemplate Structs with the fields of docker 28.2's types.

A spec lists a struct's fields in declaration order: a name alone is a string field
whose JSON key is its name; a tuple is (name, zero or converter, JSON key, omitempty).
"""

from ketch.cli.format.gotemplate import NIL_MAP, NIL_SLICE, Struct

_ABSENT = object()


def _build(doc: dict | None, go_type: str, spec: tuple, extra: dict | None = None,
           embedded: tuple = ()) -> Struct:
    doc = doc or {}
    fields, tags = {}, {}
    for entry in spec:
        name, zero, key, omitempty = entry if isinstance(entry, tuple) else (entry, "", entry, False)
        value = doc.get(key, _ABSENT)
        if callable(zero):
            value = zero(None if value is _ABSENT else value)
        elif value is _ABSENT or value is None:
            value = zero
        fields[name] = value
        if key != name or omitempty:
            tags[name] = (key, omitempty)
    for name, (value, key, omitempty) in (extra or {}).items():
        fields[name] = value
        tags[name] = (key, omitempty)
    return Struct(fields, go_type, tags=tags, embedded=embedded)


def _pointer(go_type: str, spec: tuple):
    """A converter for a pointer field: nil when the JSON has no object."""
    return lambda doc: None if doc is None else _build(doc, go_type, spec)


def _value(go_type: str, spec: tuple):
    return lambda doc: _build(doc, go_type, spec)


def _slice(convert):
    return lambda docs: NIL_SLICE if docs is None else [convert(d) for d in docs]


_PLATFORM = ("Name",)
_CLIENT_VERSION = (
    ("Platform", _pointer("*system.platformInfo", _PLATFORM), "Platform", True),
    ("Version", "", "Version", True), ("APIVersion", "", "ApiVersion", True),
    ("DefaultAPIVersion", "", "DefaultAPIVersion", True), ("GitCommit", "", "GitCommit", True),
    ("GoVersion", "", "GoVersion", True), ("Os", "", "Os", True), ("Arch", "", "Arch", True),
    ("BuildTime", "", "BuildTime", True), "Context",
)
_COMPONENT = ("Name", "Version", ("Details", NIL_MAP, "Details", True))
_SERVER_VERSION = (
    ("Platform", _value("struct { Name string }", _PLATFORM), "Platform", True),
    ("Components", _slice(_value("types.ComponentVersion", _COMPONENT)), "Components", True),
    "Version", ("APIVersion", "", "ApiVersion", False), ("MinAPIVersion", "", "MinAPIVersion", True),
    "GitCommit", "GoVersion", "Os", "Arch", ("KernelVersion", "", "KernelVersion", True),
    ("Experimental", False, "Experimental", True), ("BuildTime", "", "BuildTime", True),
)


def version_info(client: dict, server: dict | None) -> Struct:
    """docker/cli's versionInfo: Client (clientVersion) and Server (*types.Version)."""
    return Struct({
        "Client": _build(client, "system.clientVersion", _CLIENT_VERSION),
        "Server": None if server is None else _build(server, "*types.Version", _SERVER_VERSION),
    }, "system.versionInfo")


_COMMIT = ("ID", ("Expected", "", "Expected", True))
_SWARM = (
    "NodeID", "NodeAddr", "LocalNodeState", ("ControlAvailable", False, "ControlAvailable", False),
    "Error", ("RemoteManagers", NIL_SLICE, "RemoteManagers", False), ("Nodes", 0, "Nodes", True),
    ("Managers", 0, "Managers", True), ("Cluster", None, "Cluster", True),
    ("Warnings", NIL_SLICE, "Warnings", True),
)
_RUNTIME = (("Path", "", "path", True), ("Args", NIL_SLICE, "runtimeArgs", True),
            ("Type", "", "runtimeType", True), ("Options", NIL_MAP, "options", True))


def _runtimes(docs: dict | None):
    """map[string]RuntimeWithStatus: a Runtime embedded, and its Status."""
    if docs is None:
        return NIL_MAP
    return {name: Struct({"Runtime": _build(doc, "system.Runtime", _RUNTIME),
                          "Status": (doc or {}).get("status") or NIL_MAP},
                         "system.RuntimeWithStatus", tags={"Status": ("status", True)},
                         embedded=("Runtime",))
            for name, doc in docs.items()}


_PLUGINS = tuple((n, NIL_SLICE, n, False) for n in ("Volume", "Network", "Authorization", "Log"))
_REGISTRY = (
    ("AllowNondistributableArtifactsCIDRs", NIL_SLICE, "AllowNondistributableArtifactsCIDRs", True),
    ("AllowNondistributableArtifactsHostnames", NIL_SLICE, "AllowNondistributableArtifactsHostnames",
     True),
    ("InsecureRegistryCIDRs", NIL_SLICE, "InsecureRegistryCIDRs", False),
    ("IndexConfigs", NIL_MAP, "IndexConfigs", False), ("Mirrors", NIL_SLICE, "Mirrors", False),
)


def _flag(name, key=None, omitempty=False):
    return (name, False, key or name, omitempty)


def _count(name, omitempty=False):
    return (name, 0, name, omitempty)


def _list(name, omitempty=False):
    return (name, NIL_SLICE, name, omitempty)


_SYSTEM_INFO = (
    "ID", _count("Containers"), _count("ContainersRunning"), _count("ContainersPaused"),
    _count("ContainersStopped"), _count("Images"), "Driver", _list("DriverStatus"),
    _list("SystemStatus", True), ("Plugins", _value("system.PluginsInfo", _PLUGINS), "Plugins", False),
    _flag("MemoryLimit"), _flag("SwapLimit"), _flag("KernelMemory", omitempty=True),
    _flag("KernelMemoryTCP", omitempty=True), _flag("CPUCfsPeriod", "CpuCfsPeriod"),
    _flag("CPUCfsQuota", "CpuCfsQuota"), _flag("CPUShares"), _flag("CPUSet"), _flag("PidsLimit"),
    _flag("IPv4Forwarding"), _flag("Debug"), _count("NFd"), _flag("OomKillDisable"),
    _count("NGoroutines"), "SystemTime", "LoggingDriver", "CgroupDriver",
    ("CgroupVersion", "", "CgroupVersion", True), _count("NEventsListener"), "KernelVersion",
    "OperatingSystem", "OSVersion", "OSType", "Architecture", "IndexServerAddress",
    ("RegistryConfig", _pointer("*registry.ServiceConfig", _REGISTRY), "RegistryConfig", False),
    _count("NCPU"), _count("MemTotal"), _list("GenericResources"), "DockerRootDir",
    ("HTTPProxy", "", "HttpProxy", False), ("HTTPSProxy", "", "HttpsProxy", False), "NoProxy",
    "Name", _list("Labels"), _flag("ExperimentalBuild"), "ServerVersion",
    ("Runtimes", _runtimes, "Runtimes", False), "DefaultRuntime",
    ("Swarm", _value("swarm.Info", _SWARM), "Swarm", False), _flag("LiveRestoreEnabled"),
    "Isolation", "InitBinary",
    ("ContainerdCommit", _value("system.Commit", _COMMIT), "ContainerdCommit", False),
    ("RuncCommit", _value("system.Commit", _COMMIT), "RuncCommit", False),
    ("InitCommit", _value("system.Commit", _COMMIT), "InitCommit", False),
    _list("SecurityOptions"), ("ProductLicense", "", "ProductLicense", True),
    _list("DefaultAddressPools", True), ("FirewallBackend", None, "FirewallBackend", True),
    _list("CDISpecDirs"), _list("DiscoveredDevices", True), ("Containerd", None, "Containerd", True),
    _list("Warnings"),
)


def docker_info(server: dict | None, client: dict, server_errors: list[str],
                client_errors: list[str]) -> Struct:
    """docker/cli's dockerInfo: *system.Info embedded (its fields at the top level),
    ServerErrors, ClientInfo (Debug, clientVersion embedded, Plugins, Warnings) and
    ClientErrors. Without a daemon, system.Info is all zero values, as docker's is."""
    client_info = Struct({
        "Debug": bool(client.get("Debug")),
        "clientVersion": _build(client, "system.clientVersion", _CLIENT_VERSION),
        "Plugins": [], "Warnings": NIL_SLICE,
    }, "*system.clientInfo", embedded=("clientVersion",))
    return Struct({
        "Info": _build(server, "*system.Info", _SYSTEM_INFO),
        "ServerErrors": list(server_errors) or NIL_SLICE,
        "UserName": "",
        "ClientInfo": client_info,
        "ClientErrors": list(client_errors) or NIL_SLICE,
    }, "system.dockerInfo", embedded=("Info",), tags={
        "ServerErrors": ("ServerErrors", True), "UserName": (None, False),
        "ClientInfo": ("ClientInfo", True), "ClientErrors": ("ClientErrors", True)})
