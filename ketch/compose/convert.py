"""A service becomes a container: the POST /containers/create body for container N of a
service, as compose v2 builds it (pkg/compose/create.go ``getCreateConfigs``), and the
networks and volumes it creates for a project.

Pure: nothing here talks to the engine. What compose reads from the engine at this point
comes in as arguments: the names of other services' containers (``peers``, for links,
volumes_from and ``service:`` namespaces), and on recreation the replaced container's
mounts and the image's volumes (to keep anonymous volumes). The caller creates the
container with ``body`` under ``name`` (and ``platform``), connects ``extra_networks``,
copies ``files`` in (``files_archive``, PUT at "/"), then starts it.

`run` containers (``oneoff=True``) follow compose's prepareRun and applyRunOptions: named
``<project>-<service>-run-<slug[:12]>`` unless --name, no restart policy, no ports unless
--service-ports, labelled oneoff and with the slug.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ketch.compose import labels as L
from ketch.compose.convert_host import (exposed_ports, healthcheck, port_bindings, resources,
                                        restart_policy, security_opts)
from ketch.compose.convert_mounts import InjectedFile, files_archive, filesystem
from ketch.compose.convert_network import (Peers, container_name, links, network_create,
                                           networking, shared_namespace, volume_create, volumes_from)
from ketch.compose.model import PortConfig, Project, Service, ServiceVolume, duration_ns

__all__ = ["ContainerCreate", "InjectedFile", "RunOverrides", "container_create", "container_name",
           "files_archive", "image_name", "network_create", "volume_create"]


@dataclass(frozen=True)
class ContainerCreate:
    name: str  # the ?name= of the create call
    body: dict  # Config fields, HostConfig, NetworkingConfig (the first network only)
    platform: str | None = None  # the ?platform= of the create call
    extra_networks: list[tuple[str, dict]] = field(default_factory=list)  # (network, EndpointSettings) to connect
    files: list[InjectedFile] = field(default_factory=list)  # secrets/configs to copy in before start
    warnings: list[str] = field(default_factory=list)  # compose's logged warnings, for progress


@dataclass(frozen=True)
class RunOverrides:
    """`compose run`'s flags over the service (None: the service's own)."""
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    env: list[str] = field(default_factory=list)  # -e KEY=VALUE, or -e KEY (from the environment)
    user: str | None = None
    workdir: str | None = None
    ports: list[PortConfig] = field(default_factory=list)  # -p, parsed
    volumes: list[ServiceVolume] = field(default_factory=list)  # -v, parsed
    service_ports: bool = False
    name: str | None = None
    tty: bool | None = None
    stdin_open: bool | None = None  # -i: also attaches stdin at create
    labels: dict[str, str] = field(default_factory=dict)
    rm: bool = False
    use_aliases: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)


def image_name(project: Project, service: Service) -> str:
    """The image a service runs: ``image:``, else the one `build` makes, ``<project>-<service>``."""
    return service.image or f"{project.name}-{service.name}"


def container_create(project: Project, service: Service, number: int, *, image: str,
                     oneoff: bool = False, slug: str | None = None,
                     overrides: RunOverrides | None = None, image_id: str | None = None,
                     replaces: str | None = None, peers: Peers | None = None,
                     inherit: Sequence[Mapping] | None = None,
                     image_volumes: Iterable[str] = (),
                     environment_files: Sequence[str] = ()) -> ContainerCreate:
    """The create call for container ``number`` of ``service``.

    ``image``: Config.Image (normally ``image_name(project, service)``); ``image_id``: the
    image's ID for the com.docker.compose.image label; ``replaces``: the ID of the container
    this one replaces (its label, and the temporary name ``<id[:12]>_<name>`` until the old
    one is removed and this one renamed); ``peers``: each service's container names, lowest
    number first; ``inherit``/``image_volumes``: the replaced container's Mounts and the
    image's volumes; ``environment_files``: the --env-file flags, for their label."""
    use_aliases = True
    custom = {L.PROJECT: project.name, L.SERVICE: service.name, L.VERSION: L.COMPOSE_VERSION,
              L.WORKING_DIR: project.working_dir, L.CONFIG_FILES: ",".join(project.config_files),
              L.ONEOFF: "False"}
    if oneoff:
        slug = slug or os.urandom(32).hex()  # compose's stringid.GenerateRandomID
        service = _run_service(project, service, overrides or RunOverrides(), slug)
        custom.update({L.SLUG: slug, L.ONEOFF: "True"})
        use_aliases = overrides is not None and overrides.use_aliases
    name = container_name(project, service, number)
    if environment_files:
        custom[L.ENVIRONMENT_FILE] = ",".join(environment_files)
    if image_id:
        custom[L.IMAGE] = image_id
    labels = {**service.labels, **custom}
    if replaces:
        labels[L.REPLACE] = replaces
    labels[L.CONFIG_HASH] = L.config_hash(service)
    labels[L.CONTAINER_NUMBER] = str(number)
    labels[L.DEPENDS_ON] = L.depends_on_label(service)

    fs = filesystem(project, service, inherit=inherit, image_volumes=image_volumes)
    link_list = links(project, service, number, peers)
    network_mode, networking_config, extra = networking(project, service, name, link_list,
                                                        use_aliases=use_aliases, peers=peers)
    secopts, unconfined = security_opts(project, service.security_opt)
    attach_stdin = bool(oneoff and service.stdin_open)

    config = {
        "Hostname": service.hostname, "Domainname": service.domainname, "User": service.user,
        "AttachStdin": attach_stdin, "AttachStdout": True, "AttachStderr": True,
        "ExposedPorts": exposed_ports(service), "Tty": service.tty,
        "OpenStdin": service.stdin_open, "StdinOnce": attach_stdin and bool(service.stdin_open),
        "Env": [f"{k}={v}" for k, v in service.environment.items() if v is not None],
        "Cmd": service.command, "Healthcheck": healthcheck(service.healthcheck),
        "Image": image, "WorkingDir": service.working_dir, "Entrypoint": service.entrypoint,
        "NetworkDisabled": service.network_mode == "disabled", "Labels": labels,
        "StopSignal": service.stop_signal, "StopTimeout": _seconds(service.stop_grace_period),
    }
    host = {
        "Binds": fs.binds, "Mounts": fs.mounts, "Tmpfs": fs.tmpfs,
        "AutoRemove": bool(oneoff and overrides is not None and overrides.rm),
        "Annotations": service.annotations, "CapAdd": service.cap_add, "CapDrop": service.cap_drop,
        "NetworkMode": network_mode, "Init": service.init,
        "IpcMode": shared_namespace(project, service.ipc, "IPC", peers),
        "PidMode": shared_namespace(project, service.pid, "PID", peers),
        "CgroupnsMode": service.cgroup, "ReadonlyRootfs": service.read_only,
        "RestartPolicy": restart_policy(service), "ShmSize": service.shm_size,
        "Sysctls": service.sysctls, "PortBindings": port_bindings(service),
        "VolumesFrom": volumes_from(project, service, peers), "Dns": service.dns,
        "DnsSearch": service.dns_search, "DnsOptions": service.dns_opt,
        "ExtraHosts": [_host_colon(h) for h in service.extra_hosts], "SecurityOpt": secopts,
        "StorageOpt": service.storage_opt, "UsernsMode": service.userns_mode,
        "UTSMode": service.uts, "Privileged": service.privileged, "Isolation": service.isolation,
        "Runtime": service.runtime, "GroupAdd": service.group_add, "Links": link_list,
        "OomScoreAdj": service.oom_score_adj,
        **resources(service),
    }
    if service.logging is not None:
        host["LogConfig"] = {"Type": service.logging.driver or "",
                             "Config": dict(service.logging.options)}
    # An empty Cmd or Entrypoint stays: [] drops the image's, null keeps it
    body = {k: v for k, v in config.items()
            if (k in ("Cmd", "Entrypoint") and v is not None) or not _empty(v)}
    body["HostConfig"] = _omitempty(host)
    if service.init is not None:
        body["HostConfig"]["Init"] = service.init  # false overrides the daemon's default
    if unconfined:
        body["HostConfig"].update(MaskedPaths=[], ReadonlyPaths=[])
    if networking_config is not None:
        body["NetworkingConfig"] = networking_config
    platform = service.platform or project.environment.get("DOCKER_DEFAULT_PLATFORM") or None
    return ContainerCreate(name=f"{replaces[:12]}_{name}" if replaces else name, body=body,
                           platform=platform, extra_networks=extra, files=fs.files,
                           warnings=fs.warnings)


