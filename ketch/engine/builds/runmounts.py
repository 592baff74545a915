"""``RUN --mount``: what a step's container mounts besides its root, as the container's
``HostConfig`` (Mounts, Tmpfs) and environment, made on the host before the container
is created and unmade after it is removed.

One directory per RUN, on the exec root (nothing of it outlives the run)::

    <exec-root>/builds/run-<token>/      0700
        roots/<n>/                       a bind's root when it is not the context itself:
            merged/ upper/ work/         an overlay of the image's layers (``from=``), or of
                                         the context for ``rw`` (writes land in upper/ and
                                         are thrown away with it)
        pins/<n>                         each bind's ``source``, resolved INSIDE its root by
                                         descriptor and bound here: what the container gets
                                         (a symlink in a stage cannot point it at the host:
                                         CVE-2024-23651/23652); a cache directory too (a
                                         private bind of the data root is refused)
        secrets/                         a tmpfs with each secret's file (mode 0400 unless
                                         ``mode=``), bound read-only onto its target

``type=cache`` directories are ``cachemounts.py``'s (one made now with ``from=`` starts as a
copy of that stage's ``source``); ``type=tmpfs`` is a ``HostConfig.Tmpfs``
entry (exec allowed, as buildkit's). The mount points' stubs the runtime makes in the
writable layer are left out of the step's layer (``Prepared.targets``), so no secret,
cache or bind ever ends up in an image. ``sweep`` removes what a crash left.
"""

import asyncio
import logging
import os
import posixpath
import secrets
from dataclasses import dataclass, field

from ketch import errors
from ketch.build.backend import RunSpec, SecretSource
from ketch.build.instructions import MountSpec
from ketch.engine.builds.cachemounts import CacheMounts, Lease
from ketch.engine.images.service import ImageService
from ketch.engine.volumes.mountsetup import pin_subpath
from ketch.linux import filemode
from ketch.linux import mount as mnt
from ketch.linux.fstree import remove_tree
from ketch.linux.mount import Mount
from ketch.volume.copyup import copy_into_empty

log = logging.getLogger("ketchd.build")

RUN_DIR_MODE = 0o700
RUN_PREFIX = "run-"
SECRET_MODE = 0o400  # buildkit's default
SECRETS_SIZE = 1 << 20  # the tmpfs of a run's secret files


@dataclass
class Prepared:
    """What a step's container gets: ``mounts`` (HostConfig.Mounts), ``tmpfs``
    (HostConfig.Tmpfs), ``env`` (secrets given as variables), and its mount points
    (``targets``) to keep out of the layer."""
    mounts: list[dict] = field(default_factory=list)
    tmpfs: dict[str, str] = field(default_factory=dict)
    env: list[str] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)
    run_dir: str = ""
    leases: list[Lease] = field(default_factory=list)


def target_of(m: MountSpec, workdir: str) -> str:
    """An absolute, clean mount target; a relative one is under the working dir (buildkit)."""
    target = m.target
    if m.type == "secret" and not target and not m.env:
        target = "/run/secrets/" + posixpath.basename(secret_id(m))
    if not target:
        return ""
    return posixpath.normpath(posixpath.join("/", workdir or "/", target))


def secret_id(m: MountSpec) -> str:
    """buildkit: ``id``, else ``source``, else the target's base name."""
    return m.id or m.source or posixpath.basename(m.target)


