"""The project model: the Compose specification's canonical form as typed, frozen values.

The loader reads, interpolates, validates, merges and normalises compose files into the
canonical form (every short syntax expanded: ports, volumes, depends_on, networks,
environment as a map, build as an object, sizes in bytes, relative paths made absolute),
then builds these values with ``from_canonical``. Everything after the loader (convert,
observe, plan, executor, the commands) reads only these values. ``to_canonical`` gives
the canonical mapping back: ``compose config`` prints it and the config hash digests it.

Field names are the specification's keys, so the mapping is mechanical: a dataclass is
a mapping, ``dict[str, X]`` a mapping of X, ``list[X]`` a sequence of X. Absent keys are
``None`` (or an empty collection), and ``to_canonical`` leaves them out as compose does.
Durations stay the specification's strings ("1m30s"); ``duration_ns`` reads them.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import types
import typing
from dataclasses import dataclass, field

Json = typing.Any  # a JSON-like value (x- extensions, driver-specific blobs)


@dataclass(frozen=True)
class BuildConfig:
    context: str = "."  # absolute after loading (or a URL: git, http)
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: dict[str, str | None] = field(default_factory=dict)  # None: taken from the environment
    target: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    cache_from: list[str] = field(default_factory=list)
    cache_to: list[str] = field(default_factory=list)
    network: str | None = None
    shm_size: int | None = None  # bytes
    extra_hosts: list[str] = field(default_factory=list)  # "host=ip"
    tags: list[str] = field(default_factory=list)
    pull: bool | None = None
    no_cache: bool | None = None
    platforms: list[str] = field(default_factory=list)
    additional_contexts: dict[str, str] = field(default_factory=dict)
    secrets: list[FileReference] = field(default_factory=list)
    ssh: list[str] = field(default_factory=list)
    ulimits: dict[str, Ulimit] = field(default_factory=dict)
    isolation: str | None = None
    privileged: bool | None = None
    entitlements: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PortConfig:
    target: int
    published: str | None = None  # "8080", "8080-8081" or None (an ephemeral port)
    host_ip: str | None = None
    protocol: str = "tcp"
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None


@dataclass(frozen=True)
class BindOptions:
    propagation: str | None = None
    create_host_path: bool | None = None  # short syntax: True
    selinux: str | None = None  # "z" or "Z"
    recursive: str | None = None


@dataclass(frozen=True)
class VolumeOptions:
    nocopy: bool | None = None
    subpath: str | None = None


@dataclass(frozen=True)
class TmpfsOptions:
    size: int | None = None  # bytes
    mode: int | None = None


@dataclass(frozen=True)
class ServiceVolume:
    type: str  # volume | bind | tmpfs | npipe | cluster | image
    target: str
    source: str | None = None  # a top-level volume's key, an absolute host path, or None (anonymous)
    read_only: bool | None = None
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None


@dataclass(frozen=True)
class ServiceNetwork:
    aliases: list[str] = field(default_factory=list)
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: list[str] = field(default_factory=list)
    mac_address: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    priority: int | None = None
    gw_priority: int | None = None


@dataclass(frozen=True)
class DependsOn:
    condition: str = "service_started"  # service_started | service_healthy | service_completed_successfully
    restart: bool = False
    required: bool = True


@dataclass(frozen=True)
class Healthcheck:
    test: list[str] | None = None  # ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"]
    interval: str | None = None  # durations as written: "30s", "1m30s"
    timeout: str | None = None
    start_period: str | None = None
    start_interval: str | None = None
    retries: int | None = None
    disable: bool | None = None


@dataclass(frozen=True)
class ResourceSpec:
    cpus: float | None = None
    memory: int | None = None  # bytes
    pids: int | None = None


@dataclass(frozen=True)
class Resources:
    limits: ResourceSpec | None = None
    reservations: ResourceSpec | None = None


@dataclass(frozen=True)
class RestartPolicy:
    condition: str | None = None  # none | on-failure | any
    delay: str | None = None
    max_attempts: int | None = None
    window: str | None = None


@dataclass(frozen=True)
class Deploy:
    mode: str | None = None
    replicas: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    extra: dict[str, Json] = field(default_factory=dict)  # placement, update_config, ...: swarm's, kept for config


@dataclass(frozen=True)
class Ulimit:
    single: int | None = None  # `nofile: 1024`
    soft: int | None = None
    hard: int | None = None


@dataclass(frozen=True)
class Logging:
    driver: str | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileReference:
    """A service's use of a top-level secret or config (long syntax)."""
    source: str
    target: str | None = None  # secrets: /run/secrets/<source>; configs: /<source>
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass(frozen=True)
class DeviceMapping:
    source: str
    target: str
    permissions: str = "rwm"


