"""``docker cp``'s daemon side: stat, read and write paths of a container's root.

moby's ``daemon/archive*.go``. Every path is resolved by ``linux.safepath.open_in_root``
against a descriptor of the container's root, so neither the container's symlinks nor
its renames (racing the copy: CVE-2018-15664) lead the daemon outside it; tar is
read and written in-process (``ketch.archive``), never by a tool of the container's
(CVE-2019-14271).

A running container's root is its bundle's rootfs mount. A stopped one's is mounted
for the copy only, in a mount namespace of the copying thread's own: nothing else
ever sees it, and it goes away with the thread even if ketchd dies midway. A
container's volumes, binds and /etc/hosts, /etc/hostname, /etc/resolv.conf are bound
onto its root in such a namespace too (``cpview``), running or not, so a copy goes
through them as the container sees them. Like moby, the container's lock is held for
the whole copy, so it cannot start or stop under it.
"""

import asyncio
import json
import os
import posixpath
import stat
import tempfile
import threading
from typing import AsyncIterator, BinaryIO, Callable, TypeVar

from ketch import errors
from ketch.archive.pathstat import PathStat, go_file_mode, rfc3339_nano
from ketch.archive.tarwrite import write_tar
from ketch.archive.untar import Breakout, UntarOptions, untar
from ketch.engine import users
from ketch.engine.containers import cpview
from ketch.engine.containers.records import ContainerRecord
from ketch.engine.events import Event
from ketch.engine.networks import modes
from ketch.engine.volumes.mountpoint import VolumeAccess
from ketch.engine.volumes.mountspec import NETWORK_FILES, mount_points
from ketch.image.archive import open_decompressed
from ketch.linux import mount as mnt
from ketch.linux import syscalls as sc
from ketch.linux.safepath import open_in_root

T = TypeVar("T")
CHUNK = 1 << 16


def not_found(path: str, ref: str) -> errors.NotFound:
    return errors.NotFound(f"Could not find the file {path} in container {ref}")


def _system(exc: OSError, path: str) -> errors.KetchError:
    """moby wraps what the kernel said as a 500 naming the path as the container sees it."""
    return errors.Internal(f"lstat {path}: {go_strerror(exc)}")


def go_strerror(exc: OSError) -> str:
    """Go's text for an errno: glibc's, lower-cased ("not a directory")."""
    if not exc.errno:
        return str(exc)
    text = os.strerror(exc.errno)
    return text[:1].lower() + text[1:]


def _check_path(path: str | None) -> str:
    if not path:
        raise errors.InvalidArgument("bad parameter: path cannot be empty")
    return path


def _abs(path: str) -> str:
    """``PreserveTrailingDotOrSeparator(filepath.Join("/", path), path)``."""
    joined = posixpath.normpath("/" + path.lstrip("/"))
    if path.endswith("/.") and not joined.endswith("/."):
        joined = joined.rstrip("/") + "/."
    elif path.endswith("/") and not joined.endswith("/"):
        joined += "/"
    return joined


def stat_in(root_fd: int, path: str) -> PathStat:
    """moby's ``containerFSView.Stat``: the last component not followed (unless the path
    ends in ``/``); a symlink's ``linkTarget`` is where it finally leads, in the root."""
    fd = open_in_root(root_fd, path, follow=False)
    try:
        st = os.fstat(fd)
        target = ""
        if stat.S_ISLNK(st.st_mode):
            target = _final_target(root_fd, path)
    finally:
        os.close(fd)
    name = posixpath.basename(path.rstrip("/")) or "/"
    if path.endswith("/."):
        name = "."
    return PathStat(name, st.st_size, go_file_mode(st.st_mode), rfc3339_nano(st.st_mtime_ns), target)


