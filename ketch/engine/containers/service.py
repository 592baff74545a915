"""Container service: create, look up, list, remove, rename, update; running is the
lifecycle's (``lifecycle.py``), every state change the state machine's (``state.py``).

``create`` merges the request with the image's config the way moby's ``merge`` does
(user values win; the image's Cmd is used only when the user gave neither Cmd nor
Entrypoint) and allocates the writable snapshot. Nothing runs until ``start``.
Auto-remove (``--rm``) is a subscriber: the container's "die" event removes it.
Mount points are decided at create (``volumes/mountplan.py``), making the volumes they
need; ``rm -v`` and auto-remove remove the anonymous ones (``volumes/release.py``).
"""

import asyncio
import functools
import logging
import os
import secrets
import signal
import socket

from ketch import errors, timefmt
from ketch.engine import hostconfig, logconfig, names, resources, restart, unsupported
from ketch.engine.containers import health, state as S
from ketch.engine.containers.archive import ContainerFiles
from ketch.engine.containers.attach import OutputQueue
from ketch.engine.containers.bundle import CONTAINER_MODE, Paths
from ketch.engine.containers.lifecycle import Lifecycle, parse_signal
from ketch.apitypes.prune import PruneFilter
from ketch.engine.containers import top as toplib
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.containers.rootfs import RootfsReader
from ketch.engine.events import Event
from ketch.engine.images.service import ImageService, familiar
from ketch.engine.volumes import mountplan, release
from ketch.apitypes.mounts import VOLUME
from ketch.engine.volumes.mountpoint import MountPoint, VolumeAccess
from ketch.engine.volumes.seed import Seeder
from ketch.linux import mount as mnt
from ketch.linux import filemode
from ketch.linux.fstree import remove_tree
from ketch.runtime import cgroups
from ketch.storage import layerstat
from ketch.storage.changes import Change
from ketch.storage.overlay import OverlaySnapshotter

log = logging.getLogger("ketchd.containers")

# HostConfig fields `docker update` may change, and the linux.resources section of each.
_SECTION = {"Memory": "memory", "MemorySwap": "memory", "MemoryReservation": "memory",
            "MemorySwappiness": "memory", "OomKillDisable": "memory", "NanoCpus": "cpu",
            "CpuShares": "cpu", "CpuPeriod": "cpu", "CpuQuota": "cpu", "CpusetCpus": "cpu",
            "CpusetMems": "cpu", "PidsLimit": "pids", "BlkioWeight": "blockIO"}
UPDATABLE = tuple(_SECTION) + ("RestartPolicy", "CpuRealtimePeriod", "CpuRealtimeRuntime")

_CONFIG_KEYS = ("Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr",
                "ExposedPorts", "Tty", "OpenStdin", "StdinOnce", "Env", "Cmd", "Healthcheck",
                "ArgsEscaped", "Image", "Volumes", "WorkingDir", "Entrypoint", "NetworkDisabled",
                "MacAddress", "OnBuild", "Labels", "StopSignal", "StopTimeout", "Shell")


def merge_config(user: dict, image: dict) -> dict:
    """moby's ``merge(userConf, imageConf)``."""
    out = {k: user.get(k) for k in _CONFIG_KEYS if k in user}
    user_env = [e for e in (user.get("Env") or []) if e]
    image_env = image.get("Env") or []
    if user_env:
        keys = {e.split("=", 1)[0] for e in user_env}
        out["Env"] = user_env + [e for e in image_env if e.split("=", 1)[0] not in keys]
    else:
        out["Env"] = list(image_env)
    entrypoint = user.get("Entrypoint")
    if entrypoint == [""]:  # `--entrypoint ""`: explicitly none
        out["Entrypoint"] = None
    elif not entrypoint:  # null inherits the image's; [] means none, but the Cmd is inherited
        if not user.get("Cmd"):
            out["Cmd"] = image.get("Cmd")
        out["Entrypoint"] = image.get("Entrypoint") if entrypoint is None else []
    for key in ("User", "WorkingDir", "StopSignal"):
        if not out.get(key) and image.get(key):
            out[key] = image[key]
    out["Labels"] = {**(image.get("Labels") or {}), **(user.get("Labels") or {})}
    ports = {**(image.get("ExposedPorts") or {}), **(user.get("ExposedPorts") or {})}
    out["ExposedPorts"] = ports or None
    volumes = {**(image.get("Volumes") or {}), **(user.get("Volumes") or {})}
    out["Volumes"] = volumes or None
    if user.get("Healthcheck") or image.get("Healthcheck"):
        out["Healthcheck"] = health.merge(user.get("Healthcheck"), image.get("Healthcheck"))
    return out


