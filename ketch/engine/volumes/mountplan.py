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
it goes and leaks them when a later entry is refused); a failure after that (a volume's
create, a bind of the data root with private propagation, an anonymous volume over a
file of the image) removes the volumes this create made, moby's cleanup keeps a named
one, and leaves the ones that were there before.

``MountPoint.options`` carries what the spec needs besides, under ``MountRequest``'s
field names, only when set: ``subpath``, ``non_recursive``, ``readonly_non_recursive``,
``readonly_force_recursive``, ``create_mountpoint``, ``create_source`` (a ``-v`` bind
whose missing source is made at start), ``tmpfs_size``, ``tmpfs_mode``, ``tmpfs_options``.
"""

import logging
import os
from dataclasses import dataclass, field, replace
from typing import Callable

from ketch import errors
from ketch.apitypes import mounts as parse
from ketch.apitypes.mounts import BIND, DEFAULT_PROPAGATION, PROPAGATIONS, TMPFS, VOLUME, MountRequest
from ketch.engine.volumes.mountpoint import MountPoint, VolumeAccess
from ketch.volume.model import LOCAL

log = logging.getLogger("ketchd.volumes")

OPTION_FIELDS = ("subpath", "non_recursive", "readonly_non_recursive", "readonly_force_recursive",
                 "create_mountpoint", "create_source", "tmpfs_size", "tmpfs_mode", "tmpfs_options")


def duplicate(destination: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(f"Duplicate mount point: {destination}")


@dataclass(frozen=True)
class Requests:
    """A create's mounts, parsed and checked (``requests``) before anything is made."""
    volumes_from: tuple[MountPoint, ...] = ()  # the source containers' mount points, as taken over
    binds: tuple[MountRequest, ...] = ()
    mounts: tuple[MountRequest, ...] = ()
    tmpfs: tuple[str, ...] = ()  # HostConfig.Tmpfs destinations (not mount points: the spec's)
    volume_driver: str = ""  # HostConfig.VolumeDriver (for Binds' and Config.Volumes' volumes)


def _invalid(exc: parse.MountSpecError) -> errors.InvalidArgument:
    return errors.InvalidArgument(str(exc))


def validate(host_config: dict, exists: Callable[[str], bool] = os.path.exists) -> None:
    """moby's verifyContainerSettings for mounts, before the image is looked up: each
    ``HostConfig.Mounts`` entry (a bind's source must exist unless CreateMountpoint) and
    each ``HostConfig.Tmpfs`` destination. A 400."""
    try:
        for raw in host_config.get("Mounts") or []:
            req = parse.from_api_mount(raw)
            if req.type == BIND and not req.create_mountpoint and not exists(req.source):
                raise errors.InvalidArgument('invalid mount config for type "bind": '
                                             f"bind source path does not exist: {req.source}")
        for dest, options in (host_config.get("Tmpfs") or {}).items():
            parse.validate_tmpfs(dest, options)
    except parse.MountSpecError as exc:
        raise _invalid(exc) from None


def requests(host_config: dict, mount_points_of: Callable[[str], list[MountPoint]]) -> Requests:
    """Parse the mounts of a create's HostConfig, in moby's order (and with its first
    error, its status: a bad Binds entry is a plain error in moby, a 500);
    ``mount_points_of``: a container (any reference) -> its mount points."""
    driver = host_config.get("VolumeDriver") or ""
    taken_from = []
    for spec in host_config.get("VolumesFrom") or []:
        try:
            ref, mode = parse.parse_volumes_from(spec)
            sources = mount_points_of(ref)
        except (parse.MountSpecError, errors.NotFound) as exc:  # moby: errdefs.InvalidParameter
            raise errors.InvalidArgument(str(exc)) from None
        rw = parse.read_write(mode)
        taken_from += [replace(mp, rw=mp.rw and rw, mode="", copy_data=False) for mp in sources]
    tmpfs = tuple(host_config.get("Tmpfs") or {})
    taken: set[str] = set()
    binds = []
    for raw in host_config.get("Binds") or []:
        try:
            req = parse.parse_bind(raw, driver)
        except parse.MountSpecError as exc:
            raise errors.Internal(str(exc)) from None
        if req.destination in taken or req.destination in tmpfs:  # moby #10618
            raise duplicate(req.destination)
        taken.add(req.destination)
        binds.append(req)
    mounts = []
    for raw in host_config.get("Mounts") or []:
        try:
            req = parse.from_api_mount(raw)
        except parse.MountSpecError as exc:
            raise _invalid(exc) from None
        if req.destination in taken:
            raise duplicate(raw.get("Target") or req.destination)
        taken.add(req.destination)
        mounts.append(req)
    return Requests(tuple(taken_from), tuple(binds), tuple(mounts), tmpfs, driver)


def named_volumes(host_config) -> set[str]:
    """The volume names a create's Binds and Mounts give (what it must wait for, should
    one be being removed); an entry that does not parse is the create's to report."""
    if not isinstance(host_config, dict):
        return set()
    driver = host_config.get("VolumeDriver") or ""
    found = []
    for raw in host_config.get("Binds") or []:
        try:
            found.append(parse.parse_bind(raw, driver))
        except (parse.MountSpecError, TypeError, AttributeError):
            pass
    for raw in host_config.get("Mounts") or []:
        try:
            found.append(parse.from_api_mount(raw))
        except (parse.MountSpecError, TypeError, AttributeError):
            pass
    return {req.source for req in found if req.type == VOLUME and req.source}


