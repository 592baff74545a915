"""A run's bundle: what exists on the host only while a container runs, made and unmade here.

Directories per container::

    <data-root>/containers/<id>/   hostname, hosts, resolv.conf, <id>-json.log
    <exec-root>/containers/<id>/   config.json and rootfs/ (the bundle), monitor.sock,
                                   exit.json, monitor.log, subpaths/ (volume subpaths
                                   pinned while it runs)
    <exec-root>/runtime/<id>/      the runtime's own state

Modes (moby's ``daemon/create.go``): ``containers/`` and each container's directory
0710, the runtime's root 0700, ``config.json`` 0600 (it holds the environment), the
log 0640 (``monitor/logfile``); hostname, hosts and resolv.conf 0644, since they are
bind-mounted for the container's users to read. The rootfs mount point is 0700, as
moby's ``merged``: what the container sees is the mode of the mount on it.

``prepare`` mounts the rootfs from the snapshotter's ``Mount`` data, sets up the
container's volumes, binds and tmpfs (``engine/volumes/mountsetup.py``; a new volume
was seeded from the image at create), writes /etc/hostname, /etc/hosts and
/etc/resolv.conf and the OCI spec (moby's ``daemon/start.go`` order). ``teardown``
unmounts and removes the exec directory without ever deleting through a mount point
(``linux/fstree``) and releases the run's volumes. The lifecycle calls
both under the container's lock, so one run's teardown can never meet the next run's
bundle.
"""

import json
import os
from dataclasses import dataclass

from ketch.engine import hostconfig, specgen, users
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.networks.sandbox import NetSetup
from ketch.engine.runtimes import Runtimes
from ketch.engine.volumes.mountpoint import VolumeAccess
from ketch.engine.volumes import mountsetup
from ketch.engine.volumes.mountsetup import MountSetup
from ketch.linux import filemode
from ketch.linux import mount as mnt
from ketch.linux.atomic import write_file
from ketch.linux.fstree import remove_tree
from ketch.network import files as netfiles
from ketch.storage.overlay import OverlaySnapshotter

DIRS_MODE = 0o710
CONTAINER_MODE = 0o710
RUNTIME_ROOT_MODE = 0o700
SPEC_MODE = 0o600
ROOTFS_MODE = 0o700
FILE_MODE = 0o644  # hostname, hosts, resolv.conf


@dataclass(frozen=True)
class Paths:
    data_root: str
    exec_root: str

    def data_dir(self, cid: str) -> str:
        return os.path.join(self.data_root, "containers", cid)

    def exec_dir(self, cid: str) -> str:
        return os.path.join(self.exec_root, "containers", cid)

    def resolv_conf(self, cid: str) -> str:
        return os.path.join(self.data_dir(cid), "resolv.conf")

    def hosts(self, cid: str) -> str:
        return os.path.join(self.data_dir(cid), "hosts")

    def bundle_rootfs(self, cid: str) -> str:
        return os.path.join(self.exec_dir(cid), "rootfs")

    def log_path(self, cid: str, driver: str = "json-file") -> str:
        """json-file's <id>-json.log; the local driver's local-logs/container.log (moby's)."""
        if driver == "local":
            return os.path.join(self.data_dir(cid), "local-logs", "container.log")
        return os.path.join(self.data_dir(cid), f"{cid}-json.log")

    def subpaths(self, cid: str) -> str:
        """Where a run's volume subpaths are pinned (mountsetup.pin_subpath)."""
        return os.path.join(self.exec_dir(cid), "subpaths")

    def exit_file(self, cid: str) -> str:
        return os.path.join(self.exec_dir(cid), "exit.json")

    @property
    def runtime_root(self) -> str:
        return os.path.join(self.exec_root, "runtime")

    @property
    def dirs(self) -> tuple[tuple[str, int], ...]:
        """The fixed directories below the roots, with their modes."""
        return ((os.path.join(self.data_root, "containers"), DIRS_MODE),
                (os.path.join(self.exec_root, "containers"), DIRS_MODE),
                (self.runtime_root, RUNTIME_ROOT_MODE))


@dataclass(frozen=True)
class RunConfig:
    """The daemon's settings every container's spec depends on."""
    cgroup_version: str = "v1"  # cgroups.detect()
    cgroup_parent: str = "/ketch"  # daemon.json cgroup-parent
    init_path: str | None = None  # daemon.json init-path


@dataclass(frozen=True)
class Prepared:
    exec_dir: str
    cgroups_path: str