def _run_service(project: Project, service: Service, o: RunOverrides, slug: str) -> Service:
    """The service as `run` makes it (compose's runOptions.apply, applyRunOptions, prepareRun)."""
    changes: dict = {"restart": None, "scale": 1,
                     "container_name": o.name or f"{project.name}-{service.name}-run-{slug[:12]}"}
    if service.deploy is not None and service.deploy.restart_policy is not None:
        changes["deploy"] = dataclasses.replace(service.deploy, restart_policy=None)
    if o.tty is not None:
        changes["tty"] = o.tty
    if o.stdin_open is not None:
        changes["stdin_open"] = o.stdin_open
    if not o.service_ports:
        changes["ports"] = list(o.ports)
    if o.volumes:
        changes["volumes"] = [*service.volumes, *o.volumes]
    if o.command:
        changes["command"] = list(o.command)
    if o.user:
        changes["user"] = o.user
    if o.workdir:
        changes["working_dir"] = o.workdir
    if o.cap_add:
        changes["cap_add"] = [*service.cap_add, *o.cap_add]
        changes["cap_drop"] = [c for c in service.cap_drop if c not in o.cap_add]
    if o.cap_drop:
        changes["cap_drop"] = [*changes.get("cap_drop", service.cap_drop), *o.cap_drop]
        changes["cap_add"] = [c for c in changes.get("cap_add", service.cap_add) if c not in o.cap_drop]
    if o.entrypoint is not None:
        changes["entrypoint"] = list(o.entrypoint)
        if not o.command:
            changes["command"] = []
    if o.env:
        env = dict(service.environment)
        for item in o.env:
            key, sep, value = item.partition("=")
            if sep:
                env[key] = value
            elif key in project.environment:  # -e KEY: from the environment, else dropped
                env[key] = project.environment[key]
        changes["environment"] = env
    if o.labels:
        changes["labels"] = {**service.labels, **o.labels}
    return dataclasses.replace(service, **changes)


def _seconds(duration: str | None) -> int | None:
    ns = duration_ns(duration)
    return None if ns is None else ns // 1_000_000_000


def _host_colon(entry: str) -> str:
    """The model's ``host=ip`` as the engine's ``host:ip`` (compose's ExtraHosts.AsList(":"))."""
    host, sep, ip = entry.partition("=")
    return f"{host}:{ip}" if sep else entry


def _empty(value) -> bool:
    return value in (None, "", False, 0, [], {})


def _omitempty(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if not _empty(v)}
