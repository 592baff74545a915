"""Engine records -> Docker's JSON shapes (ContainerJSON, Container summary, image views).

Docker fills every field of its structs, so clients read zero values rather than
missing keys; these functions do the same, in Docker's field order.
"""

import time

from ketch import timefmt
from ketch.engine import logconfig
from ketch.engine.images.service import Image
from ketch.engine.containers.bundle import Paths
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.specgen import MASKED_PATHS, READONLY_PATHS
from ketch.oci import reference
from ketch.units import human_duration

DRIVER = "overlay2"


def _since(ts: str) -> float:
    return max(0.0, time.time() - timefmt.parse_ns(ts) / 1e9)


def state_json(rec: ContainerRecord) -> dict:
    """Docker's State object: the lifecycle's, with ``Health`` when the container has one."""
    state = rec.state.to_docker()
    if rec.health is not None:
        state["Health"] = rec.health.to_docker()
    return state


def status_text(st: dict) -> str:
    """moby's State.String() of Docker's State object."""
    if st["Running"]:
        if st.get("Restarting"):
            return f"Restarting ({st['ExitCode']}) {human_duration(_since(st['FinishedAt']))} ago"
        if st["Paused"]:
            return f"Up {human_duration(_since(st['StartedAt']))} (Paused)"
        if st.get("Health"):
            status = st["Health"]["Status"]
            shown = "health: starting" if status == "starting" else status
            return f"Up {human_duration(_since(st['StartedAt']))} ({shown})"
        return f"Up {human_duration(_since(st['StartedAt']))}"
    if st["Status"] == "removing":
        return "Removal In Progress"
    if st["Dead"]:
        return "Dead"
    if st["StartedAt"] == timefmt.ZERO:
        return "Created"
    if st["FinishedAt"] == timefmt.ZERO:
        return ""
    return f"Exited ({st['ExitCode']}) {human_duration(_since(st['FinishedAt']))} ago"


def command_text(rec: ContainerRecord) -> str:
    args = [f"'{a}'" if " " in a else a for a in rec.args]
    return " ".join([rec.path] + args) if args else rec.path


def _familiar_tags(tags) -> list[str]:
    return [reference.parse(t).familiar for t in tags]


_HEALTHCHECK_KEYS = ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")


def healthcheck_config(doc: dict) -> dict:
    """Docker's HealthConfig: its fields in order, each omitted when empty or zero."""
    return {key: doc[key] for key in _HEALTHCHECK_KEYS if doc.get(key)}


def container_config(rec: ContainerRecord) -> dict:
    cfg = rec.config
    out = {
        "Hostname": cfg.get("Hostname") or rec.id[:12], "Domainname": cfg.get("Domainname") or "",
        "User": cfg.get("User") or "", "AttachStdin": bool(cfg.get("AttachStdin")),
        "AttachStdout": bool(cfg.get("AttachStdout")), "AttachStderr": bool(cfg.get("AttachStderr")),
    }
    if cfg.get("ExposedPorts"):
        out["ExposedPorts"] = cfg["ExposedPorts"]
    out.update({
        "Tty": bool(cfg.get("Tty")), "OpenStdin": bool(cfg.get("OpenStdin")),
        "StdinOnce": bool(cfg.get("StdinOnce")), "Env": cfg.get("Env"), "Cmd": cfg.get("Cmd"),
    })
    if cfg.get("Healthcheck"):
        out["Healthcheck"] = healthcheck_config(cfg["Healthcheck"])
    out.update({
        "Image": cfg.get("Image") or rec.image, "Volumes": cfg.get("Volumes"),
        "WorkingDir": cfg.get("WorkingDir") or "", "Entrypoint": cfg.get("Entrypoint"),
        "OnBuild": cfg.get("OnBuild"), "Labels": cfg.get("Labels") or {},
    })
    for key in ("StopSignal", "StopTimeout", "Shell"):
        if cfg.get(key) is not None:
            out[key] = cfg[key]
    return out


def host_config(rec: ContainerRecord) -> dict:
    hc = rec.host_config
    out = {
        "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "none", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False, "VolumeDriver": "", "VolumesFrom": None, "ConsoleSize": [0, 0],
        "CapAdd": None, "CapDrop": None, "CgroupnsMode": "private", "Dns": [], "DnsOptions": [],
        "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None, "IpcMode": "private", "Cgroup": "",
        "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False,
        "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "",
        "ShmSize": 67108864, "Runtime": rec.runtime, "Isolation": "", "CpuShares": 0, "Memory": 0,
        "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [], "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [], "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [],
        "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0, "MemorySwap": 0,
        "MemorySwappiness": None, "OomKillDisable": None, "PidsLimit": None, "Ulimits": None,
        "CpuCount": 0, "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0,
        "MaskedPaths": list(MASKED_PATHS), "ReadonlyPaths": list(READONLY_PATHS),
    }
    for key, value in hc.items():
        if key in out and value is not None and value != "":
            out[key] = value
    out["Runtime"] = rec.runtime
    out["LogConfig"] = logconfig.normalize(hc.get("LogConfig"))  # records from before it was stored so
    return out


def _log_path(rec: ContainerRecord, paths: Paths) -> str:
    """moby sets LogPath when the json-file logger first starts: empty before the first
    start, and for any other driver."""
    driver = logconfig.normalize(rec.host_config.get("LogConfig"))["Type"]
    started = rec.state.started_at != timefmt.ZERO
    return paths.log_path(rec.id) if started and driver == logconfig.JSON_FILE else ""


