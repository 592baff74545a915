"""``inspect -f``: docker/cli's TemplateInspector, typed struct first, raw map second.

docker decodes an inspect answer into its Go type and runs the template over that; if
the run fails it decodes the raw JSON into maps and runs the template again with
``missingkey=error`` (cli/command/inspect/inspector.go). So in docker 28:

    {{.Config.Labels.nope}}    <no value>    (a Go map in the typed struct)
    {{.State.Health}}          <nil>         (a nil pointer the JSON left out)
    {{.Nope}}, {{.State.Nope}} template parsing error: template: :1:2: executing "" at
                               <.Nope>: map has no entry for key "Nope"   (exit 1)

Here the typed run is the decoded JSON with its objects as gotemplate Structs, except
the fields docker's types declare as maps; a null becomes the nil slice or map it is in
Go, the omitempty fields a document may lack read as their zero value, and a field
whose Go name differs from its JSON key goes by the Go name (``.ID``, ``.HostConfig.CPUShares``;
the raw run still finds ``.Id``). The tables are docker 28.2's container.InspectResponse
and image.InspectResponse, by field name.
"""

from ketch.cli.format import gotemplate
from ketch.cli.format.gotemplate import NIL_MAP, NIL_SLICE, Struct

# fields whose Go type is a map (LogConfig's "Config" is one too; container "Config" is not)
_MAPS = frozenset(("Labels", "Volumes", "ExposedPorts", "PortBindings", "StorageOpt", "Tmpfs",
                   "Sysctls", "Annotations", "Ports", "Networks", "Data", "DriverOpts", "Options"))
_SLICES = frozenset((
    "Args", "ExecIDs", "Cmd", "Entrypoint", "Env", "OnBuild", "Shell", "Binds", "Links", "Dns",
    "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "CapAdd", "CapDrop", "SecurityOpt",
    "Devices", "DeviceCgroupRules", "DeviceRequests", "Ulimits", "BlkioWeightDevice",
    "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps",
    "MaskedPaths", "ReadonlyPaths", "VolumesFrom", "Mounts", "Aliases", "DNSNames", "RepoTags",
    "RepoDigests", "Layers", "SecondaryIPAddresses", "SecondaryIPv6Addresses", "Log",
))
# omitempty fields (by the path of the struct that has them) and their zero values
_OPTIONAL_CONTAINER = {
    (): {"Node": None, "SizeRw": None, "SizeRootFs": None, "ImageManifestDescriptor": None},
    ("State",): {"Health": None},
    ("Config",): {"Healthcheck": None, "ArgsEscaped": False, "ExposedPorts": NIL_MAP,
                  "StopSignal": "", "StopTimeout": None, "Shell": NIL_SLICE,
                  "NetworkDisabled": False, "MacAddress": "", "OnBuild": NIL_SLICE},
    ("HostConfig",): {"Annotations": NIL_MAP, "Init": None, "KernelMemory": 0,
                      "KernelMemoryTCP": 0, "StorageOpt": NIL_MAP, "Tmpfs": NIL_MAP,
                      "Sysctls": NIL_MAP, "Runtime": "", "Mounts": NIL_SLICE},
    ("Mounts",): {"Name": "", "Driver": ""},
}
_IMAGE_CONFIG_ZERO = {"User": "", "ExposedPorts": NIL_MAP, "Env": NIL_SLICE,
                      "Entrypoint": NIL_SLICE, "Cmd": NIL_SLICE, "Volumes": NIL_MAP,
                      "WorkingDir": "", "Labels": NIL_MAP, "StopSignal": "", "ArgsEscaped": False,
                      "Healthcheck": None, "OnBuild": NIL_SLICE, "Shell": NIL_SLICE}
