"""From a create's body to the container's mount points: moby's ``registerMountPoints``
and the anonymous volumes of ``createContainerVolumesOS``.

What each destination is bound to, in moby's order of precedence:

  1. ``HostConfig.VolumesFrom``: every mount point of each source container, read-only
     when asked (``:ro``) or when it was; never populated from the image again.
  2. ``HostConfig.Binds``, then ``HostConfig.Mounts``: each replaces a volumes-from at its
     destination; two of them at one destination (or a ``-v`` at a ``--tmpfs``
     destination) is "Duplicate mount point: /x".
  3. ``Config.Volumes`` (the image's ``VOLUME``s and ``-v /path``): an anonymous volume
     for each destination nothing above covers, nor a ``--tmpfs``.

Everything is parsed and checked before the first volume is made (moby makes them as
it goes and leaks them when a later entry is refused); a failure after that removes the
volumes this create made and leaves the ones that were there before.

``MountPoint.options`` carries what the spec needs besides, under ``MountRequest``'s
field names, only when set: ``subpath``, ``non_recursive``, ``readonly_non_recursive``,
``readonly_force_recursive``, ``create_mountpoint``, ``create_source`` (a ``-v`` bind
whose missing source is made at start), ``tmpfs_size``, ``tmpfs_mode``.
"""

import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import Callable

from ketch import errors
from ketch.apitypes import mounts as parse
from ketch.apitypes.mounts import BIND, DEFAULT_PROPAGATION, TMPFS, VOLUME, MountRequest
from ketch.engine.volumes.mountpoint import MountPoint, VolumeAccess
from ketch.volume.model import LOCAL

log = logging.getLogger("ketchd.volumes")

BIND_FLAGS = ("subpath", "non_recursive", "readonly_non_recursive", "readonly_force_recursive",
              "create_mountpoint", "create_source", "tmpfs_size", "tmpfs_mode")


