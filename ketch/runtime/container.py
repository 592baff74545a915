"""Creating a container from a bundle; the rest of its lifecycle is in ``state.py``.

cgroups and seccomp are imported only when the config asks for them: each command of
``ketch-runtime`` is a fresh process, and their import is a good part of its start-up.
"""

import os

from ketch import fastjson, timefmt
from ketch.errors import AlreadyExists, InvalidArgument
from ketch.linux import filemode
from ketch.runtime import process
from ketch.runtime.process import Created, Prepared, Stdio
from ketch.runtime.specconv import from_oci, validate
from ketch.runtime.state import Container, remove_dir, start_time, valid_id


def create(root: str, cid: str, bundle: str, stdio: Stdio | None,
           spec: dict | None = None) -> tuple[Container, Created]:
    """Create container ``cid`` from ``bundle`` (its config.json, or ``spec`` if given)."""
    valid_id(cid)
    if spec is None:
        try:
            with open(os.path.join(bundle, "config.json"), "rb") as f:
                spec = fastjson.loads(f.read())
        except FileNotFoundError:
            raise InvalidArgument(f"config.json not found in bundle {bundle}") from None
        except ValueError as exc:
            raise InvalidArgument(f"config.json: {exc}") from None
    cfg = from_oci(spec, os.path.abspath(bundle))
    validate(cfg)
    filemode.makedirs(root, 0o700, parents=0o700)  # as runc's: state is root's alone
    filt = None
    if cfg.seccomp:
        from ketch.runtime import seccomp
        filt = seccomp.prepare_oci(cfg.seccomp, os.path.join(root, ".bpf"))
    state_dir = os.path.join(root, cid)
    try:
        os.mkdir(state_dir, 0o700)
    except FileExistsError:
        raise AlreadyExists(f"container with id {cid} already exists") from None
    cg = None
    if cfg.cgroups_path:
        from ketch.runtime import cgroups
        cg = cgroups.manager(cfg.cgroups_path)

    def place(pid: int) -> None:
        cg.create()
        cg.apply(with_allowed_devices(cfg.resources))
        cg.add(pid)

    try:
        fifo = os.path.join(state_dir, "exec.fifo")
        os.mkfifo(fifo)
        # Any user may write the fifo: the init opens it after switching to the container's user.
        os.chmod(fifo, 0o622)
        created = process.create(cfg, fifo, stdio, Prepared(filt, place if cg else None))
        c = Container(root, cid, cfg.bundle, created.pid, start_time(created.pid),
                      timefmt.now(), cfg.annotations, cfg.cgroups_path)
        c.save()
    except BaseException:
        if cg is not None:
            cg.destroy()
        remove_dir(state_dir)
        raise
    return c, created


# runc adds these to every container's device rules (specconv.AllowedDevices): mknod of
# anything, the standard character devices, ptys and tun.
ALLOWED_DEVICES = (
    {"allow": True, "type": "c", "access": "m"}, {"allow": True, "type": "b", "access": "m"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},
    {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"},
)


def with_allowed_devices(resources: dict) -> dict:
    if "devices" not in resources:
        return resources
    return {**resources, "devices": list(resources["devices"]) + list(ALLOWED_DEVICES)}
