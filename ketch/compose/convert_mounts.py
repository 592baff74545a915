"""A service's filesystem as the Engine API takes it: HostConfig Binds, Mounts and Tmpfs, and
the secret/config files copied into the container after it is created.

Follows compose v2's ``buildContainerVolumes``: every volume, secret and config becomes a
Mount keyed by its target (a later one for the same target wins; secrets and configs never
displace a volume); a bind whose host path may be created (the short syntax) goes to
``Binds`` as ``src:dst:rw[,z][,propagation][,nocopy]`` because a bind Mount fails on a
missing host path; so does a named volume whose driver_opts make it a bind (``o: bind``).
On recreation the old container's anonymous volumes (declared without a source, or by the
image) are carried over, so `up` keeps their data.
"""

from __future__ import annotations

import io
import posixpath
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ketch.compose.errors import ComposeError
from ketch.compose.model import FileReference, Project, Service, ServiceVolume


@dataclass(frozen=True)
class InjectedFile:
    """A secret or config with no host file (``environment:`` or ``content:``): compose copies
    it into the created container (PUT /containers/{id}/archive at "/") before starting it."""
    path: str  # absolute, in the container
    content: bytes
    mode: int = 0o444
    uid: int = 0
    gid: int = 0
    copy_uid_gid: bool = False  # uid or gid given: the archive's owners are kept


@dataclass(frozen=True)
class Filesystem:
    binds: list[str]
    mounts: list[dict]
    tmpfs: dict[str, str]
    files: list[InjectedFile]
    warnings: list[str]


def filesystem(project: Project, service: Service, *, inherit: Sequence[Mapping] | None = None,
               image_volumes: Iterable[str] = ()) -> Filesystem:
    """Binds, Mounts and Tmpfs of ``service``. ``inherit``: the Mounts (inspect form) of the
    container being replaced; ``image_volumes``: the image's Config.Volumes paths."""
    warnings: list[str] = []
    volumes = list(service.volumes)
    by_target: dict[str, dict] = {}
    if inherit:
        volumes = _inherit(inherit, set(image_volumes), volumes, by_target)
    for vol in volumes:
        by_target[posixpath.normpath(vol.target)] = _mount(project, vol, warnings)
    for target, mount in _file_mounts(project, service, warnings):
        by_target.setdefault(target, mount)

    binds, mounts = [], []
    for mount in by_target.values():
        bind = _as_bind(mount, volumes) if mount["Type"] == "bind" else None
        if bind is not None:
            binds.append(bind)
        else:
            mounts.append(mount)
    tmpfs = {}
    for spec in service.tmpfs:
        path, _, options = spec.partition(":")
        tmpfs[path] = options
    return Filesystem(binds, mounts, tmpfs, injected_files(project, service), warnings)


def _inherit(inherit, image_volumes: set[str], volumes: list[ServiceVolume],
             by_target: dict[str, dict]) -> list[ServiceVolume]:
    """compose's buildContainerMountOptions: reuse the replaced container's anonymous volumes."""
    for old in inherit:
        kind = old.get("Type", "")
        if kind == "tmpfs":
            continue
        source = old.get("Name", "") if kind == "volume" else old.get("Source", "")
        dest = posixpath.normpath(old.get("Destination", ""))
        reused = {"Type": kind, "Source": source, "Target": dest}
        if not old.get("RW", True):
            reused["ReadOnly"] = True
        if dest in image_volumes:
            by_target[dest] = reused
        kept = []
        for vol in volumes:
            if posixpath.normpath(vol.target) != dest or vol.source:
                kept.append(vol)
            else:
                by_target[dest] = reused
        volumes = kept
    return volumes


def _mount(project: Project, vol: ServiceVolume, warnings: list[str]) -> dict:
    """compose's buildMount: one Mount (Go's omitempty: empty fields left out)."""
    kind, source = vol.type, vol.source or ""
    options: dict = {}
    if kind == "volume":
        declared = project.volumes.get(source) if source else None
        if declared is not None:
            source = declared.name
        for other in ("bind", "tmpfs"):
            if getattr(vol, other) is not None:
                warnings.append(f"mount of type `volume` should not define `{other}` option")
        if declared is not None and declared.driver_opts.get("o") == "bind":
            kind = "bind"  # a "local" volume that is a bind: Binds creates its path
        elif vol.volume is not None:
            options["VolumeOptions"] = _omitempty({"NoCopy": vol.volume.nocopy,
                                                   "Subpath": vol.volume.subpath})
    elif kind == "bind":
        for other in ("volume", "tmpfs"):
            if getattr(vol, other) is not None:
                warnings.append(f"mount of type `bind` should not define `{other}` option")
        if vol.bind is not None:
            options["BindOptions"] = _omitempty({"Propagation": vol.bind.propagation})
    elif kind == "tmpfs":
        for other in ("bind", "volume"):
            if getattr(vol, other) is not None:
                warnings.append(f"mount of type `tmpfs` should not define `{other}` option")
        if vol.tmpfs is not None:
            options["TmpfsOptions"] = _omitempty({"SizeBytes": vol.tmpfs.size,
                                                  "Mode": vol.tmpfs.mode})
    mount = _omitempty({"Type": kind, "Source": source, "Target": posixpath.normpath(vol.target),
                        "ReadOnly": vol.read_only, "Consistency": vol.consistency})
    mount.update(options)
    return mount


