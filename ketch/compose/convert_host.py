"""The parts of a container's create body that are plain translations of service keys:
ports, healthcheck, restart policy, resources (the service's own keys, then deploy.resources
over them), ulimits, devices, blkio and security options.

Each function follows the compose v2 function of the same role in pkg/compose/create.go
(buildContainerPorts, ToMobyHealthCheck, getRestartPolicy, getDeployResources,
parseSecurityOpts). Zero values are left out, as the engine's defaults are the same.
"""

from __future__ import annotations

import os

from ketch.compose.errors import ComposeError
from ketch.compose.model import Healthcheck, Project, Service, duration_ns
from ketch.units import parse_ram


def _port_key(target: int | str, protocol: str | None) -> str:
    return f"{target}/{protocol or 'tcp'}"


def exposed_ports(service: Service) -> dict[str, dict]:
    """Config.ExposedPorts: ``expose`` (ranges expanded, tcp by default) and every port's target."""
    ports: dict[str, dict] = {}
    for spec in service.expose:
        port, _, proto = str(spec).partition("/")
        first, _, last = port.partition("-")
        for number in range(int(first), int(last or first) + 1):
            ports[_port_key(number, proto)] = {}
    for p in service.ports:
        ports[_port_key(p.target, p.protocol)] = {}
    return ports


def port_bindings(service: Service) -> dict[str, list[dict]]:
    """HostConfig.PortBindings: published ports by ``target/protocol``."""
    bindings: dict[str, list[dict]] = {}
    for p in service.ports:
        bindings.setdefault(_port_key(p.target, p.protocol), []).append(
            {"HostIp": p.host_ip or "", "HostPort": p.published or ""})
    return bindings


def healthcheck(check: Healthcheck | None) -> dict | None:
    """Config.Healthcheck, durations in nanoseconds; ``disable: true`` is ``["NONE"]``."""
    if check is None:
        return None
    test = ["NONE"] if check.disable else check.test
    body = {"Test": test, "Interval": duration_ns(check.interval),
            "Timeout": duration_ns(check.timeout), "StartPeriod": duration_ns(check.start_period),
            "StartInterval": duration_ns(check.start_interval), "Retries": check.retries}
    return {k: v for k, v in body.items() if v}


_RESTART = {"none": "no", "no": "no", "on-failure": "on-failure", "unless-stopped": "unless-stopped",
            "any": "always", "always": "always"}


def restart_policy(service: Service) -> dict | None:
    """HostConfig.RestartPolicy from ``restart`` ("on-failure:3"), deploy.restart_policy winning."""
    policy = None
    if service.restart:
        name, _, count = service.restart.partition(":")
        policy = {"Name": _RESTART.get(name, name), "MaximumRetryCount": _atoi(count)}
    deploy = service.deploy.restart_policy if service.deploy is not None else None
    if deploy is not None:
        condition = deploy.condition or ""
        policy = {"Name": _RESTART.get(condition, condition),
                  "MaximumRetryCount": deploy.max_attempts or 0}
    return policy


def _atoi(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


def resources(service: Service) -> dict:
    """The HostConfig's Resources fields (compose's getDeployResources)."""
    s = service
    body: dict = {
        "CgroupParent": s.cgroup_parent, "Memory": s.mem_limit, "MemorySwap": s.memswap_limit,
        "MemoryReservation": s.mem_reservation, "CpuPeriod": s.cpu_period, "CpuQuota": s.cpu_quota,
        "CpuShares": s.cpu_shares, "NanoCpus": int(s.cpus * 1e9) if s.cpus else None,
        "CpusetCpus": s.cpuset, "DeviceCgroupRules": list(s.device_cgroup_rules),
        "PidsLimit": s.pids_limit,
    }
    if s.mem_swappiness:
        body["MemorySwappiness"] = s.mem_swappiness
    if s.oom_kill_disable is not None:
        body["OomKillDisable"] = s.oom_kill_disable
    _blkio(s.blkio_config, body)
    res = s.deploy.resources if s.deploy is not None else None
    if res is not None and res.limits is not None:
        lim = res.limits
        if lim.memory:
            body["Memory"] = lim.memory
        if lim.cpus:
            body["NanoCpus"] = int(lim.cpus * 1e9)
        if lim.pids and lim.pids > 0:
            body["PidsLimit"] = lim.pids
    if res is not None and res.reservations is not None and res.reservations.memory:
        body["MemoryReservation"] = res.reservations.memory
    body["Devices"] = [{"PathOnHost": d.source, "PathInContainer": d.target,
                        "CgroupPermissions": d.permissions} for d in s.devices]
    body["Ulimits"] = ulimits(s)
    return {k: v for k, v in body.items() if v not in (None, "", 0, [])}


def ulimits(service: Service) -> list[dict]:
    """HostConfig.Ulimits: ``nofile: 1024`` sets both; soft/hard over the single value."""
    out = []
    for name, u in sorted(service.ulimits.items()):
        soft = u.soft if u.soft else u.single
        hard = u.hard if u.hard else u.single
        out.append({"Name": name, "Soft": soft or 0, "Hard": hard or 0})
    return out


_BLKIO_THROTTLE = {"device_read_bps": "BlkioDeviceReadBps", "device_read_iops": "BlkioDeviceReadIOps",
                   "device_write_bps": "BlkioDeviceWriteBps", "device_write_iops": "BlkioDeviceWriteIOps"}


def _blkio(config: dict | None, body: dict) -> None:
    if not config:
        return
    if config.get("weight"):
        body["BlkioWeight"] = config["weight"]
    if config.get("weight_device"):
        body["BlkioWeightDevice"] = [{"Path": d["path"], "Weight": d["weight"]}
                                     for d in config["weight_device"]]
    for key, field in _BLKIO_THROTTLE.items():
        if config.get(key):
            body[field] = [{"Path": d["path"], "Rate": _rate(d["rate"])} for d in config[key]]


def _rate(value) -> int:
    """A rate as written ("12mb" for bps) when the loader left it a string: go-units RAMInBytes."""
    if isinstance(value, str):
        try:
            return parse_ram(value)
        except ValueError as e:
            raise ComposeError(str(e)) from None
    return int(value)


def security_opts(project: Project, opts: list[str]) -> tuple[list[str], bool]:
    """(SecurityOpt, systempaths unconfined): a seccomp profile's file is read and sent inline,
    as the docker CLI does; a relative path is the project directory's."""
    parsed, unconfined = [], False
    for opt in opts:
        if opt == "systempaths=unconfined":
            unconfined = True
            continue
        key, sep, value = opt.partition("=")
        if not sep and opt != "no-new-privileges":
            if ":" not in opt:
                raise ComposeError(f'Invalid security-opt: "{opt}"')
            key, _, value = opt.partition(":")
        if key == "seccomp" and value != "unconfined":
            from ketch.cli.hostopts import HostOptError, seccomp_inline
            try:
                parsed.append(seccomp_inline(value, os.path.join(project.working_dir, value)))
            except HostOptError as e:
                raise ComposeError(str(e)) from None
        else:
            parsed.append(opt)
    return parsed, unconfined