class ContainerService:
    def __init__(self, registry: Registry, images: ImageService, snapshots: OverlaySnapshotter,
                 lifecycle: Lifecycle, log_defaults: dict | None = None, *,
                 volumes: VolumeAccess) -> None:
        self.registry = registry
        self.volumes = volumes
        self.log_defaults = log_defaults  # daemon.json log-driver, log-opts (normalized)
        self.images = images
        self.snapshots = snapshots
        self.lifecycle = lifecycle
        self.machine = lifecycle.machine
        self.paths: Paths = lifecycle.paths
        self.rootfs = RootfsReader(self.paths, snapshots)
        self._pruning = False
        self.machine.bus.subscribe(self._on_event)
        self.files = ContainerFiles(lifecycle, snapshots, self.paths, volumes)

    def get(self, ref: str) -> ContainerRecord:
        return self.registry.get(ref)

    def network_view(self, rec: ContainerRecord) -> list:
        """Per network of ``rec``: (name, settings asked for, endpoint, network)."""
        return self.lifecycle.networking.view(rec)

    def interfaces(self, rec: ContainerRecord) -> dict[str, str]:
        """The container's interfaces ("eth0") -> the host ends of their veth pairs."""
        return {ep.ifname: ep.host_ifname for ep in self.lifecycle.networking.endpoints(rec.id)}

    def sandbox(self, rec: ContainerRecord) -> tuple[str, str]:
        return self.lifecycle.networking.sandbox(rec)

    def get_exact(self, ref: str) -> ContainerRecord:
        """By full id or name, not by id prefix (the container list's before/since)."""
        rec = self.registry.find_exact(ref)
        if rec is None:
            raise errors.no_such_container(ref)
        return rec

    def _on_event(self, event: Event) -> None:
        if event.type == "container" and event.action == "die":
            rec = self.registry.find(event.actor_id)
            if rec is not None and rec.host_config.get("AutoRemove"):
                self.lifecycle.spawn(self._auto_remove(rec))

    # -- create -----------------------------------------------------------------
    async def unpack_image(self, ref: object) -> None:
        """Unpack in a thread what of image ``ref`` is stored but not unpacked yet (a
        commit's layer), so that ``create`` finds it ready; a missing image is create's
        to report."""
        image = self.images.find(ref) if isinstance(ref, str) and ref else None
        if image is not None:
            await asyncio.to_thread(self.images.ensure_unpacked, image)

    async def create(self, body: dict, name: str | None, platform: str | None = None,
                     readonly_non_recursive: bool = False) -> tuple[str, list[str]]:
        """``readonly_non_recursive``: read-only binds leave their submounts writable (what
        clients before API 1.44 got). New empty volumes are seeded from the image before
        the create is done (moby's populateVolumes), in a thread, under the container's
        lock (a start waits for it); a seeding that fails undoes the create. The record
        goes to disk once the create is done (moby's, after populateVolumes): a ketchd
        that dies meanwhile comes back without it (its leftovers are orphans)."""
        named = mountplan.named_volumes(body.get("HostConfig") if isinstance(body, dict) else None)
        if named:  # moby's per-name lock: a removal of one in flight ends first
            await self.volumes.removed(named)
        rec, planner, warnings = self._create(body, name, platform, readonly_non_recursive)
        if any(doc.get("copy_data") and doc.get("type") == VOLUME for doc in rec.mounts):
            try:
                async with self.lifecycle.lock(rec.id):
                    seeding = asyncio.ensure_future(asyncio.to_thread(self._seed, rec))
                    try:
                        await asyncio.shield(seeding)
                    except BaseException:
                        # cancelled (ketchd ending): the copy goes on in its thread, and the
                        # undo must not delete the volume and the image's view under it
                        await asyncio.wait({seeding})
                        if not seeding.cancelled():
                            seeding.exception()  # retrieved: the create's own error is raised
                        self.machine.apply(rec, "remove")  # a start waiting for the lock refuses
                        self.registry.delete(rec)
                        try:
                            await planner.undo_async()  # what it copied, deleted off the loop
                        finally:
                            self._undo_create(rec.id, rec.snapshot, planner)
                        raise
            except BaseException:
                self.lifecycle.forget(rec.id)
                raise
        self.registry.save(rec)
        self.machine.log(rec, "create")
        return rec.id, warnings

    @functools.cached_property
    def seeder(self) -> Seeder:
        """Copy-up at create, under the same per-volume locks as the runs' mounts."""
        return Seeder(self.volumes, self.lifecycle.bundles.mounts.locks, self.paths.exec_root)

    def _seed(self, rec: ContainerRecord) -> None:
        self.seeder.seed(rec.id, [MountPoint.from_doc(d) for d in rec.mounts],
                         [self.snapshots.fs(p) for p in rec.parents],
                         lambda target: mnt.apply(self.snapshots.view_mount(rec.snapshot, rec.parents), target))

    def _undo_create(self, cid: str, snapshot: str, planner: mountplan.Planner) -> None:
        planner.undo()  # the volumes this create made (a named one that was there stays)
        self.snapshots.remove(snapshot)
        remove_tree(self.paths.data_dir(cid))

    def _create(self, body: dict, name: str | None, platform: str | None,
                readonly_non_recursive: bool) -> tuple[ContainerRecord, mountplan.Planner, list[str]]:
        if not isinstance(body, dict) or not body.get("Image"):
            raise errors.InvalidArgument("Config cannot be empty in order to create a container")
        unsupported.check_create(body)
        health.validate(body.get("Healthcheck"))
        mountplan.validate(body.get("HostConfig") or {})  # moby: before the image is looked up
        workdir = body.get("WorkingDir")
        if workdir:  # moby's translateWorkingDir, on the user's config before the image's
            if not workdir.startswith("/"):
                raise errors.InvalidArgument(f"the working directory '{workdir}' is invalid, "
                                             "it needs to be an absolute path")
            body = {**body, "WorkingDir": "/" + os.path.normpath(workdir).lstrip("/")}
        if name:
            name = names.validate(name)
            if name in self.registry.by_name:
                raise errors.name_in_use(name, self.registry.by_name[name])
        image_ref = body["Image"]
        image = self.images.find(image_ref)
        if image is None:
            raise errors.no_such_image(familiar(image_ref))
        if platform:
            image.check_platform(image_ref, platform)
        config = merge_config(body, image.container_config)
        config["Image"] = image_ref
        entrypoint = config.get("Entrypoint") or []
        argv = list(entrypoint) + list(config.get("Cmd") or [])
        if not argv:
            raise errors.InvalidArgument("No command specified")
        host_config = dict(body.get("HostConfig") or {})
        hostconfig.validate(host_config, os.cpu_count() or 1)
        mount_requests = mountplan.requests(host_config, self._mount_points_of)
        networks = self.lifecycle.networking.at_create(
            body, host_config, (body.get("NetworkingConfig") or {}).get("EndpointsConfig"))
        if not host_config.get("NetworkMode"):
            host_config["NetworkMode"] = "default"
        if host_config["NetworkMode"].startswith("container:"):
            # moby's adaptSharedNamespaceContainer: kept by id, so a rename keeps the sharing
            other = self.registry.find(host_config["NetworkMode"].partition(":")[2])
            if other is not None:
                host_config["NetworkMode"] = "container:" + other.id
        if host_config["NetworkMode"] == "host" and not config.get("Hostname"):
            config["Hostname"] = socket.gethostname()  # moby: the host's name
        host_config["LogConfig"] = logconfig.normalize(host_config.get("LogConfig"), self.log_defaults)
        logconfig.validate(host_config["LogConfig"])
        host_config["RestartPolicy"] = restart.RestartPolicy.of(host_config).to_docker()
        cid = secrets.token_hex(32)
        config["Hostname"] = config.get("Hostname") or cid[:12]
        name = name or names.generate(self.registry.by_name)
        parents = self.images.snapshot_chain(image)
        layers = [self.snapshots.fs(p) for p in parents]
        rootfs = self.paths.bundle_rootfs(cid)
        planner = mountplan.Planner(
            self.volumes, self.paths.data_root,
            lambda dest: rootfs + dest if layerstat.kind_at(layers, dest) == layerstat.FILE else "",
            readonly_non_recursive)
        snapshot = self.snapshots.new(writable=True)
        try:
            mounts = planner.plan(mount_requests, config.get("Volumes"))
            filemode.mkdir(self.paths.data_dir(cid), CONTAINER_MODE)
            rec = ContainerRecord(
                id=cid, name=name, created=timefmt.now(), image=image_ref, image_id=image.id,
                config=config, host_config=host_config, path=argv[0], args=argv[1:],
                snapshot=snapshot, parents=parents, networks=networks,
                runtime=self.lifecycle.runtimes.resolve(host_config.get("Runtime")),
                mounts=[mp.to_doc() for mp in mounts])
            self.registry.add(rec, persist=False)  # saved by create once seeded
        except BaseException:
            self._undo_create(cid, snapshot, planner)
            raise
        return rec, planner, self.lifecycle.networking.create_warnings(host_config)

    def _mount_points_of(self, ref: str) -> list[MountPoint]:
        """--volumes-from's source: a container by any of its references."""
        return [MountPoint.from_doc(doc) for doc in self.registry.get(ref).mounts]

    def volume_users(self) -> dict[str, list[str]]:
        """Volume name -> the containers whose mount points name it (the volume service's
        "in use"), from one scan of the containers."""
        index: dict[str, list[str]] = {}
        for rec in self.registry.all():
            for name in release.volume_names(rec.mounts):
                index.setdefault(name, []).append(rec.id)
        return index

    # -- remove -----------------------------------------------------------------
    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """``volumes`` (``rm -v``): remove its anonymous volumes too."""
        rec = self.registry.get(ref)
        if rec.status == S.REMOVING:
            raise S.refusal("remove", rec.state, rec.id)
        if force:
            await self.lifecycle.kill_and_wait(rec)
        elif rec.state.alive or rec.state.restarting:
            raise errors.cannot_remove_running(rec.name, rec.state.paused, rec.state.restarting)
        await self._remove(rec, volumes)

    def remove_link(self, ref: str) -> None:
        """``rm --link``: ketch has no links, so a name that finds a container is its own
        name, which Docker refuses to remove as a link."""
        self.registry.get(ref)
        raise errors.cannot_remove_default_link()

    async def _remove(self, rec: ContainerRecord, volumes: bool = False) -> None:
        async with self.lifecycle.lock(rec.id):
            if rec.id not in self.registry.by_id:
                return  # removed meanwhile (auto-remove, another rm)
            self.machine.apply(rec, "remove")
            try:
                await asyncio.to_thread(self._delete_files, rec)
            except BaseException:
                self.machine.apply(rec, "remove_failed")
                raise
            self.registry.delete(rec)
            if volumes:  # moby: once the container is gone, before "destroy"
                copies = self.files.copies(rec.id)
                if copies:  # a cp still streams from it, holding its volumes: once it ends
                    self.lifecycle.spawn(self._remove_volumes_after(copies, rec.mounts))
                else:
                    await release.remove_anonymous(self.volumes, rec.mounts)
            self.machine.apply(rec, "removed")
        self.lifecycle.forget(rec.id)

    async def _remove_volumes_after(self, copies: set[asyncio.Future], mounts: list[dict]) -> None:
        await asyncio.wait(copies)
        await release.remove_anonymous(self.volumes, mounts)

    def _delete_files(self, rec: ContainerRecord) -> None:
        self.lifecycle.bundles.teardown(rec.id)
        self.snapshots.remove(rec.snapshot)
        remove_tree(self.paths.data_dir(rec.id))

    async def _auto_remove(self, rec: ContainerRecord) -> None:
        try:
            await self._remove(rec, volumes=True)  # moby's RemoveVolume: true
        except errors.Conflict:
            pass  # started again meanwhile (docker start of a --rm container): it stays

    async def prune(self, f: PruneFilter) -> tuple[list[str], int]:
        """moby's ContainersPrune: remove every stopped container the filter matches;
        (ids removed, bytes of their writable layers). One prune at a time."""
        if self._pruning:
            raise errors.Conflict("a prune operation is already running")
        self._pruning = True
        deleted, reclaimed = [], 0
        try:
            for rec in self.list_all():
                if rec.status not in (S.CREATED, S.EXITED, S.DEAD):
                    continue
                if not f.matches(timefmt.parse_ns(rec.created), rec.config.get("Labels") or {}):
                    continue
                size = await asyncio.to_thread(self.size_rw, rec)
                try:
                    await self._remove(rec)
                except errors.KetchError as exc:
                    log.warning("failed to prune container %s: %s", rec.id, exc)
                    continue
                reclaimed += size
                deleted.append(rec.id)
        finally:
            self._pruning = False
        self.machine.bus.publish(Event("container", "prune", "", {"reclaimed": str(reclaimed)}))
        return deleted, reclaimed

    # -- queries ----------------------------------------------------------------
    def list_all(self) -> list[ContainerRecord]:
        return sorted(self.registry.all(), key=lambda r: r.created, reverse=True)

    def users_of_image(self, image_id: str) -> dict[str, bool]:
        return {r.id: r.running for r in self.registry.all() if r.image_id == image_id}

    def layers_in_use(self) -> set[str]:
        out: set[str] = set()
        for rec in self.registry.all():
            try:
                out.update(self.images.resolve(rec.image_id).chain_ids)
            except errors.NotFound:
                pass
        return out

    def graph_driver_data(self, rec: ContainerRecord) -> dict[str, str]:
        """inspect's GraphDriver.Data as overlay2 gives it, with ketch's own directories:
        the image's layers (top-most first), the root as mounted while the container
        runs, and the writable layer with overlayfs's work dir."""
        data = {}
        if rec.parents:  # overlay2 leaves LowerDir out when there is none
            data["LowerDir"] = ":".join(self.snapshots.fs(p) for p in rec.parents)
        data["MergedDir"] = self.paths.bundle_rootfs(rec.id)
        data["UpperDir"] = self.snapshots.fs(rec.snapshot)
        data["WorkDir"] = self.snapshots.work(rec.snapshot)
        return data

    def size_rw(self, rec: ContainerRecord) -> int:
        return self.snapshots.usage(rec.snapshot)

    def log_path(self, rec: ContainerRecord) -> str:
        return self.paths.log_path(rec.id, (rec.host_config.get("LogConfig") or {}).get("Type", ""))

    def readable_log(self, rec: ContainerRecord) -> str:
        """The log to read for ``logs``; moby's ErrReadLogsNotSupported (a 501) when the
        container's driver keeps none."""
        if (rec.host_config.get("LogConfig") or {}).get("Type") == logconfig.NONE:
            raise errors.NotImplementedYet("configured logging driver does not support reading")
        return self.log_path(rec)

    # -- its processes and files ----------------------------------------------------
    async def top(self, ref: str, ps_args: str) -> toplib.Top:
        """moby's ContainerTop: the arguments are checked before the container is looked up."""
        ps_args = ps_args or toplib.DEFAULT_ARGS
        toplib.validate_args(ps_args)
        rec = self.registry.get(ref)
        if not rec.running or not rec.cgroups_path:
            raise errors.Conflict(f"container {rec.id} is not running")
        if rec.state.restarting:
            raise S.is_restarting(rec.id)
        pids = await asyncio.to_thread(cgroups.manager(rec.cgroups_path).pids)
        result = await asyncio.to_thread(toplib.top, ps_args, pids)
        self.machine.log(rec, "top")
        return result

    async def changes(self, ref: str) -> list[Change]:
        rec = self.registry.get(ref)
        return await asyncio.to_thread(self.rootfs.changes, rec)

    async def open_export(self, ref: str) -> tuple[ContainerRecord, int]:
        """The container and a directory descriptor on its merged tree (the caller writes
        it with ``rootfs.write``, closes it and calls ``exported``)."""
        rec = self.registry.get(ref)
        if rec.status == S.DEAD:
            raise errors.Conflict(f"You cannot export container {rec.id} which is Dead")
        if rec.status == S.REMOVING:
            raise errors.Conflict(f"You cannot export container {rec.id} which is being removed")
        try:
            fd = await asyncio.to_thread(self.rootfs.open_merged, rec)
        except OSError as exc:
            raise errors.Internal(f"Error exporting container {ref}: {exc}") from None
        return rec, fd

    def exported(self, rec: ContainerRecord) -> None:
        self.machine.log(rec, "export")

    # -- files (docker cp: archive.py) ------------------------------------------------
    async def stat_path(self, ref: str, path: str | None):
        return await self.files.stat_path(self.registry.get(ref), ref, path)

    async def archive(self, ref: str, path: str | None):
        return await self.files.archive(self.registry.get(ref), ref, path)

    async def extract(self, ref: str, path: str | None, chunks, copy_uid_gid: bool,
                      no_overwrite_dir_non_dir: bool) -> None:
        await self.files.extract(self.registry.get(ref), ref, path, chunks, copy_uid_gid,
                                 no_overwrite_dir_non_dir)

    # -- running (the lifecycle's) ------------------------------------------------
    async def start(self, ref: str) -> bool:
        """Start; returns False if it was already running (Docker answers 304)."""
        rec = self.registry.get(ref)
        try:
            return await self.lifecycle.start(rec)
        except BaseException:
            if rec.host_config.get("AutoRemove") and not rec.state.alive:
                await self._remove(rec, volumes=True)  # moby removes a failed --rm container
            raise

    async def stop(self, ref: str, timeout: int | None, sig: str | None = None) -> bool:
        rec = self.registry.get(ref)
        return await self.lifecycle.stop(rec, timeout, parse_signal(sig, 0) or None)

    async def restart(self, ref: str, timeout: int | None, sig: str | None = None) -> None:
        rec = self.registry.get(ref)
        await self.lifecycle.stop(rec, timeout, parse_signal(sig, 0) or None)
        await self.lifecycle.start(rec)
        self.machine.log(rec, "restart")

    async def kill(self, ref: str, sig: str | None) -> None:
        number = parse_signal(sig, signal.SIGKILL)  # moby reads the signal before the name
        await self.lifecycle.kill(self.registry.get(ref), number)

    async def pause(self, ref: str) -> None:
        await self.lifecycle.pause(self.registry.get(ref))

    async def unpause(self, ref: str) -> None:
        await self.lifecycle.unpause(self.registry.get(ref))

    def wait(self, ref: str, condition: str) -> asyncio.Future:
        return self.lifecycle.waiters.register(self.registry.get(ref), condition)

    # -- attach (the lifecycle's attachments) ---------------------------------------
    def attachable(self, ref: str) -> ContainerRecord:
        """The container to attach to: moby's ContainerAttach refuses a paused one."""
        rec = self.registry.get(ref)
        if rec.state.paused:
            raise errors.Conflict(f"container {ref} is paused, unpause the container before attach")
        return rec

    def attach(self, rec: ContainerRecord, stdout: bool, stderr: bool, hold: bool = False) -> OutputQueue:
        """``hold``: a slow reader of this queue holds the container's output back (a
        build step's: the build is its only reader)."""
        sink = self.lifecycle.attachments.attach(rec.id, stdout, stderr, hold)
        self.machine.log(rec, "attach")
        return sink

    def detach(self, rec: ContainerRecord, sink: OutputQueue, keys: bool = False) -> None:
        """End an attachment; ``keys``: the client typed the detach keys (Docker's
        "detach" event is for that alone)."""
        self.lifecycle.attachments.detach(rec.id, sink)
        if keys:
            self.machine.log(rec, "detach")

    async def send_stdin(self, rec: ContainerRecord, data: bytes) -> None:
        await self.lifecycle.attachments.send_stdin(rec.id, data)

    async def close_stdin(self, rec: ContainerRecord) -> None:
        await self.lifecycle.attachments.close_stdin(rec.id)

    async def resize(self, ref: str, height: int, width: int) -> None:
        rec = self.registry.get(ref)
        if not rec.state.alive:
            raise errors.Conflict(f"container {rec.id} is not running")
        await self.lifecycle.attachments.resize(rec.id, height, width)
        self.machine.log(rec, "resize", {"height": str(height), "width": str(width)})

    async def update(self, ref: str, body: dict) -> list[str]:
        """``docker update``: new resource limits, applied at once to a running container,
        and a new restart policy (moby's ContainerUpdate; an empty policy name keeps it)."""
        body = body or {}
        policy = restart.RestartPolicy.of(body)
        policy.validate()  # verifyContainerSettings, before the container is looked up
        rec = self.registry.get(ref)
        unsupported.check_update(body)
        fields = {k: v for k, v in body.items() if k in UPDATABLE}
        if policy.name:
            if rec.host_config.get("AutoRemove") and not policy.none:
                raise errors.Conflict(f"Cannot update container {rec.id}: Restart policy cannot "
                                      "be updated because AutoRemove is enabled for the container")
            fields["RestartPolicy"] = policy.to_docker()
        else:
            fields.pop("RestartPolicy", None)
        host_config = {**rec.host_config, **fields}
        hostconfig.validate(host_config, os.cpu_count() or 1)
        if rec.running and not rec.state.restarting and rec.cgroups_path and fields:
            full = resources.build(host_config, os.cpu_count() or 1, [])
            sections = {_SECTION[k] for k in fields if k in _SECTION}
            partial = {k: v for k, v in full.items() if k in sections}
            await asyncio.to_thread(cgroups.manager(rec.cgroups_path).update, partial)
        rec.host_config = host_config
        self.registry.save(rec)
        self.machine.log(rec, "update")  # moby's ActionUpdate
        return []

    def rename(self, ref: str, new_name: str) -> None:
        """moby's ContainerRename: the same name is refused first, then the new name is
        reserved, whose errors come "Error when allocating new name: ..."."""
        rec = self.registry.get(ref)
        new_name = "/" + new_name.removeprefix("/")
        if new_name == "/" + rec.name:
            raise errors.InvalidArgument("Renaming a container with the same name as its current name")
        try:
            new_name = names.validate(new_name)
            if new_name in self.registry.by_name:
                raise errors.name_in_use(new_name, self.registry.by_name[new_name])
        except errors.KetchError as exc:
            raise errors.wrapped(exc, "Error when allocating new name") from None
        old_name = rec.name
        del self.registry.by_name[rec.name]
        rec.name = new_name
        self.registry.by_name[new_name] = rec.id
        self.registry.save(rec)
        self.lifecycle.networking.renamed(rec)  # its DNS names follow (moby's)
        self.machine.log(rec, "rename", {"oldName": "/" + old_name})