def _options(req: MountRequest) -> dict:
    out = {name: getattr(req, name) for name in OPTION_FIELDS if getattr(req, name)}
    if "tmpfs_options" in out:
        out["tmpfs_options"] = list(out["tmpfs_options"])  # a doc of JSON values
    return out


def _asked_propagation(req: MountRequest) -> str:
    """The propagation the user gave, "" for none (the request carries moby's default)."""
    if req.spec is not None:
        return ((req.spec.get("BindOptions") or {}).get("Propagation")) or ""
    return next((o for o in req.mode.split(",") if o in PROPAGATIONS), "")


@dataclass
class Planner:
    """Decides a new container's mount points, making the volumes they need."""
    volumes: VolumeAccess
    data_root: str = ""  # a bind from within it gets rslave propagation (moby's validateBindDaemonRoot)
    # a destination -> the host path of the image's file there ("" for none): no anonymous
    # volume over a file (moby's createContainerVolumesOS)
    file_at: Callable[[str], str] = lambda destination: ""
    # moby's defaultReadOnlyNonRecursive (API < 1.44): a read-only bind is so non-recursively
    readonly_non_recursive: bool = False
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
                self.volumes.remove(name, force=True)
            except errors.KetchError as exc:
                log.warning("removing volume %s of a failed create: %s", name, exc)
        self.made = []

    async def undo_async(self) -> None:
        """``undo`` with the data deleted in a thread: a seeding that failed part way (a
        full disk) may have copied much into them."""
        for name in reversed(self.made):
            try:
                await self.volumes.remove_async(name, force=True)
            except errors.KetchError as exc:
                log.warning("removing volume %s of a failed create: %s", name, exc)
        self.made = []

    def _plan(self, reqs: Requests, config_volumes: dict | None) -> list[MountPoint]:
        points: dict[str, MountPoint] = {}
        for mp in reqs.volumes_from:
            if not mp.source:  # moby looks such a one up as a volume: a --mount type=tmpfs too
                if not mp.name:  # ... and fails so (Docker's behaviour, moby master's too)
                    raise errors.NotFound("get: no such volume")
                self.volumes.get(mp.name)
            elif mp.is_volume:
                self.volumes.get(mp.name)  # still there
            points[mp.destination] = mp
        anonymous = [parse.parse_anonymous(dest, reqs.volume_driver) for dest in (config_volumes or {})]
        for req in (*reqs.binds, *reqs.mounts):
            points[req.destination] = self._point(req)
        for req in anonymous:
            if req.destination in points or req.destination in reqs.tmpfs:
                continue  # a --volumes-from, -v, --mount or --tmpfs has it (moby's HasMountFor)
            path = self.file_at(req.destination)
            if path:
                raise errors.Internal(f"cannot mount volume over existing file, file exists {path}")
            vol = self._volume("", reqs.volume_driver)
            points[req.destination] = MountPoint(
                type=VOLUME, destination=req.destination, source=vol.mountpoint, name=vol.name,
                driver=vol.driver, rw=True, copy_data=True)
        return list(points.values())

    def _point(self, req: MountRequest) -> MountPoint:
        if req.type == VOLUME:
            vol = self._volume(req.source, req.driver, req.driver_opts or None, req.labels or None)
            return MountPoint(
                type=VOLUME, destination=req.destination, source=vol.mountpoint, name=vol.name,
                driver=vol.driver, rw=req.rw, mode=(req.mode or "z") if vol.driver == LOCAL else req.mode,
                copy_data=req.copy_data, named=bool(req.source), options=_options(req), spec=req.spec)
        if req.type == BIND:
            options = _options(req)
            if not req.rw and self.readonly_non_recursive:
                options["readonly_non_recursive"] = True
            return MountPoint(
                type=BIND, destination=req.destination, source=req.source, rw=req.rw, mode=req.mode,
                propagation=self._propagation(req), copy_data=False, options=options, spec=req.spec)
        if req.type == TMPFS:
            return MountPoint(type=TMPFS, destination=req.destination, rw=req.rw, copy_data=False,
                              options=_options(req), spec=req.spec)
        raise errors.InvalidArgument(f'invalid mount config for type "{req.type}": mount type unknown')

    def _propagation(self, req: MountRequest) -> str:
        """moby's validateBindDaemonRoot: a bind of (or above) the data root must not keep
        private references to its mounts: rslave unless asked rslave or rshared."""
        root, asked = self.data_root, _asked_propagation(req)
        if not root or not (req.source.startswith(root) or root.startswith(req.source)):
            return asked or req.propagation or DEFAULT_PROPAGATION
        if not asked:
            return "rslave"
        if asked in ("rslave", "rshared"):
            return asked
        raise errors.InvalidArgument(
            'invalid mount config: must use either propagation mode "rslave" or "rshared" when mount '
            f'source is within the daemon root, daemon root: "{root}", bind mount source: '
            f'"{req.source}", propagation: "{asked}"')

    def _volume(self, name: str, driver: str, opts: dict | None = None, labels: dict | None = None):
        service = self.volumes
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