class Bundles:
    def __init__(self, paths: Paths, snapshots: OverlaySnapshotter, runtimes: Runtimes,
                 config: RunConfig, volumes: VolumeAccess) -> None:
        self.paths = paths
        self.snapshots = snapshots
        self.runtimes = runtimes
        self.config = config
        self.mounts = MountSetup(volumes, paths.data_root)

    def prepare(self, rec: ContainerRecord, net: NetSetup) -> Prepared:
        exec_dir = self.paths.exec_dir(rec.id)
        self.teardown(rec.id)  # whatever a crash left of an earlier run
        rootfs = self._mount_rootfs(rec)
        rro_error = self.runtimes.rro_error(rec.runtime)
        mounts = self.mounts.setup(rec.id, rec.mounts, rec.host_config.get("Tmpfs"),
                                   rro_error=rro_error, pin_dir=self.paths.subpaths(rec.id))
        files = self._write_files(rec, net)
        spec = self._spec(rec, rootfs, files, net, mounts, not rro_error)
        if self.runtimes.spec(rec.runtime)["path"]:
            spec["root"]["path"] = "rootfs"  # runc resolves it against the bundle
        write_file(os.path.join(exec_dir, "config.json"), json.dumps(spec).encode(), SPEC_MODE)
        return Prepared(exec_dir, spec["linux"].get("cgroupsPath", ""))

    def teardown(self, cid: str) -> None:
        try:
            mountsetup.unpin(self.paths.subpaths(cid))  # file mounts remove_tree cannot take
            remove_tree(self.paths.exec_dir(cid))
        finally:
            self.mounts.release(cid)

    def restore(self, rec: ContainerRecord) -> None:
        """A container found running after a ketchd restart: its run's volumes again."""
        self.mounts.restore(rec.id, rec.mounts, rec.host_config.get("Tmpfs"))

    def _mount_rootfs(self, rec: ContainerRecord) -> str:
        target = self.paths.bundle_rootfs(rec.id)
        filemode.makedirs(self.paths.exec_dir(rec.id), CONTAINER_MODE)
        filemode.makedirs(target, ROOTFS_MODE)
        for m in self.snapshots.mounts(rec.snapshot, rec.parents):
            mnt.apply(m, target)
        return target

    def _files(self, cid: str) -> tuple[str, str, str]:
        d = self.paths.data_dir(cid)
        return os.path.join(d, "hostname"), self.paths.hosts(cid), self.paths.resolv_conf(cid)

    def _write_files(self, rec: ContainerRecord, net: NetSetup) -> tuple[str, str, str]:
        if net.files_of:  # container mode: the other container's files, as moby shares them
            return self._files(net.files_of)
        paths = self._files(rec.id)
        files = net.files
        write_file(paths[0], netfiles.hostname_file(files.hostname or rec.id[:12]).encode(), FILE_MODE)
        write_file(paths[1], files.hosts.encode(), FILE_MODE)
        write_file(paths[2], files.resolv.encode(), FILE_MODE)
        return paths

    def _spec(self, rec: ContainerRecord, rootfs: str, files: tuple[str, str, str],
              net: NetSetup, mounts: tuple[dict, ...], recursive_readonly: bool) -> dict:
        cfg, host = rec.config, rec.host_config
        user = users.resolve(rootfs, cfg.get("User") or "", host.get("GroupAdd") or [])
        c = self.config
        return specgen.build(specgen.SpecInput(
            rootfs=rootfs, args=[rec.path] + rec.args, env=cfg.get("Env") or [],
            hostname=cfg.get("Hostname") or rec.id[:12], domainname=cfg.get("Domainname") or "",
            working_dir=cfg.get("WorkingDir") or "/", uid=user.uid, gid=user.gid,
            additional_gids=user.additional_gids, tty=bool(cfg.get("Tty")),
            hostname_path=files[0], hosts_path=files[1], resolv_conf_path=files[2],
            readonly_rootfs=bool(host.get("ReadonlyRootfs")), shm_size=int(host.get("ShmSize") or 0),
            console_size=tuple(host["ConsoleSize"][:2]) if host.get("ConsoleSize") else None,
            netns_path=net.netns_path or "", host_network=net.kind == "host",
            shared_network=net.kind == "container", link_env=net.env,
            mounts=mounts, recursive_readonly=recursive_readonly,
            **hostconfig.spec_fields(host, rec.id, c.cgroup_version == "v2", c.init_path,
                                     c.cgroup_parent),
        ))
