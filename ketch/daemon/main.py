"""ketchd's entry point: the only place that names concrete implementations and wires them.

Start-up order matters: the fork server is started before the event loop has any
threads, the embedded image exists before the API answers, and containers left
running by a previous ketchd are reattached before clients can act on them.
"""

import asyncio
import fcntl
import logging
import os
import signal
import sys

from ketch import __version__, errors
from ketch.api.server import build_server
from ketch.daemon import roots
from ketch.daemon.config import DaemonConfig, load
from ketch.engine import embedded, gc
from ketch.engine import runtimes as engine_runtimes
from ketch.engine.containers.bundle import Bundles, Paths, RunConfig
from ketch.engine.containers.exec import ExecService
from ketch.engine.health import HealthMonitor
from ketch.engine.containers.lifecycle import Lifecycle
from ketch.engine.containers.locks import ContainerLocks
from ketch.engine.containers.records import Registry
from ketch.engine.containers.service import ContainerService
from ketch.engine.containers.state import StateMachine
from ketch.engine.containers.waiters import Waiters
from ketch.engine.eventlog import EventLog
from ketch.engine.events import EventBus
from ketch.engine.images.distribution import DistributionService, registry_config
from ketch.api.routes.build import BuildRoutes
from ketch.engine.builds.cache import BuildCache
from ketch.engine.builds.cachemounts import CacheMounts
from ketch.engine.builds.contexts import BuildContexts
from ketch.engine.builds.runmounts import RunMounts
from ketch.engine.builds.runstep import StepRunner
from ketch.engine.builds.service import BuildService, scratch_dir
from ketch.api.routes.diskusage import DiskUsageRoutes
from ketch.engine.diskusage import DiskUsage
from ketch.engine.images.commit import Committer
from ketch.engine.images.prune import ImagePruner
from ketch.engine.images.service import ImageService
from ketch.engine.monitors import MonitorLauncher
from ketch.engine.networks.firewall import Firewall
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.sandbox import ContainerNetworking
from ketch.engine.networks.service import NetworkService
from ketch.engine.restart import Restarts
from ketch.engine.store import Store
from ketch.engine.system import SystemService
from ketch.engine.volumes.service import VolumeService
from ketch.image.content import ContentStore
from ketch.linux import filemode
from ketch.network.netlink import HostLinks
from ketch.registry.client.endpoints import RegistryOptions
from ketch.registry.client.transport import Session
from ketch.runtime import cgroups
from ketch.storage.overlay import OverlaySnapshotter
from ketch.volume.local import LocalDriver

log = logging.getLogger("ketchd")