def container_json(rec: ContainerRecord, paths: Paths, size_rw: int | None = None,
                   image_size: int = 0, graph_data: dict[str, str] | None = None) -> dict:
    data = paths.data_dir(rec.id)
    doc = {
        "Id": rec.id, "Created": rec.created, "Path": rec.path, "Args": rec.args,
        "State": state_json(rec), "Image": rec.image_id,
        "ResolvConfPath": f"{data}/resolv.conf", "HostnamePath": f"{data}/hostname",
        "HostsPath": f"{data}/hosts", "LogPath": _log_path(rec, paths), "Name": "/" + rec.name,
        "RestartCount": rec.restart_count, "Driver": DRIVER, "Platform": "linux",
        "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "", "ExecIDs": None,
        "HostConfig": host_config(rec),
        "GraphDriver": {"Data": graph_data or {"MergedDir": paths.bundle_rootfs(rec.id)},
                        "Name": DRIVER},
    }
    if size_rw is not None:
        doc["SizeRw"] = size_rw
        doc["SizeRootFs"] = size_rw + image_size
    doc.update({
        "Mounts": [],
        "Config": container_config(rec),
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "HairpinMode": False,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None, "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
            "MacAddress": "", "Networks": {},
        },
    })
    return doc


def summary_image(rec: ContainerRecord) -> str:
    """The summary's Image: as the user named it, or the image's ID when they named it so."""
    return rec.image_id if rec.image.startswith("sha256:") else rec.image


def container_summary(rec: ContainerRecord, size_rw: int | None = None,
                      image_size: int = 0) -> dict:
    state = state_json(rec)
    doc = {
        "Id": rec.id, "Names": ["/" + rec.name], "Image": summary_image(rec), "ImageID": rec.image_id,
        "Command": command_text(rec), "Created": int(timefmt.parse_ns(rec.created) // 10**9),
        "Ports": [], "Labels": rec.config.get("Labels") or {}, "State": state["Status"],
        "Status": status_text(state),
        "HostConfig": {"NetworkMode": "none"},
        "NetworkSettings": {"Networks": {}}, "Mounts": [],
    }
    if size_rw is not None:
        doc["SizeRw"] = size_rw
        doc["SizeRootFs"] = size_rw + image_size
    return doc


def image_summary(image: Image, containers: int = -1, tags: tuple[str, ...] | None = None,
                  digests: tuple[str, ...] | None = None) -> dict:
    """``tags``, ``digests``: the references to list (a reference filter's matches), by
    default all."""
    return {
        "Containers": containers, "Created": int(timefmt.parse_ns(image.created) // 10**9),
        "Id": image.id, "Labels": image.container_config.get("Labels") or {}, "ParentId": "",
        "RepoDigests": _familiar_tags(image.repo_digests if digests is None else digests),
        "RepoTags": _familiar_tags(image.tags if tags is None else tags),
        "SharedSize": -1,
        "Size": image.size,
    }


def _image_config(cfg: dict) -> dict:
    out = {"Hostname": "", "Domainname": "", "User": cfg.get("User") or "", "AttachStdin": False,
           "AttachStdout": False, "AttachStderr": False}
    if cfg.get("ExposedPorts"):
        out["ExposedPorts"] = cfg["ExposedPorts"]
    out.update({"Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": cfg.get("Env"),
                "Cmd": cfg.get("Cmd")})
    if cfg.get("Healthcheck"):
        out["Healthcheck"] = healthcheck_config(cfg["Healthcheck"])
    out.update({"Image": "", "Volumes": cfg.get("Volumes"),
                "WorkingDir": cfg.get("WorkingDir") or "", "Entrypoint": cfg.get("Entrypoint"),
                "OnBuild": cfg.get("OnBuild"), "Labels": cfg.get("Labels")})
    if cfg.get("StopSignal"):
        out["StopSignal"] = cfg["StopSignal"]
    return out


def image_json(image: Image, paths: Paths | None = None) -> dict:
    cfg = image.config
    history = cfg.get("history") or [{}]
    return {
        "Id": image.id, "RepoTags": _familiar_tags(image.tags), "RepoDigests": _familiar_tags(image.repo_digests), "Parent": "",
        "Comment": history[-1].get("comment", ""), "Created": image.created, "DockerVersion": "",
        "Author": cfg.get("author", ""), "Config": _image_config(image.container_config),
        "Architecture": cfg.get("architecture", ""),
        **({"Variant": cfg["variant"]} if cfg.get("variant") else {}),  # omitempty, as moby
        "Os": cfg.get("os", "linux"),
        "Size": image.size,
        "GraphDriver": {"Data": None, "Name": DRIVER},
        "RootFS": {"Type": "layers", "Layers": list((cfg.get("rootfs") or {}).get("diff_ids") or [])},
        "Metadata": {"LastTagTime": timefmt.ZERO},
    }


def image_history(image: Image) -> list[dict]:
    out = []
    for i, h in enumerate(reversed(image.config.get("history") or [])):
        out.append({
            "Id": image.id if i == 0 else "<missing>",
            "Created": int(timefmt.parse_ns(h.get("created") or timefmt.ZERO) // 10**9),
            "CreatedBy": h.get("created_by", ""), "Tags": _familiar_tags(image.tags) if i == 0 else None,
            "Size": image.size if i == 0 and not h.get("empty_layer") else 0,
            "Comment": h.get("comment", ""),
        })
    return out