def duplicate(destination: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(f"Duplicate mount point: {destination}")


@dataclass(frozen=True)
class Requests:
    """A create's mount requests, parsed (``requests``) before anything is made."""
    volumes_from: tuple[tuple[str, str], ...] = ()  # (container, mode)
    binds: tuple[MountRequest, ...] = ()
    mounts: tuple[MountRequest, ...] = ()
    tmpfs: tuple[str, ...] = ()  # HostConfig.Tmpfs destinations (not mount points: the spec's)
    volume_driver: str = ""  # HostConfig.VolumeDriver (for Binds' and Config.Volumes' volumes)


def validate(host_config: dict, exists: Callable[[str], bool] = os.path.exists) -> None:
    """moby's verifyContainerSettings for mounts, before the image is looked up: each
    ``HostConfig.Mounts`` entry (a bind's source must exist unless CreateMountpoint) and
    each ``HostConfig.Tmpfs`` destination."""
    for raw in host_config.get("Mounts") or []:
        req = parse.from_api_mount(raw)
        if req.type == BIND and not req.create_mountpoint and not exists(req.source):
            raise errors.InvalidArgument(
                f'invalid mount config for type "bind": bind source path does not exist: {req.source}')
    for dest, options in (host_config.get("Tmpfs") or {}).items():
        parse.validate_tmpfs(dest, options)


def requests(host_config: dict) -> Requests:
    """Parse the mounts of a create's HostConfig (moby's order, and its first error)."""
    driver = host_config.get("VolumeDriver") or ""
    volumes_from = []
    for spec in host_config.get("VolumesFrom") or []:
        volumes_from.append(parse.parse_volumes_from(spec))
    tmpfs = tuple(host_config.get("Tmpfs") or {})
    taken: set[str] = set()
    binds = []
    for raw in host_config.get("Binds") or []:
        req = parse.parse_bind(raw, driver)
        if req.destination in taken or req.destination in tmpfs:  # moby #10618
            raise duplicate(req.destination)
        taken.add(req.destination)
        binds.append(req)
    mounts = []
    for raw in host_config.get("Mounts") or []:
        req = parse.from_api_mount(raw)
        if req.destination in taken:
            raise duplicate((req.spec or {}).get("Target") or req.destination)
        taken.add(req.destination)
        mounts.append(req)
    return Requests(tuple(volumes_from), tuple(binds), tuple(mounts), tmpfs, driver)


def _rw(mode: str) -> bool:
    return "ro" not in mode.split(",")


def _options(req: MountRequest) -> dict:
    return {name: getattr(req, name) for name in BIND_FLAGS if getattr(req, name)}


@dataclass
class Planner:
    """Decides a new container's mount points, making the volumes they need."""
    volumes: VolumeAccess | None
    mount_points_of: Callable[[str], list[MountPoint]]  # a container (any reference) -> its mount points
    data_root: str = ""  # a bind from within it gets rslave propagation (moby's validateBindDaemonRoot)
    made: list[str] = field(default_factory=list)  # volumes made by the last plan

    def plan(self, reqs: Requests, config_volumes: dict | None) -> list[MountPoint]:
        """The mount points, by destination in moby's order; on failure, the volumes
        made meanwhile are removed again."""
        self.made = []
        try:
            return self._plan(reqs, config_volumes)
        except BaseException:
            self.undo()
            raise

    def undo(self) -> None:
        """Remove the volumes the last plan made (a create that failed after it)."""
        for name in reversed(self.made):
            try:
                self._service().remove(name, force=True)
            except errors.KetchError as exc:
                log.warning("removing volume %s of a failed create: %s", name, exc)
        self.made = []

    def _plan(self, reqs: Requests, config_volumes: dict | None) -> list[MountPoint]:
        points: dict[str, MountPoint] = {}
        for ref, mode in reqs.volumes_from:
            for mp in self._from(ref):
                if mp.is_volume:
                    self._service().get(mp.name)  # moby's volumes.Get: it must still be there
                points[mp.destination] = MountPoint(
                    type=mp.type, destination=mp.destination, source=mp.source, name=mp.name,
                    driver=mp.driver, rw=mp.rw and _rw(mode), propagation=mp.propagation,
                    copy_data=False, named=mp.named, options=dict(mp.options), spec=mp.spec)
        anonymous = [parse.parse_anonymous(dest) for dest in (config_volumes or {})]
        for req in (*reqs.binds, *reqs.mounts):
            if req.type == VOLUME:
                self._check_driver(req.driver, req.source)
        if any(a.destination not in points and a.destination not in reqs.tmpfs for a in anonymous):
            self._check_driver(reqs.volume_driver, "")
        for req in (*reqs.binds, *reqs.mounts):
            points[req.destination] = self._point(req)
        for req in anonymous:
            if req.destination in points or req.destination in reqs.tmpfs:
                continue  # a --volumes-from, -v, --mount or --tmpfs has it (moby's HasMountFor)
            vol = self._volume("", reqs.volume_driver)
            points[req.destination] = MountPoint(
                type=VOLUME, destination=req.destination, source=vol.mountpoint, name=vol.name,
                driver=vol.driver, rw=True, copy_data=True)
        return list(points.values())

    def _from(self, ref: str) -> list[MountPoint]:
        try:
            return self.mount_points_of(ref)
        except errors.NotFound as exc:  # moby: errdefs.InvalidParameter(err)
            raise errors.InvalidArgument(str(exc)) from None

    @staticmethod
    def _check_driver(driver: str, name: str) -> None:
        """Only the local driver exists: another name is an unknown plugin, refused before
        anything is made (moby's volume create fails so, naming the volume, a random name
        for an anonymous one)."""
        if driver not in ("", LOCAL):
            raise errors.NotFound(f"create {name or secrets.token_hex(32)}: error looking up "
                                  f'volume plugin {driver}: plugin "{driver}" not found')

    def _point(self, req: MountRequest) -> MountPoint:
        if req.type == VOLUME:
            vol = self._volume(req.source, req.driver, req.driver_opts or None, req.labels or None)
            return MountPoint(
                type=VOLUME, destination=req.destination, source=vol.mountpoint, name=vol.name,
                driver=vol.driver, rw=req.rw, mode=(req.mode or "z") if vol.driver == LOCAL else req.mode,
                copy_data=req.copy_data, named=bool(req.source), options=_options(req), spec=req.spec)
        if req.type == BIND:
            return MountPoint(
                type=BIND, destination=req.destination, source=req.source, rw=req.rw, mode=req.mode,
                propagation=self._propagation(req), copy_data=False, options=_options(req),
                spec=req.spec)
        if req.type == TMPFS:
            return MountPoint(type=TMPFS, destination=req.destination, rw=req.rw, copy_data=False,
                              options=_options(req), spec=req.spec)
        raise errors.InvalidArgument(f'invalid mount config for type "{req.type}": mount type unknown')

    def _propagation(self, req: MountRequest) -> str:
        """moby's validateBindDaemonRoot: a bind of (or above) the data root must not keep
        private references to its mounts: rslave unless asked rslave or rshared."""
        root = self.data_root
        if not root or not (req.source.startswith(root) or root.startswith(req.source)):
            return req.propagation or DEFAULT_PROPAGATION
        if not req.propagation:
            return "rslave"
        if req.propagation in ("rslave", "rshared"):
            return req.propagation
        raise errors.InvalidArgument(
            'invalid mount config: must use either propagation mode "rslave" or "rshared" when mount '
            f'source is within the daemon root, daemon root: "{root}", bind mount source: '
            f'"{req.source}", propagation: "{req.propagation}"')

    def _service(self) -> VolumeAccess:
        if self.volumes is None:  # a daemon wired without volumes (unit tests of other parts)
            raise errors.Internal("volumes are not available")
        return self.volumes

    def _volume(self, name: str, driver: str, opts: dict | None = None, labels: dict | None = None):
        service = self._service()
        existed = False
        if name:
            try:
                service.get(name)
                existed = True
            except errors.NotFound:
                pass
        vol = service.create(name=name, driver=driver, opts=opts, labels=labels, anonymous=not name)
        if not existed:
            self.made.append(vol.name)
        return vol