class Daemon:
    def __init__(self, cfg: DaemonConfig) -> None:
        self.cfg = cfg
        self.roots = roots.Roots(cfg.data_root, cfg.exec_root)
        roots.make(self.roots)
        self._lock = self._take_lock()
        roots.repair(self.roots)  # before anything below opens what it covers
        self.paths = Paths(cfg.data_root, cfg.exec_root)
        for d, mode in self.paths.dirs:
            filemode.makedirs(d, mode)
        self.store = Store(self.roots.db)
        self.snapshots = OverlaySnapshotter(self.roots.snapshots)
        self.event_log = EventLog(self.roots.events)
        self.events = EventBus(journal=self.event_log)
        self.images = ImageService(self.store, ContentStore(self.roots.content), self.snapshots,
                                   self.events)
        self.volumes = VolumeService(self.store, LocalDriver(self.roots.volumes), self.events)
        self.launcher = MonitorLauncher(cfg.exec_root)
        self.registry = Registry(self.store)
        self.runtimes = engine_runtimes.build(cfg.runtimes, list(cfg.add_runtimes), cfg.default_runtime)
        self.cgroup_version = cgroups.detect()
        bundles = Bundles(self.paths, self.snapshots, self.runtimes,
                          RunConfig(self.cgroup_version, cfg.cgroup_parent, cfg.init_path),
                          self.volumes)
        self.host_links = HostLinks()
        self.network_registry = NetworkRegistry(self.store)
        self.firewall = Firewall(self.network_registry, cfg.network)
        locks = ContainerLocks()
        self.networking = ContainerNetworking(self.network_registry, self.registry, self.launcher,
                                              self.host_links, cfg.network, locks, self.firewall,
                                              resolv_conf=self.paths.resolv_conf, hosts=self.paths.hosts)
        self.lifecycle = Lifecycle(self.registry, StateMachine(self.events, self.registry.save),
                                   bundles, self.launcher, self.runtimes, Waiters(self.events),
                                   self.networking, locks)
        self.networks = NetworkService(self.network_registry, self.registry, self.networking,
                                       cfg.network, self.events)
        self.restarts = Restarts(self.lifecycle, self.events)
        self.containers = ContainerService(self.registry, self.images, self.snapshots,
                                           self.lifecycle, cfg.log_config, volumes=self.volumes)
        self.volumes.set_users(self.containers.volume_users)
        self.system = SystemService(self.registry, self.images, self.runtimes,
                                    data_root=cfg.data_root, debug=cfg.debug,
                                    cgroup_version=self.cgroup_version.removeprefix("v"),
                                    init_path=cfg.init_path, logging_driver=cfg.log_config["Type"],
                                    registry_config=registry_config(cfg.registry_mirrors,
                                                                    cfg.insecure_registries))
        self.execs = ExecService(self.registry, self.launcher, self.events, self.paths,
                                 self.runtimes)
        self.health = HealthMonitor(self.registry, self.lifecycle.machine, self.execs)
        self.registry_session = Session(RegistryOptions(cfg.registry_mirrors, cfg.insecure_registries,
                                                        cfg.certs_dir))
        self.distribution = DistributionService(self.images, self.registry_session,
                                                cfg.max_concurrent_downloads,
                                                cfg.max_concurrent_uploads)
        self.build_cache = BuildCache(self.images, self.containers.users_of_image,
                                      lambda: self.images.collect_garbage(self.containers.layers_in_use()))
        cache_mounts = CacheMounts(cfg.data_root)
        self.run_mounts = RunMounts(self.images, cfg.exec_root, cache_mounts)
        self.step_runner = StepRunner(self.containers, self.run_mounts)
        self.builds = BuildService(self.images, self.build_cache, scratch_dir(cfg.exec_root),
                                   self.distribution.puller, self.step_runner.run, cache_mounts,
                                   os.path.join(self.roots.builder, "downloads"))
        self.build_contexts = BuildContexts(os.path.join(self.roots.builder, "context"))
        build_routes = BuildRoutes(self.builds, self.build_contexts)  # moby's .dockerignore rules
        pruner = ImagePruner(self.images, self.containers.users_of_image)
        disk_usage = DiskUsageRoutes(DiskUsage(self.images, self.containers, self.volumes), pruner,
                                     lambda: self.images.collect_garbage(self.containers.layers_in_use()),
                                     build_cache=self.builds.usage)
        self.server = build_server(self.containers, self.images, self.system, self.events,
                                   self.execs, self.distribution,
                                   commits=Committer(self.images, self.containers),
                                   disk_usage=disk_usage, networks=self.networks,
                                   volumes=self.volumes, builds=build_routes)

    def _take_lock(self):
        try:
            fd = filemode.create(self.roots.lock, roots.LOCK_MODE)
        except FileExistsError:
            fd = os.open(self.roots.lock, os.O_WRONLY | os.O_CLOEXEC)
        f = os.fdopen(fd, "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise errors.FailedPrecondition(
                f"another ketchd is already using the data root {self.cfg.data_root}") from None
        f.truncate()  # only once locked: the pid of the ketchd that holds it stays
        f.write(str(os.getpid()))
        f.flush()
        return f

    def _sweep_builds(self) -> None:
        """What builds a stop cut short left (blocking; no build runs yet)."""
        self.build_contexts.sweep()  # their contexts
        self.run_mounts.sweep()  # their RUN steps' mount dirs
        self.builds.sweep()  # their COPY/ADD steps' scratch dirs

    async def run(self) -> None:
        self.events.bind_loop(asyncio.get_running_loop())  # before anything may publish from a thread
        self.launcher.start()
        try:
            await embedded.ensure(self.store, self.images)
            await self.networks.boot()
            # a removal's tombstones, directories without a record: before a container looks
            await asyncio.to_thread(self.volumes.recover)
            for rec in self.registry.all():
                await self.lifecycle.reconcile(rec)
            await self.step_runner.sweep()  # RUN steps a crash cut short: before their mounts go
            # the running ones' mounts are counted again: what no one holds is a leftover
            await asyncio.to_thread(self.volumes.unmount_stale)
            await self.restarts.boot(self.registry.all())
            await self.networking.sweep({r.id for r in self.registry.all() if r.state.alive})
            await asyncio.to_thread(gc.sweep_orphans, self.store, self.registry, self.snapshots,
                                    self.paths)
            await asyncio.to_thread(self._sweep_builds)
            # blobs a crash left between their writing and their record (a commit, an import)
            self.images.collect_garbage(self.containers.layers_in_use())
            for path in self.cfg.socket_paths():
                filemode.makedirs(os.path.dirname(path), 0o755)
                await self.server.serve_unix(path, 0o660)
                log.info("API listen on %s", path)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.run_in_executor(None, self.networking.warm)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            log.info("shutting down; containers keep running")
            await self.server.close()
        finally:
            self.restarts.close()
            self.launcher.stop()
            await self.networking.close()
            await self.networking.shutdown()  # before the store closes: it records bridges
            await self.host_links.close()
            self.store.close()
            self.event_log.close()
            self.registry_session.close()
            if not any(r.running for r in self.registry.all()):
                cgroups.remove_parent(self.cfg.cgroup_parent)  # only if empty


def main(argv: list[str] | None = None) -> int:
    try:
        cfg, args = load(argv)
    except errors.KetchError as exc:
        print(f"ketchd: {exc}", file=sys.stderr)
        return 1
    if args.version:
        print(f"ketchd version {__version__}")
        return 0
    logging.basicConfig(level=logging.DEBUG if cfg.debug else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("pyroute2").setLevel(logging.WARNING)  # its debug logs every message
    if os.geteuid() != 0:
        print("ketchd: must run as root", file=sys.stderr)
        return 1
    try:
        daemon = Daemon(cfg)
        asyncio.run(daemon.run())
    except errors.KetchError as exc:
        print(f"ketchd: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