_OPTIONAL_IMAGE = {
    (): {"Container": "", "ContainerConfig": None, "VirtualSize": 0, "Descriptor": None,
         "Manifests": NIL_SLICE, "Parent": "", "Comment": "", "DockerVersion": "", "Author": "",
         "Variant": "", "OsVersion": "", "Created": ""},
    ("Config",): _IMAGE_CONFIG_ZERO,
    ("ContainerConfig",): _IMAGE_CONFIG_ZERO,
}
# docker 28's image Config is the OCI image config (+ Docker's extensions), every field
# omitempty: {{json .Config}} of an image shows only what is set
_IMAGE_CONFIG = tuple(_IMAGE_CONFIG_ZERO)
# fields whose Go name is not their JSON key: the typed run knows them by the Go name,
# the raw run by the key, so in docker both work ({{.ID}} and {{.Id}})
_GO_NAMES = {
    (): {"Id": "ID"},
    ("HostConfig",): {"CpuShares": "CPUShares", "NanoCpus": "NanoCPUs", "CpuPeriod": "CPUPeriod",
                      "CpuQuota": "CPUQuota", "CpuRealtimePeriod": "CPURealtimePeriod",
                      "CpuRealtimeRuntime": "CPURealtimeRuntime", "CpuCount": "CPUCount",
                      "CpuPercent": "CPUPercent", "Dns": "DNS", "DnsOptions": "DNSOptions",
                      "DnsSearch": "DNSSearch"},
}


# time.Time fields (strings in JSON, Go's Time.String() when printed)
_TIMES = {("Metadata", "LastTagTime"), ("State", "Health", "Log", "Start"),
          ("State", "Health", "Log", "End")}


class GoTime:
    """A time.Time decoded from RFC 3339: prints as Go's Time.String(), marshals back."""

    GO_TYPE = "time.Time"

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        date, _, clock = self.text.partition("T")
        zone = "Z"
        for sign in ("Z", "+", "-"):
            if sign in clock:
                clock, _, rest = clock.partition(sign)
                zone = sign + rest
                break
        whole, _, frac = clock.partition(".")
        frac = frac.rstrip("0")
        if zone == "Z":
            zone = "+0000 UTC"
        else:
            offset = zone.replace(":", "")
            zone = f"{offset} {offset}"
        return f"{date} {whole}{'.' + frac if frac else ''} {zone}"

    def _go_marshal_json(self) -> str:
        return '"%s"' % self.text


def _is_map(path: tuple) -> bool:
    return bool(path) and (path[-1] in _MAPS or path[-2:] == ("LogConfig", "Config"))


def typed(value, path: tuple = (), image: bool | None = None):
    """The decoded JSON as docker's typed struct behaves in a template."""
    if image is None:
        image = isinstance(value, dict) and "RootFS" in value
    if isinstance(value, list):
        return [typed(v, path, image) for v in value]
    if isinstance(value, str) and path in _TIMES:
        return GoTime(value)
    if not isinstance(value, dict) or value is NIL_MAP:
        return value
    if _is_map(path):  # a Go map: its keys sorted, as Go's json and fmt print them
        return {k: typed(v, path + ("*",), image) for k, v in sorted(value.items())}
    image_config = image and path in (("Config",), ("ContainerConfig",))
    fields, tags, go_names = {}, {}, _GO_NAMES.get(path, {})
    for key, v in value.items():
        if image_config and key not in _IMAGE_CONFIG:
            continue
        if v is None:
            v = NIL_MAP if key in _MAPS else NIL_SLICE if key in _SLICES else None
        name = go_names.get(key, key)
        if name != key or image_config:
            tags[name] = (key, image_config)
        fields[name] = typed(v, path + (key,), image)
    for name, zero in (_OPTIONAL_IMAGE if image else _OPTIONAL_CONTAINER).get(path, {}).items():
        if name not in fields:  # the field is there in Go, empty, and JSON omits it
            fields[name] = zero
            tags[name] = (name, True)
    return Struct(fields, "struct", tags=tags)


class Inspector:
    """One template for every object; parse errors are the caller's (exit 64)."""

    def __init__(self, fmt: str, typer=None) -> None:
        self.tmpl = gotemplate.parse(fmt)
        self.typer = typer or typed  # the decoded JSON -> docker's typed struct

    def execute(self, doc) -> str:
        """The text for one object, or TemplateError worded as docker prints it."""
        try:
            return self.tmpl.execute(self.typer(doc))
        except gotemplate.TemplateError:
            pass
        try:
            return self.tmpl.execute(doc, missing_key_error=True)
        except gotemplate.TemplateError as exc:
            raise gotemplate.TemplateError(f"template parsing error: {exc}") from None
