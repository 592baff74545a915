"""Create and update fields ketch does not implement yet: refused, never silently ignored.

A user must never believe a port is published or a volume mounted when it is not. Each
row names a field of the create body (moby's API types), the docker flag that sets it,
and what counts as "not asked for": the zero values the docker CLI and SDK send on
every create (``"Binds": null``, ``"PortBindings": {}``, ``"NetworkMode": "default"``...). Any other value is a 400 naming the field.
A feature lifts its refusal by deleting its row.

Accepted on purpose, with the reason:
  NetworkDisabled: true asks for what --network none does.
  ExposedPorts: metadata in Docker too until something publishes them (kept, shown).
  OnBuild, Shell, ArgsEscaped: metadata for builds and Windows; no run-time meaning.
  ContainerIDFile: written by the client (docker run --cidfile), never by the daemon.
  UsernsMode "host": no user namespace, which is what ketch does.
  LogConfig.Type "json-file" and "none" with max-size, max-file, compress (logconfig.py
    checks them as moby does; an unknown driver name gets dockerd's message there).
"""

from dataclasses import dataclass
from typing import Callable

from ketch.errors import InvalidArgument
from ketch.engine.specgen import MASKED_PATHS, READONLY_PATHS

SUFFIX = "is not supported by this version of ketch"


def unset(value: object) -> bool:
    """Go's zero value, as a JSON client sends it: null, "", 0, false, [], {}."""
    return value is None or value in ("", 0, False) or value == [] or value == {}


# Docker's drivers ketch does not have (json-file, local and none it has; any other name
# is not a driver at all, and gets dockerd's "error looking up logging plugin" from logconfig.py).
DOCKER_LOG_DRIVERS = ("syslog", "journald", "gelf", "fluentd", "awslogs", "splunk",
                      "etwlogs", "gcplogs", "logentries")
# json-file and local options ketch's writers do not do (attributes on each entry, the copier's mode)
LOG_OPTS_MISSING = ("labels", "labels-regex", "env", "env-regex", "tag", "mode", "max-buffer-size")


def _log_opts_missing(value: object) -> list[str]:
    return sorted(k for k in value if k in LOG_OPTS_MISSING) if isinstance(value, dict) else []


def _default_list(defaults: tuple[str, ...]) -> Callable[[object], bool]:
    return lambda value: value is None or list(value) == list(defaults)


@dataclass(frozen=True)
class Row:
    path: str  # "HostConfig.PortBindings": where the field is in the create body
    flag: str  # the docker flag that sets it, for the message
    values: tuple = ()  # accepted values besides null (a mode's names); shown when refused
    accepts: Callable[[object], bool] = unset
    names: Callable[[object], object] | None = None  # what the message shows of a refused value

    def refuses(self, value: object) -> bool:
        if self.values:
            return value is not None and value not in self.values
        return not self.accepts(value)

    def message(self, value: object) -> str:
        if self.names:
            value = self.names(value)
        shown = f' "{value}"' if self.values or self.names else ""
        return f"{self.path}{shown} ({self.flag}) {SUFFIX}"


CONFIG_ROWS = (
    Row("MacAddress", "--mac-address"),
)

# Fields `docker update` may send as well (container.UpdateConfig; its RestartPolicy is
# implemented: engine/restart.py).
RESOURCE_ROWS = (
    Row("HostConfig.BlkioWeightDevice", "--blkio-weight-device"),
    Row("HostConfig.BlkioDeviceReadBps", "--device-read-bps"),
    Row("HostConfig.BlkioDeviceWriteBps", "--device-write-bps"),
    Row("HostConfig.BlkioDeviceReadIOps", "--device-read-iops"),
    Row("HostConfig.BlkioDeviceWriteIOps", "--device-write-iops"),
    Row("HostConfig.CpuRealtimePeriod", "--cpu-rt-period"),
    Row("HostConfig.CpuRealtimeRuntime", "--cpu-rt-runtime"),
    Row("HostConfig.DeviceCgroupRules", "--device-cgroup-rule"),
    Row("HostConfig.DeviceRequests", "--gpus"),
    Row("HostConfig.KernelMemory", "--kernel-memory"),
    Row("HostConfig.KernelMemoryTCP", "KernelMemoryTCP"),
    Row("HostConfig.CpuCount", "--cpu-count"),
    Row("HostConfig.CpuPercent", "--cpu-percent"),
)

HOST_ROWS = (
    Row("HostConfig.StorageOpt", "--storage-opt"),
    Row("HostConfig.LogConfig.Type", "--log-driver", accepts=lambda v: v not in DOCKER_LOG_DRIVERS,
        names=lambda v: v),
    Row("HostConfig.LogConfig.Config", "--log-opt", accepts=lambda v: not _log_opts_missing(v),
        names=lambda v: _log_opts_missing(v)[0]),
    Row("HostConfig.IpcMode", "--ipc", values=("", "private")),
    Row("HostConfig.PidMode", "--pid", values=("",)),
    Row("HostConfig.UTSMode", "--uts", values=("",)),
    Row("HostConfig.UsernsMode", "--userns", values=("", "host")),
    Row("HostConfig.Cgroup", "--cgroup", values=("",)),
    Row("HostConfig.Annotations", "--annotation"),
    Row("HostConfig.MaskedPaths", "MaskedPaths", accepts=_default_list(MASKED_PATHS)),
    Row("HostConfig.ReadonlyPaths", "ReadonlyPaths", accepts=_default_list(READONLY_PATHS)),
    *RESOURCE_ROWS,
)

# Mounts are done (engine/volumes/), but only under "HostConfig": at the top of the body
# (the deprecated embedded HostConfig) they would be ignored, so they stay refused there.
TOP_LEVEL_ROWS = (
    Row("HostConfig.Binds", "-v, --volume"),
    Row("HostConfig.Mounts", "--mount"),
    Row("HostConfig.VolumeDriver", "--volume-driver"),
    Row("HostConfig.VolumesFrom", "--volumes-from"),
    Row("HostConfig.Tmpfs", "--tmpfs"),
)

# The endpoint settings a create may carry for each network (docker 28 sends the
# network mode's entry, all zero, on every run).
ENDPOINT_FLAGS = {"DriverOpts": "--network driver-opt",
                  "GwPriority": "--network gw-priority"}


def _get(body: dict, path: str) -> object:
    value: object = body
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _refuse(rows: tuple[Row, ...], body: dict) -> None:
    for row in rows:
        value = _get(body, row.path)
        if row.refuses(value):
            raise InvalidArgument(row.message(value))


def _endpoints(body: dict) -> None:
    endpoints = _get(body, "NetworkingConfig.EndpointsConfig") or {}
    for network, settings in endpoints.items():
        where = f"NetworkingConfig.EndpointsConfig.{network}"
        for key, value in (settings or {}).items():
            if key in ENDPOINT_FLAGS and not unset(value):
                raise InvalidArgument(f"{where}.{key} ({ENDPOINT_FLAGS.get(key, key)}) {SUFFIX}")


def check_create(body: dict) -> None:
    """Refuse a create body that asks for something ketch would not do."""
    _refuse(HOST_ROWS, body)
    # moby still reads HostConfig fields at the top of the body (the deprecated embedded
    # HostConfig of ContainerConfigWrapper): they must not slip past either
    _refuse(HOST_ROWS + TOP_LEVEL_ROWS, {"HostConfig": body})
    _refuse(CONFIG_ROWS, body)
    _endpoints(body)


def check_update(body: dict) -> None:
    """The same for `docker update` (its body is the resources and restart policy, flat)."""
    _refuse(RESOURCE_ROWS, {"HostConfig": body})
