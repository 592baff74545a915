"""Engine records -> Docker's JSON shapes (ContainerJSON, Container summary, image views).

Docker fills every field of its structs, so clients read zero values rather than
missing keys; these functions do the same, in Docker's field order.
"""

import time

from ketch import timefmt
from ketch.api import netviews
from ketch.api.versions import at_least
from ketch.engine import logconfig
from ketch.engine.images.service import Image
from ketch.engine.containers.bundle import Paths
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.specgen import MASKED_PATHS, READONLY_PATHS
from ketch.engine.volumes.mountpoint import MountPoint
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
        "NetworkMode": "default", "PortBindings": {}, "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
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
    # omitempty fields, in their places of Docker's struct
    out = _insert(_insert(out, "UTSMode", "Tmpfs", hc.get("Tmpfs")), "MaskedPaths", "Mounts", hc.get("Mounts"))
    out = _insert(out, "CapAdd", "Annotations", hc.get("Annotations"))
    if hc.get("Init") is not None:  # *bool, omitempty: shown when sent, false too
        out["Init"] = hc["Init"]
    return out


def _insert(doc: dict, before: str, key: str, value: object) -> dict:
    if not value:
        return doc
    out = {}
    for k, v in doc.items():
        if k == before:
            out[key] = value
        out[k] = v
    return out


def mount_point_json(mp: MountPoint) -> dict:
    """Docker's MountPoint (inspect's and the list's Mounts): Type, Name, Driver omitted
    when empty."""
    doc = {"Type": mp.type} if mp.type else {}
    if mp.name:
        doc["Name"] = mp.name
    doc.update({"Source": mp.source, "Destination": mp.destination})
    if mp.driver:
        doc["Driver"] = mp.driver
    doc.update({"Mode": mp.mode, "RW": mp.rw, "Propagation": mp.propagation})
    return doc


def mounts_json(rec: ContainerRecord) -> list[dict]:
    return [mount_point_json(MountPoint.from_doc(doc)) for doc in rec.mounts]


def mounts_match(rec: ContainerRecord, values: list[str]) -> bool:
    """moby's ``volume`` filter of the container list: a mount point's destination, or
    its volume's name (a bind's source)."""
    points = [MountPoint.from_doc(doc) for doc in rec.mounts]
    keys = {mp.destination for mp in points if mp.destination}
    keys |= {mp.name or mp.source for mp in points}
    return any(v in keys for v in values)


def _log_path(rec: ContainerRecord, paths: Paths) -> str:
    """moby sets LogPath when the json-file logger first starts: empty before the first
    start, and for any other driver."""
    driver = logconfig.normalize(rec.host_config.get("LogConfig"))["Type"]
    started = rec.state.started_at != timefmt.ZERO
    return paths.log_path(rec.id) if started and driver == logconfig.JSON_FILE else ""


def container_json(rec: ContainerRecord, paths: Paths, size_rw: int | None = None,
                   image_size: int = 0, graph_data: dict[str, str] | None = None,
                   attached: list | None = None, sandbox: tuple[str, str] = ("", "")) -> dict:
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
        "Mounts": mounts_json(rec),
        "Config": container_config(rec),
        "NetworkSettings": netviews.network_settings(
            rec.config.get("ExposedPorts"), attached or [], rec.state.running, sandbox, rec.name,
            rec.config.get("Hostname") or ""),
    })
    return doc


def summary_image(rec: ContainerRecord) -> str:
    """The summary's Image: as the user named it, or the image's ID when they named it so."""
    return rec.image_id if rec.image.startswith("sha256:") else rec.image


def container_summary(rec: ContainerRecord, size_rw: int | None = None,
                      image_size: int = 0, attached: list | None = None) -> dict:
    state = state_json(rec)
    doc = {
        "Id": rec.id, "Names": ["/" + rec.name], "Image": summary_image(rec), "ImageID": rec.image_id,
        "Command": command_text(rec), "Created": int(timefmt.parse_ns(rec.created) // 10**9),
        "Ports": netviews.port_list(rec.config.get("ExposedPorts"), attached or [], rec.state.running),
        "Labels": rec.config.get("Labels") or {}, "State": state["Status"],
        "Status": status_text(state),
        "HostConfig": {"NetworkMode": rec.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": {
            name: netviews.endpoint_json(name, settings, ep, net, rec.name, rec.config.get("Hostname") or "")
            for name, settings, ep, net in attached or []}},
        "Mounts": mounts_json(rec),
    }
    if size_rw is not None:
        doc["SizeRw"] = size_rw
        doc["SizeRootFs"] = size_rw + image_size
    return doc