@dataclass(frozen=True)
class Service:
    name: str
    image: str | None = None
    build: BuildConfig | None = None
    command: list[str] | None = None  # None: the image's; a string is split as a shell would
    entrypoint: list[str] | None = None
    environment: dict[str, str | None] = field(default_factory=dict)  # env_file and .env merged in
    ports: list[PortConfig] = field(default_factory=list)
    expose: list[str] = field(default_factory=list)
    volumes: list[ServiceVolume] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)
    networks: dict[str, ServiceNetwork | None] = field(default_factory=dict)  # {"default": None} when none given
    network_mode: str | None = None
    depends_on: dict[str, DependsOn] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    restart: str | None = None
    container_name: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    working_dir: str | None = None
    stop_signal: str | None = None
    stop_grace_period: str | None = None
    ulimits: dict[str, Ulimit] = field(default_factory=dict)
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    privileged: bool | None = None
    read_only: bool | None = None
    init: bool | None = None
    pid: str | None = None
    ipc: str | None = None
    uts: str | None = None
    userns_mode: str | None = None
    cgroup: str | None = None
    cgroup_parent: str | None = None
    shm_size: int | None = None  # bytes
    sysctls: dict[str, str] = field(default_factory=dict)
    devices: list[DeviceMapping] = field(default_factory=list)
    device_cgroup_rules: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    group_add: list[str] = field(default_factory=list)
    deploy: Deploy | None = None
    scale: int | None = None
    mem_limit: int | None = None  # bytes
    mem_reservation: int | None = None
    memswap_limit: int | None = None
    mem_swappiness: int | None = None
    cpus: float | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpuset: str | None = None
    pids_limit: int | None = None
    oom_kill_disable: bool | None = None
    oom_score_adj: int | None = None
    storage_opt: dict[str, str] = field(default_factory=dict)
    blkio_config: dict[str, Json] | None = None
    extra_hosts: list[str] = field(default_factory=list)  # "host=ip" (also read from "host:ip")
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opt: list[str] = field(default_factory=list)
    mac_address: str | None = None
    logging: Logging | None = None
    secrets: list[FileReference] = field(default_factory=list)
    configs: list[FileReference] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    external_links: list[str] = field(default_factory=list)
    volumes_from: list[str] = field(default_factory=list)
    tty: bool | None = None
    stdin_open: bool | None = None
    attach: bool | None = None  # False: `up` does not show its output
    pull_policy: str | None = None  # always | never | missing | build | daily | weekly | every_<d>
    platform: str | None = None
    runtime: str | None = None
    isolation: str | None = None
    profiles: list[str] = field(default_factory=list)
    extensions: dict[str, Json] = field(default_factory=dict)  # x-* keys, kept for config

    @property
    def replicas(self) -> int:
        """How many containers `up` runs: scale, else deploy.replicas, else 1."""
        if self.scale is not None:
            return self.scale
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1


@dataclass(frozen=True)
class IpamPool:
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None
    aux_addresses: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ipam:
    driver: str | None = None
    config: list[IpamPool] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    name: str  # the engine's name: "<project>_<key>" unless `name:` or external
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    ipam: Ipam | None = None
    external: bool | None = None
    internal: bool | None = None
    attachable: bool | None = None
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Json] = field(default_factory=dict)


@dataclass(frozen=True)
class Volume:
    name: str  # the engine's name: "<project>_<key>" unless `name:` or external
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    external: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Json] = field(default_factory=dict)


@dataclass(frozen=True)
class FileObject:
    """A top-level secret or config."""
    name: str
    file: str | None = None  # absolute after loading
    environment: str | None = None
    content: str | None = None
    external: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Project:
    name: str  # normalised as Docker does: lowercase, [a-z0-9_-], starting with a letter or digit
    working_dir: str  # absolute: --project-directory, else the first file's directory
    config_files: list[str] = field(default_factory=list)  # absolute paths, in -f order
    services: dict[str, Service] = field(default_factory=dict)  # enabled by the active profiles
    disabled_services: dict[str, Service] = field(default_factory=dict)  # in an inactive profile
    networks: dict[str, Network] = field(default_factory=dict)  # "default" added when a service uses it
    volumes: dict[str, Volume] = field(default_factory=dict)
    secrets: dict[str, FileObject] = field(default_factory=dict)
    configs: dict[str, FileObject] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)  # what interpolation saw (.env, --env-file, os)
    profiles: list[str] = field(default_factory=list)  # the active ones
    extensions: dict[str, Json] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        """An enabled service; KeyError names it as compose does."""
        try:
            return self.services[name]
        except KeyError:
            raise KeyError(f"no such service: {name}") from None


# -- canonical mapping <-> values --------------------------------------------------------

_HINTS: dict[type, dict[str, typing.Any]] = {}


def _hints(cls: type) -> dict[str, typing.Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, vars(sys.modules[__name__]))
    return _HINTS[cls]


def _build(hint, value):
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        for member in members:
            if dataclasses.is_dataclass(member) and isinstance(value, dict):
                return _build(member, value)
        return _build(members[0], value) if len(members) == 1 else value
    if dataclasses.is_dataclass(hint):
        return from_canonical(hint, value)
    if origin is dict:
        _, item = typing.get_args(hint)
        return {str(k): _build(item, v) for k, v in value.items()}
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_build(item, v) for v in value]
    return value


def from_canonical(cls: type, data: dict):
    """Build ``cls`` from a canonical mapping; unknown keys are a TypeError (a loader bug)."""
    hints = _hints(cls)
    unknown = set(data) - set(hints)
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    return cls(**{k: _build(hints[k], v) for k, v in data.items()})


def _empty(value) -> bool:
    return value is None or (isinstance(value, (dict, list)) and not value)


def to_canonical(value):
    """The canonical mapping of a value: None and empty collections left out (``omitempty``);
    None inside a mapping stays (a service's network without options, an unset arg)."""
    if dataclasses.is_dataclass(value):
        out = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.name == "name" and isinstance(value, Service):
                continue  # the key it sits under
            if _empty(item):
                continue
            out[f.name] = to_canonical(item)
        return out
    if isinstance(value, dict):
        return {k: (None if v is None else to_canonical(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [to_canonical(v) for v in value]
    return value


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}


def duration_ns(text: str | None) -> int | None:
    """Go's time.ParseDuration ("1m30s", "500ms"; "0" alone too) in nanoseconds."""
    if text is None:
        return None
    text = str(text).strip()
    if text in ("0", ""):
        return 0
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"time: invalid duration {text!r}")
    return int(total)
