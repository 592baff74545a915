"""Runs a plan against the engine: each step once its ``after`` steps are done, independent
steps at the same time (``--parallel`` bounds how many), one API client per worker thread.

The first failure stops the scheduling of new steps; the steps already running finish
(a depends_on wait is cancelled) and the failure is raised. What each step does, and the
progress lines it prints, is Compose v2's (convergence.go, create.go, down.go).
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable

from ketch.client.http import HTTPError
from ketch.compose import labels as L
from ketch.compose.errors import ComposeError
from ketch.compose.model import Project
from ketch.compose.observe import Observed
from ketch.compose.plan import Plan, Step
from ketch.compose.progress import Progress

# what --dry-run prints for each action (compose's dry-run client answers every call)
DRY_EVENTS = {
    "create_network": ("Creating", "Created"), "create_volume": ("Creating", "Created"),
    "create": ("Creating", "Created"), "recreate": ("Recreate", "Recreated"),
    "start": ("Starting", "Started"), "stop": ("Stopping", "Stopped"),
    "remove": ("Removing", "Removed"), "remove_network": ("Removing", "Removed"),
    "remove_volume": ("Removing", "Removed"), "restart": ("Restarting", "Started"),
    "kill": ("Killing", "Killed"), "pause": ("Paused",), "unpause": ("Unpaused",),
}


@dataclass
class ExecOptions:
    project: Project | None = None
    images: dict[str, str] = field(default_factory=dict)  # service -> the image to create from
    image_ids: dict[str, str] = field(default_factory=dict)  # service -> its ID (the image label)
    timeout: int | None = None  # stop timeout (-t); None: the container's own
    renew_volumes: bool = False  # up -V: a recreated container gets new anonymous volumes
    parallel: int = -1  # -1: unlimited
    dry_run: bool = False
    signal: str | None = None  # kill -s


class Executor:
    def __init__(self, ctx, progress: Progress, options: ExecOptions, observed: Observed | None = None,
                 listener: Callable[[str, str, str], None] | None = None) -> None:
        self.ctx = ctx
        self.progress = progress
        self.options = options
        self.listener = listener  # (container name, id, service) once created, before it starts
        self.cancel = threading.Event()
        self._local = threading.local()
        self._clients: list = []
        self._lock = threading.Lock()
        self.ids: dict[str, str] = {}  # container name -> id, as steps create and remove them
        self.services: dict[str, set[str]] = {}  # service -> its container names
        self.numbers: dict[str, int] = {}  # container name -> its number
        for c in (observed.containers if observed else ()):
            if not c.oneoff:
                self._record(c.name, c.id, c.service, c.number)

    # -- scheduling ------------------------------------------------------------------------
    def run(self, plan: Plan) -> None:
        steps = {s.id: s for s in plan.steps}
        if not steps:
            return
        pending = dict(steps)
        done: set[str] = set()
        workers = self.options.parallel if self.options.parallel > 0 else min(64, len(steps))
        error: BaseException | None = None
        running: dict = {}
        pool = ThreadPoolExecutor(max_workers=workers)
        try:
            while pending or running:
                if error is None:
                    for sid in [i for i, s in pending.items() if all(a in done for a in s.after)]:
                        running[pool.submit(self._run_step, pending.pop(sid))] = sid
                if not running:
                    break  # only steps after a failed one are left
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    sid = running.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        done.add(sid)
                    elif error is None:
                        error = exc
                        self.cancel.set()
        except KeyboardInterrupt:
            # back to the caller at once (a second Ctrl-C kills what the running stops wait
            # for); the running steps end on their own, their clients with the process
            self.cancel.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        except BaseException:
            self._close(pool)
            raise
        self._close(pool)
        if error is not None:
            raise error

    def _close(self, pool: ThreadPoolExecutor) -> None:
        pool.shutdown(wait=True)
        for client in self._clients:
            client.close()

    def client(self):
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self.ctx.client()
            with self._lock:
                self._clients.append(client)
        return client

    def _record(self, name: str, cid: str | None, service: str | None, number: int = 0) -> None:
        with self._lock:
            self.numbers[name] = number
            if cid is None:
                self.ids.pop(name, None)
                for names in self.services.values():
                    names.discard(name)
            else:
                self.ids[name] = cid
                if service:
                    self.services.setdefault(service, set()).add(name)

    def _forget_id(self, cid: str) -> None:
        with self._lock:
            gone = [n for n, i in self.ids.items() if i == cid]
        for name in gone:
            self._record(name, None, None)

    def containers_of(self, service: str) -> list[tuple[str, str]]:
        """(name, id) of the service's containers now, lowest number first: a snapshot
        taken under the lock, as other workers add and remove them."""
        with self._lock:
            return [(n, self.ids[n]) for n in sorted(self.services.get(service, ()),
                                                     key=lambda n: (self.numbers.get(n, 0), n))
                    if n in self.ids]

    def _event(self, step: Step, status: str, text: str = "", level: str | None = None) -> None:
        name = f'"{step.name}"' if step.kind == "Volume" and step.action == "create_volume" else step.name
        self.progress.event(step.kind, name, status, text, level=level)

    def _run_step(self, step: Step) -> None:
        if self.options.dry_run:
            return self._dry(step)
        getattr(self, "_" + step.action)(step)

    # -- steps -----------------------------------------------------------------------------
    def _dry(self, step: Step) -> None:
        for status in DRY_EVENTS.get(step.action, ()):
            self._event(step, status)
        if step.action in ("create", "recreate"):
            self._record(step.name, f"dry-run-{step.name}", step.service, step.number or 0)

    def _create_network(self, step: Step) -> None:
        from ketch.compose import convert
        self._event(step, "Creating")
        try:
            self.client().create_network(convert.network_create(self.options.project, step.key))
        except HTTPError as exc:
            if exc.status != 409:  # another `up` made it meanwhile
                self._event(step, "Error")
                raise ComposeError(f"failed to create network {step.name}: {exc}") from None
        self._event(step, "Created")

    def _create_volume(self, step: Step) -> None:
        from ketch.compose import convert
        self._event(step, "Creating")
        try:
            self.client().create_volume(convert.volume_create(self.options.project, step.key))
        except HTTPError:
            self._event(step, "Error")
            raise
        self._event(step, "Created")

    def peers(self) -> dict[str, list[str]]:
        """service -> its containers' names, lowest number first (network_mode: service:x,
        volumes_from and links name them)."""
        with self._lock:
            return {svc: sorted(names, key=lambda n: (self.numbers.get(n, 0), n))
                    for svc, names in self.services.items()}

    def _make(self, step: Step, replaces: str | None, inherit=None) -> str:
        """Create container step.number of step.service (under a temporary name when it
        replaces another); secrets and configs without a host file are copied in."""
        from ketch.compose import convert
        project = self.options.project
        service = project.services[step.service]
        image = self.options.images.get(step.service) or convert.image_name(project, service)
        image_id = self.options.image_ids.get(step.service) or getattr(image, "id", "") or None
        spec = convert.container_create(project, service, step.number, image=str(image), image_id=image_id,
                                        replaces=replaces, peers=self.peers(), inherit=inherit)
        for warning in spec.warnings:
            self.progress.event("", step.service, "", warning, level="warning")
        client = self.client()
        cid = client.create_container(spec.body, name=spec.name, platform=spec.platform)["Id"]
        for network, endpoint in spec.extra_networks:
            client.connect_network(network, cid, endpoint)
        if spec.files:
            # bytes, not a list: the client sends a list as JSON
            client.put_archive(cid, "/", convert.files_archive(spec.files),
                               copy_uid_gid=any(f.copy_uid_gid for f in spec.files))
        return cid

    def _create(self, step: Step) -> None:
        self._event(step, "Creating")
        cid = self._make(step, None)
        self._record(step.name, cid, step.service, step.number)
        self._event(step, "Created")
        if self.listener:
            self.listener(step.name, cid, step.service)

    def _recreate(self, step: Step) -> None:
        self._event(step, "Recreate")
        old, client = step.target, self.client()
        inherit = None if self.options.renew_volumes else client.inspect_container(old).get("Mounts") or []
        cid = self._make(step, old, inherit)
        client.stop(old, timeout=self.options.timeout)
        client.remove(old)
        client.rename(cid, step.name)
        self._forget_id(old)  # under a new container_name, the old name must not linger
        self._record(step.name, cid, step.service, step.number)
        self._event(step, "Recreated")
        if self.listener:
            self.listener(step.name, cid, step.service)

    def _keep(self, step: Step) -> None:
        if step.detail == "running":
            self._event(step, "Running")
        elif step.detail == "exited":
            self._event(step, "Created")
        if self.listener and step.target:
            self.listener(step.name, step.target, step.service)

    def _start(self, step: Step) -> None:
        self._event(step, "Starting")
        self.client().start(self.ids.get(step.name, step.target))
        self._event(step, "Started")

    def _stop(self, step: Step) -> None:
        self._event(step, "Stopping")
        try:
            self.client().stop(self.ids.get(step.name, step.target), timeout=self.options.timeout)
        except HTTPError as exc:
            if exc.status != 404:
                self._event(step, "Error while Stopping", level="error")
                raise
        self._event(step, "Stopped")

    def _remove(self, step: Step) -> None:
        self._event(step, "Removing")
        cid, client = self.ids.get(step.name, step.target), self.client()
        try:
            anonymous = _anonymous_volumes(client, cid) if step.detail == "v" else []
            client.remove(cid, force=True, volumes=step.detail == "v")
        except HTTPError as exc:
            if exc.status not in (404, 409):
                self._event(step, "Error while Removing", level="error")
                raise
            anonymous = []
        for name in anonymous:
            # an anonymous volume a recreated container inherited is mounted by name, so the
            # engine keeps it on ?v=1 (moby: "do not remove named mountpoints"): rm -v and
            # down -v must still leave none behind; in use elsewhere (409) or gone (404): kept
            try:
                client.remove_volume(name)
            except HTTPError as exc:
                if exc.status not in (404, 409):
                    raise
        self._record(step.name, None, None)
        self._event(step, "Removed")

    def _restart(self, step: Step) -> None:
        self._event(step, "Restarting")
        self.client().restart(step.target, timeout=self.options.timeout)
        self._event(step, "Started")

    def _kill(self, step: Step) -> None:
        self._event(step, "Killing")
        try:
            self.client().kill(step.target, signal=step.detail or None)
        except HTTPError:
            self._event(step, "Error while Killing", level="error")
            raise
        self._event(step, "Killed")

    def _pause(self, step: Step) -> None:
        self.client().pause(step.target)
        self._event(step, "Paused")

    def _unpause(self, step: Step) -> None:
        self.client().unpause(step.target)
        self._event(step, "Unpaused")

    def _remove_network(self, step: Step) -> None:
        self._event(step, "Removing")
        client = self.client()
        try:
            if client.inspect_network(step.target or step.name).get("Containers"):
                self._event(step, "Resource is still in use", level="warning")
                return
            client.remove_network(step.target or step.name)
        except HTTPError as exc:
            if exc.status == 404:
                self._event(step, "No resource found to remove", level="warning")
                return
            self._event(step, "Error")
            raise ComposeError(f"failed to remove network {step.name}: {exc}") from None
        self._event(step, "Removed")

    def _remove_volume(self, step: Step) -> None:
        self._event(step, "Removing")
        try:
            self.client().remove_volume(step.name, force=True)
        except HTTPError as exc:
            if exc.status == 409:
                return self._event(step, "Resource is still in use", level="warning")
            if exc.status == 404:
                return self._event(step, "Warning: No resource found to remove")
            raise
        self._event(step, "Removed")

    def _wait(self, step: Step) -> None:
        from ketch.compose.conditions import wait_condition
        wait_condition(self, step)


ANONYMOUS_LABEL = "com.docker.volume.anonymous"  # moby >= 23 marks a volume made without a name


def _anonymous_volumes(client, cid: str) -> list[str]:
    """The anonymous volumes container ``cid`` mounts: labelled so by the engine, or (an
    engine before moby 23) a 64-hex random name no compose project declared."""
    out = []
    for mount in client.inspect_container(cid).get("Mounts") or []:
        name = mount.get("Name") or ""
        if mount.get("Type") != "volume" or not name:
            continue
        try:
            labels = client.inspect_volume(name).get("Labels") or {}
        except HTTPError:
            continue
        random_name = len(name) == 64 and all(ch in "0123456789abcdef" for ch in name)
        if ANONYMOUS_LABEL in labels or (random_name and L.VOLUME not in labels):
            out.append(name)
    return out


def execute(plan: Plan, ctx, progress: Progress, options: ExecOptions, observed: Observed | None = None,
            listener=None) -> Executor:
    """Run ``plan``; returns the executor (its ``ids``: the containers it ended with)."""
    executor = Executor(ctx, progress, options, observed, listener)
    executor.run(plan)
    return executor