def _as_bind(mount: dict, volumes: list[ServiceVolume]) -> str | None:
    """The Binds string for a bind Mount that must go as one, else None."""
    for vol in volumes:
        if posixpath.normpath(vol.target) != mount["Target"]:
            continue
        if vol.type != "bind":  # a volume turned bind: the volume's engine name is the source
            return bind_string(vol, mount.get("Source", ""))
        if vol.bind is not None and vol.bind.create_host_path:
            return bind_string(vol, vol.source or "")
    return None


def bind_string(vol: ServiceVolume, source: str) -> str:
    """compose-go's ServiceVolumeConfig.String(): ``src:dst:ro|rw[,z][,propagation][,nocopy]``."""
    options = ["ro" if vol.read_only else "rw"]
    if vol.bind is not None and vol.bind.selinux:
        options.append(vol.bind.selinux)
    if vol.bind is not None and vol.bind.propagation:
        options.append(vol.bind.propagation)
    if vol.volume is not None and vol.volume.nocopy:
        options.append("nocopy")
    if vol.volume is not None and vol.volume.subpath:
        options.append(vol.volume.subpath)
    return f"{source}:{vol.target}:{','.join(options)}"


def _target(ref: FileReference, base: str) -> str:
    """Where a secret (base /run/secrets/) or config (base /) lands; relative targets under base."""
    if not ref.target:
        return base + ref.source
    if ref.target.startswith("/"):
        return ref.target
    return base + ref.target


def _file_mounts(project: Project, service: Service, warnings: list[str]):
    """Read-only binds of file-based secrets and configs (compose's buildContainer*Mounts)."""
    for kind, refs, defined, base in (("secrets", service.secrets, project.secrets, "/run/secrets/"),
                                      ("configs", service.configs, project.configs, "/")):
        for ref in refs:
            obj = defined.get(ref.source)
            if obj is None:
                raise ComposeError(f"service {service.name!r} refers to undefined {kind[:-1]} {ref.source}")
            if obj.external:
                raise ComposeError(f"unsupported external {kind[:-1]} {obj.name}")
            if obj.environment is not None or obj.content is not None:
                continue  # copied in after create
            if ref.uid or ref.gid or ref.mode is not None:
                warnings.append(f"{kind} `uid`, `gid` and `mode` are not supported, they will be ignored")
            target = posixpath.normpath(_target(ref, base))
            yield target, {"Type": "bind", "Source": obj.file or "", "Target": target, "ReadOnly": True}


def injected_files(project: Project, service: Service) -> list[InjectedFile]:
    """Secrets and configs from ``environment:`` or ``content:`` (compose's injectSecrets and
    injectConfigs), as files to copy into the container."""
    files = []
    for refs, defined, base in ((service.secrets, project.secrets, "/run/secrets/"),
                                (service.configs, project.configs, "/")):
        for ref in refs:
            obj = defined.get(ref.source)
            if obj is None or (obj.environment is None and obj.content is None):
                continue
            if obj.environment is not None:
                if obj.environment not in project.environment:
                    raise ComposeError(f'environment variable "{obj.environment}" required by '
                                       f'file "{obj.name}" is not set')
                text = project.environment[obj.environment]
            else:
                text = obj.content or ""
            files.append(InjectedFile(
                path=posixpath.normpath(_target(ref, base)), content=text.encode(),
                mode=0o444 if ref.mode is None else ref.mode,
                uid=_id(ref.uid), gid=_id(ref.gid), copy_uid_gid=bool(ref.uid or ref.gid)))
    return files


def _id(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        raise ComposeError(f'strconv.Atoi: parsing "{value}": invalid syntax') from None


def files_archive(files: Sequence[InjectedFile]) -> bytes:
    """One tar of ``files`` to PUT at "/" (compose sends one per file; one is enough here)."""
    import tarfile  # only when there are such files: it costs a few ms at start
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for f in files:
            info = tarfile.TarInfo(f.path.lstrip("/"))
            info.size, info.mode, info.mtime = len(f.content), f.mode, now
            info.uid, info.gid = f.uid, f.gid
            tar.addfile(info, io.BytesIO(f.content))
    return buf.getvalue()


def _omitempty(fields: dict) -> dict:
    return {k: v for k, v in fields.items() if v not in (None, "", False, 0, [], {})}