def _final_target(root_fd: int, path: str) -> str:
    """``symlink.FollowSymlinkInScope(path, "/")``: the path, inside the root, that the
    link leads to (as far as it exists)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    pending = list(parts)
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = "/" + "/".join(resolved + [part])
        try:
            fd = open_in_root(root_fd, candidate, follow=False)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        try:
            if not stat.S_ISLNK(os.fstat(fd).st_mode):
                resolved.append(part)
                continue
            target = os.readlink("", dir_fd=fd)
        finally:
            os.close(fd)
        links += 1
        if links > 255:
            raise OSError(40, os.strerror(40), path)
        if target.startswith("/"):
            resolved = []
        pending = [p for p in target.split("/") if p not in ("", ".")] + pending
    return posixpath.join("/", *resolved)


class ContainerFiles:
    """The archive operations of ``ContainerService``."""

    def __init__(self, lifecycle, snapshots, paths, volumes: VolumeAccess | None = None) -> None:
        self.lifecycle = lifecycle
        self.snapshots = snapshots
        self.paths = paths
        self.volumes = volumes
        # container id -> its copies in flight (each holds its volumes mounted until its
        # thread ends, which for an archive is after the lock went: rm -v waits on them)
        self._copies: dict[str, set[asyncio.Future]] = {}

    def copies(self, cid: str) -> set[asyncio.Future]:
        """The copies of container ``cid`` whose threads have not ended yet."""
        return set(self._copies.get(cid, ()))

    def _ended(self, cid: str, fut: asyncio.Future) -> None:
        left = self._copies.get(cid)
        if left is not None:
            left.discard(fut)
            if not left:
                del self._copies[cid]

    # -- running code against the container's root -----------------------------------
    def _in_root(self, rec: ContainerRecord, fn: Callable[[int, str], T]) -> "asyncio.Future[T]":
        """Run ``fn(root_fd, root_path)`` in a thread of its own, with the root mounted."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        running = rec.state.alive

        def done(result=None, exc=None) -> None:
            if fut.cancelled():
                return
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)

        # the thread's end (its volumes released), even if the awaiting side gave up
        ended: asyncio.Future = loop.create_future()
        self._copies.setdefault(rec.id, set()).add(ended)
        ended.add_done_callback(lambda f, cid=rec.id: self._ended(cid, f))

        def body() -> None:
            try:
                result = self._with_view(rec, running, fn)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                loop.call_soon_threadsafe(done, None, exc)
            else:
                loop.call_soon_threadsafe(done, result)
            finally:
                loop.call_soon_threadsafe(ended.set_result, None)

        threading.Thread(target=body, name=f"cp-{rec.id[:12]}", daemon=True).start()
        return fut

    def _with_view(self, rec: ContainerRecord, running: bool, fn: Callable[[int, str], T]) -> T:
        """The volumes are mounted for the copy here, in the host's namespace, and the
        copy runs in a thread of its own that leaves it (``cpview``)."""
        every = mount_points(rec.mounts)
        points = cpview.view_points(every, rec.host_config.get("Tmpfs"))
        files = cpview.network_bounds(every, self._network_files(rec, running),
                                      bool(rec.host_config.get("ReadonlyRootfs")))
        if not points and not files:
            return self._with_root(rec, running, [], fn)
        bound = cpview.hold(self.volumes, rec.id, points)
        bound += files
        try:
            return _in_thread(f"cp-{rec.id[:12]}", lambda: self._with_root(rec, running, bound, fn))
        finally:
            cpview.release(self.volumes, rec.id, bound)

    def _network_files(self, rec: ContainerRecord, running: bool) -> dict[str, str]:
        """The files a run binds on /etc/resolv.conf, /etc/hostname and /etc/hosts: as its
        spec says while it runs (another container's in container mode), else those its
        last run left."""
        if running:
            try:
                with open(os.path.join(self.paths.exec_dir(rec.id), "config.json"), "rb") as f:
                    spec = json.load(f)
            except (OSError, ValueError):
                return {}
            return {m["destination"]: m["source"] for m in spec.get("mounts") or []
                    if m.get("type") == "bind" and m.get("destination") in NETWORK_FILES}
        if modes.parse(rec.host_config.get("NetworkMode")).kind == "container":
            return {}  # the other container's, which a stopped one no longer has
        files = {"/etc/resolv.conf": self.paths.resolv_conf(rec.id),
                 "/etc/hostname": os.path.join(self.paths.data_dir(rec.id), "hostname"),
                 "/etc/hosts": self.paths.hosts(rec.id)}
        return {dest: path for dest, path in files.items() if os.path.isfile(path)}

    def _with_root(self, rec: ContainerRecord, running: bool, bound: list[cpview.Bound],
                   fn: Callable[[int, str], T]) -> T:
        if running and not bound:
            root = self.paths.bundle_rootfs(rec.id)
            root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                return fn(root_fd, root)
            finally:
                os.close(root_fd)
        # This thread only: its own mount namespace, private, so the mounts below
        # neither propagate to the host nor outlive the thread.
        sc.unshare(sc.CLONE_NEWNS)
        sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
        if running:  # this namespace's copy of the bundle's rootfs mount
            return self._bind_and_run(self.paths.bundle_rootfs(rec.id), bound, fn)
        root = tempfile.mkdtemp(prefix=f"cp-{rec.id[:12]}-", dir=self.paths.exec_root)
        try:
            for m in self.snapshots.mounts(rec.snapshot, rec.parents):
                mnt.apply(m, root)
            try:
                return self._bind_and_run(root, bound, fn)
            finally:
                mnt.unmount(root, lazy=True)  # with the binds on it
        finally:
            os.rmdir(root)

    @staticmethod
    def _bind_and_run(root: str, bound: list[cpview.Bound], fn: Callable[[int, str], T]) -> T:
        # opened in this namespace: walks from it cross this namespace's binds
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            cpview.bind_all(root, root_fd, bound)
            return fn(root_fd, root)
        finally:
            os.close(root_fd)

    # -- the API's three operations -------------------------------------------------
    async def stat_path(self, rec: ContainerRecord, ref: str, path: str) -> PathStat:
        path = _check_path(path)
        async with self.lifecycle.lock(rec.id):
            return await self._in_root(rec, lambda fd, _root: self._stat(fd, path, ref))

    def _stat(self, root_fd: int, path: str, ref: str) -> PathStat:
        try:
            return stat_in(root_fd, _abs(path))
        except FileNotFoundError:
            raise not_found(path, ref) from None
        except OSError as exc:
            raise _system(exc, _abs(path)) from None

    async def archive(self, rec: ContainerRecord, ref: str, path: str) -> tuple[PathStat, AsyncIterator[bytes]]:
        """The stat of ``path`` and a tar of it, streamed."""
        path = _check_path(path)
        lock = self.lifecycle.lock(rec.id)
        await lock.acquire()
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        stat_ready: asyncio.Future = asyncio.get_running_loop().create_future()
        loop = asyncio.get_running_loop()

        def produce(root_fd: int, _root: str) -> None:
            abs_path = _abs(path)
            try:
                st = self._stat(root_fd, path, ref)
                obj = open_in_root(root_fd, abs_path, follow=False)
            except BaseException as exc:
                os.close(write_fd)
                loop.call_soon_threadsafe(_settle, stat_ready, None, exc)
                raise
            loop.call_soon_threadsafe(_settle, stat_ready, st, None)
            name = posixpath.basename(abs_path.rstrip("/")) or "."
            try:
                with os.fdopen(write_fd, "wb", buffering=CHUNK) as out:
                    write_tar(out, obj, name)
            except BrokenPipeError:
                pass  # the client went away
            finally:
                os.close(obj)

        work = self._in_root(rec, produce)
        try:
            st = await stat_ready
        except BaseException:
            os.close(read_fd)
            try:
                await work
            except BaseException:  # noqa: BLE001 - the same error stat_ready carried
                pass
            lock.release()
            raise
        # Unlike moby, the lock goes once the root is open: a client that reads slowly
        # (or never) must not block stop, rm or the next copy. A stop meanwhile detaches
        # the rootfs lazily (fstree), and the descriptors held here keep reading it.
        lock.release()
        self.lifecycle.machine.bus.publish(Event("container", "archive-path", rec.id, _attrs(rec)))
        return st, self._drain(read_fd, work)

    async def _drain(self, read_fd: int, work: asyncio.Future) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(os.read, read_fd, CHUNK):
                yield chunk
        finally:
            os.close(read_fd)  # a producer still writing gets EPIPE
            await work

    async def extract(self, rec: ContainerRecord, ref: str, path: str, chunks: AsyncIterator[bytes],
                      copy_uid_gid: bool, no_overwrite_dir_non_dir: bool) -> None:
        """Extract the tar ``chunks`` bring (compressed or not) into directory ``path``."""
        path = _check_path(path)
        read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
        body = os.fdopen(read_fd, "rb", buffering=CHUNK)
        async with self.lifecycle.lock(rec.id):
            work = self._in_root(rec, lambda fd, root: self._extract(
                rec, ref, fd, root, path, body, copy_uid_gid, no_overwrite_dir_non_dir))
            try:
                async for chunk in chunks:
                    if work.done():
                        break
                    await asyncio.to_thread(_write_all, write_fd, chunk)
            except BrokenPipeError:
                pass  # the extraction stopped reading: its error says why
            finally:
                os.close(write_fd)
            await work
        self.lifecycle.machine.bus.publish(Event("container", "extract-to-dir", rec.id, _attrs(rec)))

    def _extract(self, rec: ContainerRecord, ref: str, root_fd: int, root: str, path: str,
                 body: BinaryIO, copy_uid_gid: bool, no_overwrite: bool) -> None:
        try:
            self._extract_into(rec, ref, root_fd, root, path, body, copy_uid_gid, no_overwrite)
        finally:
            body.close()  # a writer still pumping gets EPIPE instead of blocking

    def _extract_into(self, rec: ContainerRecord, ref: str, root_fd: int, root: str, path: str,
                      body: BinaryIO, copy_uid_gid: bool, no_overwrite: bool) -> None:
        abs_path = _abs(path)
        try:
            fd = open_in_root(root_fd, abs_path)
        except FileNotFoundError:
            raise not_found(path, ref) from None
        except OSError as exc:
            raise _system(exc, abs_path) from None
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                raise errors.InvalidArgument("extraction point is not a directory")
        finally:
            os.close(fd)
        # where the path leads, as moby's EvalSymlinks: into a mount point or not
        resolved = _final_target(root_fd, abs_path)
        cpview.check_writable(mount_points(rec.mounts), resolved, bool(rec.host_config.get("ReadonlyRootfs")))
        chown = None
        if copy_uid_gid and rec.config.get("User"):
            chown = _container_user(root_fd, rec.config["User"])
        try:
            untar(open_decompressed(body), root_fd, abs_path, UntarOptions(no_overwrite, chown))
        except Breakout as exc:
            raise errors.Internal(str(exc)) from None
        except OSError as exc:
            if exc.errno is None:
                raise errors.Internal(str(exc)) from None
            raise errors.Internal(f"{go_strerror(exc)}: {exc.filename}" if exc.filename else str(exc)) from None


def _container_user(root_fd: int, spec: str) -> tuple[int, int]:
    """The container user's ids, from its /etc/passwd and /etc/group read through
    descriptors inside its root."""
    user = users.resolve(root_fd, spec)
    return user.uid, user.gid


def _in_thread(name: str, fn: Callable[[], T]) -> T:
    """``fn()`` in a new thread (one that may leave this one's mount namespace for good)."""
    out: list = []

    def body() -> None:
        try:
            out.append((fn(), None))
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            out.append((None, exc))

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    thread.join()
    result, exc = out[0]
    if exc is not None:
        raise exc
    return result


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _attrs(rec: ContainerRecord) -> dict[str, str]:
    return {"name": rec.name, "image": rec.image}


def _settle(fut: asyncio.Future, result, exc) -> None:
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)