class RunMounts:
    def __init__(self, images: ImageService, exec_root: str, cache: CacheMounts) -> None:
        self.images = images
        self.builds = os.path.join(exec_root, "builds")
        self.cache = cache

    async def prepare(self, spec: RunSpec, context_dir: str | None, description: str) -> Prepared:
        """Everything ``spec.mounts`` needs, made; on failure nothing is left."""
        out = Prepared()
        making = None
        try:
            for m in spec.mounts:
                if m.type == "cache":
                    target = target_of(m, spec.workdir)
                    lease = await self.cache.acquire(m.id or target, m.sharing, m.mode, m.uid, m.gid,
                                                     f"cached mount {target} from exec {description}")
                    out.leases.append(lease)
            making = asyncio.ensure_future(asyncio.to_thread(self._make, spec, context_dir, out))
            await asyncio.shield(making)
        except BaseException:
            # cancelled (the client went away): the thread still mounts; undone once it ends
            undo = asyncio.ensure_future(self._undo(making, out))
            await asyncio.wait({undo})
            raise
        return out

    async def _undo(self, making: asyncio.Future | None, prepared: Prepared) -> None:
        if making is not None:
            await asyncio.wait({making})
        await self.release(prepared)

    async def release(self, prepared: Prepared) -> None:
        if prepared.run_dir:
            await asyncio.to_thread(_remove_run_dir, prepared.run_dir)
            prepared.run_dir = ""
        while prepared.leases:
            await self.cache.release(prepared.leases.pop())

    def sweep(self) -> None:
        """At start-up: the run directories a crash left, unmounted and removed."""
        try:
            names = os.listdir(self.builds)
        except FileNotFoundError:
            return
        for name in names:
            if not name.startswith(RUN_PREFIX):
                continue  # the build service's own scratch directories
            try:
                _remove_run_dir(os.path.join(self.builds, name))
            except (OSError, errors.KetchError) as exc:
                log.error("cannot remove build run directory %s: %s", name, exc)

    # -- in a thread ----------------------------------------------------------------
    def _make(self, spec: RunSpec, context_dir: str | None, out: Prepared) -> None:
        leases = iter(out.leases)
        secrets_by_id = {s.id: s for s in spec.secrets}
        for m in spec.mounts:
            target = target_of(m, spec.workdir)
            if m.type == "cache":
                lease = next(leases)  # pinned: a bind of the data root itself must be rslave
                self._seed_cache(m, lease, context_dir, out)
                pinned = pin_subpath(lease.path, ".", os.path.join(self._run_dir(out), "pins"))
                out.mounts.append(_bind(pinned, target, m.readonly))
            elif m.type == "tmpfs":
                out.tmpfs[target] = "exec" + (f",size={m.size}" if m.size else "")
            elif m.type == "bind":
                source = self._bind_source(m, context_dir, out)
                out.mounts.append(_bind(source, target, m.readonly))
            elif m.type == "secret":
                found = secrets_by_id.get(secret_id(m))
                if found is None:
                    if m.required:
                        raise errors.InvalidArgument(f"secret {secret_id(m)}: not found")
                    continue  # buildkit skips an optional secret the client did not send
                if m.env:
                    out.env.append(f"{m.env}={found.data.decode('utf-8', 'surrogateescape')}")
                if not target:
                    continue  # env= only
                out.mounts.append(_bind(self._secret_file(found, m, out), target, True))
            elif m.type == "ssh":
                raise errors.InvalidArgument(f"no SSH key {m.id or 'default'!r} forwarded from the client")
            else:
                raise errors.InvalidArgument(f"unsupported mount type {m.type!r}")
            if target:
                out.targets.add(target)

    def _run_dir(self, out: Prepared) -> str:
        if not out.run_dir:
            filemode.makedirs(self.builds, RUN_DIR_MODE)
            out.run_dir = os.path.join(self.builds, RUN_PREFIX + secrets.token_hex(8))
            filemode.mkdir(out.run_dir, RUN_DIR_MODE)
        return out.run_dir

    def _subdir(self, out: Prepared, kind: str) -> str:
        path = os.path.join(self._run_dir(out), kind)
        filemode.makedirs(path, RUN_DIR_MODE)
        return os.path.join(path, str(len(os.listdir(path))))

    def _root(self, m: MountSpec, context_dir: str | None, writable: bool, out: Prepared) -> str:
        """The directory a mount's ``from`` names: an image's (a stage's) root, else the
        context; ``writable``: with an upper thrown away after the run."""
        if m.from_:
            image = self.images.resolve(m.from_)
            lowers = [self.images.snapshots.fs(n) for n in self.images.snapshot_chain(image)]
        elif context_dir is None:
            raise errors.InvalidArgument("failed to compute cache key: no build context to mount")
        else:
            lowers = [context_dir]
        if writable or len(lowers) != 1:
            return self._overlay(lowers, writable=writable, out=out)
        return lowers[0]  # an unpacked layer or the context: nobody writes to either

    def _seed_cache(self, m: MountSpec, lease: Lease, context_dir: str | None, out: Prepared) -> None:
        """``type=cache,from=STAGE[,source=S]``: a new cache directory starts as a copy of
        the stage's ``S`` (resolved inside it, read by descriptor: ``volume/copyup``)."""
        if not lease.fresh or not m.from_:
            return
        root = self._root(m, context_dir, False, out)
        try:
            copy_into_empty(root, m.source.lstrip("/") or ".", lease.path)
        except OSError as exc:
            raise errors.Internal(f"cannot seed cache mount {m.target} from {m.from_}: "
                                  f"{(exc.strerror or str(exc)).lower()}") from None

    def _bind_source(self, m: MountSpec, context_dir: str | None, out: Prepared) -> str:
        """The bind's source resolved inside its root and pinned (a host path to bind)."""
        root = self._root(m, context_dir, not m.readonly, out)
        try:
            return pin_subpath(root, m.source.lstrip("/") or ".", os.path.join(self._run_dir(out), "pins"))
        except errors.InvalidArgument:
            raise errors.InvalidArgument(
                f'failed to compute cache key: "{posixpath.join("/", m.source)}": not found') from None

    def _overlay(self, lowers: list[str], writable: bool, out: Prepared) -> str:
        """A root over ``lowers``: read-only, or with an upper that goes with the run."""
        top = self._subdir(out, "roots")
        merged = os.path.join(top, "merged")
        for d in (top, merged):
            filemode.mkdir(d, RUN_DIR_MODE)
        if not lowers:  # scratch: an empty root
            return merged
        options = ["lowerdir=" + ":".join(lowers)]
        if writable:
            upper, work = os.path.join(top, "upper"), os.path.join(top, "work")
            filemode.mkdir(upper, 0o755)
            filemode.mkdir(work, RUN_DIR_MODE)
            options += [f"upperdir={upper}", f"workdir={work}"]
        elif len(lowers) == 1:  # overlayfs wants two lowers without an upper
            mnt.apply(Mount("bind", lowers[0], options=("bind", "ro")), merged)
            return merged
        else:
            options.insert(0, "ro")
        mnt.apply(Mount("overlay", "overlay", options=tuple(options)), merged)
        return merged

    def _secret_file(self, secret: SecretSource, m: MountSpec, out: Prepared) -> str:
        where = os.path.join(self._run_dir(out), "secrets")
        if not os.path.isdir(where):
            filemode.mkdir(where, RUN_DIR_MODE)
            mnt.apply(Mount("tmpfs", "tmpfs", options=("nosuid", "nodev", "noexec", "mode=0700",
                                                       f"size={SECRETS_SIZE}")), where)
        path = os.path.join(where, str(len(os.listdir(where))))
        fd = filemode.create(path, SECRET_MODE)
        try:
            view = memoryview(secret.data)
            while view:
                view = view[os.write(fd, view):]
            os.fchown(fd, m.uid or 0, m.gid or 0)
            os.fchmod(fd, SECRET_MODE if m.mode is None else m.mode & 0o7777)
        finally:
            os.close(fd)
        return path


def _bind(source: str, target: str, readonly: bool) -> dict:
    # rprivate said outright: a source in the data root would otherwise fall back to it
    # with a warning per run
    return {"Type": "bind", "Source": source, "Target": target, "ReadOnly": readonly,
            "BindOptions": {"Propagation": "rprivate"}}


def _remove_run_dir(run_dir: str) -> None:
    for point in mnt.mounts_under(run_dir):  # pinned files first: remove_tree takes directories
        try:
            mnt.unmount(point)
        except OSError:
            mnt.unmount(point, lazy=True)
    remove_tree(run_dir)

