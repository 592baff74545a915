"""Drives ``engine/builds/runstep.StepRunner`` in a ketchd engine of its own, in this process,
for ``test_build_run.py`` (run as a script: ``runstep_driver.py ROOT PLAN.json``).

The daemon is ketchd's own ``Daemon`` on ROOT (its daemon.json written by the test) with
its API socket, stopped by the SIGTERM it sends itself at the end, as ketchd stops. Each
step of the plan runs in order and reports as one JSON line on stdout::

    {"run": {argv, env, network, workdir, mounts: [MountSpec fields], secrets: {id: text},
             remove, context: bool, parent: "busybox" | "$name", cancel_after: seconds}}
        -> {"output", "error", "error_type", "exit_code", "started", "files" (the layer's
            paths, or null if nothing was recorded), "containers" (ids left), "run_dirs"}
    {"sweep": true} -> {"left": what RunMounts.sweep leaves of a crashed run's directory}
    {"commit": {argv, name, changes}}: a container on busybox made into an image named $name
        (the "stage" a bind mount names; ``changes``: commit's --change lines)

The image side is a stand-in that records the staged layer's paths (the tar as staged),
so a test sees exactly what would go into an image.
"""

import asyncio
import io
import json
import os
import signal
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from ketch import errors  # noqa: E402
from ketch.build.backend import HistoryEntry, ImageState, RunSpec, SecretSource, Step  # noqa: E402
from ketch.build.instructions import MountSpec  # noqa: E402
from ketch.daemon.config import load  # noqa: E402
from ketch.daemon.main import Daemon  # noqa: E402
from ketch.engine.builds.cachemounts import CacheMounts  # noqa: E402
from ketch.engine.builds.runmounts import RunMounts  # noqa: E402
from ketch.engine.builds.runstep import StepRunner  # noqa: E402
from ketch.engine.images.commit import CommitRequest, Committer  # noqa: E402
from ketch.linux import mount as mnt  # noqa: E402


class ListingImages:
    """The image side, recording what the staged layer holds."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.recorded: list[str] | None = None

    def stage(self, snapshot, parents, skip=frozenset()):
        buf = io.BytesIO()
        entries, _size = self.daemon.snapshots.diff(snapshot, parents, buf, skip)
        buf.seek(0)
        return sorted(tarfile.open(fileobj=buf).getnames()) if entries else []

    def discard(self, staged) -> None:
        pass

    def record_image(self, step, staged, container_id=""):
        self.recorded = staged
        return ImageState("sha256:" + "0" * 64, {"container": container_id})


async def run_one(d: Daemon, runner: StepRunner, context: str, images_by_name: dict, item: dict) -> dict:
    parent = d.images.resolve(images_by_name.get(item.get("parent", "busybox"), item.get("parent", "busybox")))
    step = Step(ImageState(parent.id, parent.config), {}, {}, HistoryEntry("x"), "")
    mounts = tuple(MountSpec(**m) for m in item.get("mounts", ()))
    mounts = tuple(m if not m.from_ else MountSpec(**{**m.__dict__, "from_": images_by_name.get(m.from_, m.from_)})
                   for m in mounts)
    spec = RunSpec(tuple(item["argv"]), tuple(item.get("env", ("PATH=/bin:/usr/bin",))),
                   workdir=item.get("workdir", ""), network=item.get("network", "default"),
                   mounts=mounts, remove=item.get("remove", "always"),
                   secrets=tuple(SecretSource(k, v.encode()) for k, v in item.get("secrets", {}).items()))
    images = ListingImages(d)
    out: list[bytes] = []
    started: list[str] = []
    result = {"error": None, "error_type": None, "exit_code": None}
    running = asyncio.ensure_future(runner.run(images, context if item.get("context", True) else None,
                                               step, spec, out.append, started.append))
    if item.get("cancel_after"):  # the client went away
        await asyncio.sleep(item["cancel_after"])
        running.cancel()
    try:
        await running
    except errors.KetchError as exc:
        result.update(error=str(exc), error_type=type(exc).__name__,
                      exit_code=getattr(exc, "exit_code", None))
    except asyncio.CancelledError:
        result.update(error="cancelled", error_type="CancelledError")
    builds = os.path.join(d.cfg.exec_root, "builds")
    result.update(output=b"".join(out).decode(errors="replace"), started=started[0] if started else "",
                  files=images.recorded, containers=[r.id for r in d.registry.all()],
                  run_dirs=os.listdir(builds) if os.path.isdir(builds) else [],
                  volumes=len(d.volumes.all()))
    return result


async def commit_one(d: Daemon, item: dict) -> str:
    cid, _ = await d.containers.create({"Image": "busybox", "Cmd": item["argv"]}, None)
    await d.containers.start(cid)
    await d.containers.wait(cid, "not-running")
    image_id = await Committer(d.images, d.containers).commit(
        CommitRequest(cid, changes=tuple(item.get("changes", ()))))
    await d.containers.remove(cid, force=True)
    return image_id


def sweep_one(run_mounts: RunMounts, exec_root: str) -> list[str]:
    """A run directory a crash left (a tmpfs still mounted in it) beside another's: what
    the start-up sweep leaves of them."""
    builds = os.path.join(exec_root, "builds")
    os.makedirs(os.path.join(builds, "run-stale", "secrets"))
    os.makedirs(os.path.join(builds, "not-a-run"))
    mnt.apply(mnt.Mount("tmpfs", "tmpfs"), os.path.join(builds, "run-stale", "secrets"))
    run_mounts.sweep()
    left = sorted(os.listdir(builds)) + mnt.mounts_under(builds)
    os.rmdir(os.path.join(builds, "not-a-run"))
    return left


async def main(root: str, plan: list[dict]) -> None:
    cfg, _ = load(["-H", f"unix://{root}/driver.sock", "--data-root", f"{root}/data",
                   "--exec-root", f"{root}/exec", "--config-file", f"{root}/daemon.json"])
    d = Daemon(cfg)
    served = asyncio.ensure_future(d.run())
    while not os.path.exists(f"{root}/driver.sock"):
        if served.done():
            served.result()
        await asyncio.sleep(0.02)
    run_mounts = RunMounts(d.images, cfg.exec_root, CacheMounts(cfg.data_root))
    runner = StepRunner(d.containers, run_mounts)
    images_by_name: dict[str, str] = {}
    try:
        for item in plan:
            if "sweep" in item:
                print(json.dumps({"left": sweep_one(run_mounts, cfg.exec_root)}), flush=True)
            elif "commit" in item:
                images_by_name["$" + item["commit"]["name"]] = await commit_one(d, item["commit"])
                print(json.dumps({"image": images_by_name["$" + item["commit"]["name"]]}), flush=True)
            else:
                print(json.dumps(await run_one(d, runner, f"{root}/context", images_by_name, item["run"])),
                      flush=True)
    finally:
        for rec in list(d.registry.all()):
            await d.containers.remove(rec.id, force=True, volumes=True)
        for image_id in images_by_name.values():
            d.images.remove(image_id, True, lambda _id: {})
        os.kill(os.getpid(), signal.SIGTERM)  # Daemon.run's own way to stop
        await served


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        asyncio.run(main(sys.argv[1], json.load(f)))