def image_summary(image: Image, containers: int = -1, tags: tuple[str, ...] | None = None,
                  digests: tuple[str, ...] | None = None, shared_size: int = -1) -> dict:
    """``tags``, ``digests``: the references to list (a reference filter's matches), by
    default all."""
    return {
        "Containers": containers, "Created": int(timefmt.parse_ns(image.created) // 10**9),
        "Id": image.id, "Labels": image.container_config.get("Labels") or {}, "ParentId": image.parent,
        "RepoDigests": _familiar_tags(image.repo_digests if digests is None else digests),
        "RepoTags": _familiar_tags(image.tags if tags is None else tags),
        "SharedSize": shared_size,
        "Size": image.size,
    }


def _image_config(cfg: dict) -> dict:
    """The image's container.Config as moby stores it: every field, zero when unset (a
    commit keeps the container's hostname, image name and attach settings)."""
    out = {"Hostname": cfg.get("Hostname") or "", "Domainname": cfg.get("Domainname") or "",
           "User": cfg.get("User") or "", "AttachStdin": bool(cfg.get("AttachStdin")),
           "AttachStdout": bool(cfg.get("AttachStdout")), "AttachStderr": bool(cfg.get("AttachStderr"))}
    if cfg.get("ExposedPorts"):
        out["ExposedPorts"] = cfg["ExposedPorts"]
    out.update({"Tty": bool(cfg.get("Tty")), "OpenStdin": bool(cfg.get("OpenStdin")),
                "StdinOnce": bool(cfg.get("StdinOnce")), "Env": cfg.get("Env"), "Cmd": cfg.get("Cmd")})
    if cfg.get("Healthcheck"):
        out["Healthcheck"] = healthcheck_config(cfg["Healthcheck"])
    if cfg.get("ArgsEscaped"):
        out["ArgsEscaped"] = True
    out.update({"Image": cfg.get("Image") or "", "Volumes": cfg.get("Volumes"),
                "WorkingDir": cfg.get("WorkingDir") or "", "Entrypoint": cfg.get("Entrypoint"),
                "OnBuild": cfg.get("OnBuild"), "Labels": cfg.get("Labels")})
    if cfg.get("StopSignal"):
        out["StopSignal"] = cfg["StopSignal"]
    if cfg.get("StopTimeout") is not None:
        out["StopTimeout"] = cfg["StopTimeout"]
    if cfg.get("Shell"):
        out["Shell"] = cfg["Shell"]
    return out


def image_json(image: Image, graph_data: dict[str, str] | None = None, api_version: str | None = None) -> dict:
    """moby's ImageInspect (API 1.45; the fields older versions had are added for them).
    ``graph_data``: overlay2's directories of the image's layers."""
    cfg = image.config
    history = cfg.get("history") or []
    comment = cfg.get("comment") or (history[-1].get("comment", "") if history else "")
    doc = {
        "Id": image.id, "RepoTags": _familiar_tags(image.tags), "RepoDigests": _familiar_tags(image.repo_digests),
        "Parent": image.parent, "Comment": comment, "Created": cfg.get("created") or image.created,
    }
    if not at_least(api_version, "1.45"):
        doc["Container"] = cfg.get("container", "")
        doc["ContainerConfig"] = _image_config(cfg.get("container_config") or {})
    doc.update({
        "DockerVersion": cfg.get("docker_version", ""), "Author": cfg.get("author", ""),
        "Config": _image_config(image.container_config),
        "Architecture": cfg.get("architecture", ""),
    })
    if cfg.get("variant"):
        doc["Variant"] = cfg["variant"]
    doc["Os"] = cfg.get("os", "linux")
    if cfg.get("os.version"):
        doc["OsVersion"] = cfg["os.version"]
    doc["Size"] = image.size
    if not at_least(api_version, "1.44"):
        doc["VirtualSize"] = image.size
    doc.update({
        "GraphDriver": {"Data": graph_data, "Name": DRIVER},
        "RootFS": {"Type": "layers", "Layers": list((cfg.get("rootfs") or {}).get("diff_ids") or [])},
        # a Go time.Time, marshalled as RFC3339Nano: trailing zeros of the fraction dropped
        "Metadata": {"LastTagTime": timefmt.format_ns_trimmed(timefmt.parse_ns(image.last_tag_time))
                     if image.last_tag_time else timefmt.ZERO},
    })
    return doc


def image_history(items) -> list[dict]:
    """``engine/images/history`` items as moby's HistoryResponseItem list."""
    return [{"Comment": h.comment, "Created": h.created, "CreatedBy": h.created_by, "Id": h.id,
             "Size": h.size, "Tags": list(h.tags) if h.tags is not None else None} for h in items]
