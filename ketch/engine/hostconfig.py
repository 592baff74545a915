"""The rest of HostConfig: ulimits, the init binary, and checking it all at create time.

Docker refuses a bad HostConfig when the container is created, not when it starts;
``validate`` runs every conversion the start path will run, for their errors only.
"""

import os
import shutil

from ketch.engine import devices, resources, restart, seccomp, security
from ketch.errors import InvalidArgument
from ketch.units import go_quote

ULIMITS = {
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}
# Where Docker's docker-init (tini, static) is found: dockerd's own name first.
INIT_CANDIDATES = ("docker-init", "tini-static", "/usr/bin/tini-static", "/usr/libexec/docker/docker-init")


def rlimits(ulimits: list[dict]) -> list[dict]:
    out = []
    for u in ulimits or []:
        name = u.get("Name", "")
        if name not in ULIMITS:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        soft, hard = u.get("Soft"), u.get("Hard")
        if not isinstance(soft, int) or not isinstance(hard, int):
            raise InvalidArgument(f"invalid ulimit {name}: soft and hard limits must be integers")
        if soft > hard:
            raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
        out.append({"type": ULIMITS[name], "hard": hard, "soft": soft})
    return out


def find_init(configured: str | None = None) -> str:
    for candidate in ((configured,) if configured else INIT_CANDIDATES):
        path = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if path and os.access(path, os.X_OK):
            return path
    raise InvalidArgument("docker-init binary not found: install Debian's tini package "
                          "(tini-static) or set init-path in daemon.json")


def seccomp_profile(setting: str | dict, privileged: bool, caps: list[str]) -> dict | None:
    """The container's OCI ``linux.seccomp``, or None to run unconfined (moby's WithSeccomp).

    ``--privileged`` drops only the default profile: a profile the user names explicitly
    is still loaded (Docker 26 and later), filtered by the privileged capability set."""
    if setting == "unconfined" or (privileged and setting == "default"):
        return None
    return seccomp.default_oci(caps) if setting == "default" else seccomp.to_oci(setting, caps)


def validate(hc: dict, ncpu: int) -> None:
    # runconfig's decode-time checks first, in moby's order
    isolation = hc.get("Isolation") or ""
    if isolation not in ("", "default"):
        raise InvalidArgument(f"Invalid isolation: {go_quote(isolation)} - linux only supports 'default'")
    if hc.get("IOMaximumBandwidth"):
        raise InvalidArgument("Invalid QoS settings: linux does not support configuration of maximum bandwidth")
    if hc.get("IOMaximumIOps"):
        raise InvalidArgument("Invalid QoS settings: linux does not support configuration of maximum IOPs")
    restart.validate_create(hc)  # validateHostConfig's first checks
    security.capabilities(hc.get("CapAdd"), hc.get("CapDrop"), bool(hc.get("Privileged")))
    security.security_options(hc.get("SecurityOpt"))
    security.check_sysctls(hc.get("Sysctls"))
    rlimits(hc.get("Ulimits"))
    resources.build(hc, ncpu, [])
    devices.resolve(hc.get("Devices"))
    score = hc.get("OomScoreAdj") or 0
    if not -1000 <= score <= 1000:
        raise InvalidArgument(f"Invalid value {score}, range for oom score adj is [-1000, 1000]")
    mode = hc.get("CgroupnsMode") or ""
    if mode not in ("", "host", "private"):
        raise InvalidArgument(f"invalid cgroup namespace mode: {mode}")


def spec_fields(hc: dict, cid: str, cgroup_v2: bool, init_path: str | None,
                cgroup_parent: str = "/ketch") -> dict:
    """The SpecInput fields HostConfig decides: privileges, limits, devices, cgroups."""
    privileged = bool(hc.get("Privileged"))
    opts = security.security_options(hc.get("SecurityOpt"))
    caps = security.capabilities(hc.get("CapAdd"), hc.get("CapDrop"), privileged)
    seccomp_doc = seccomp_profile(opts.seccomp, privileged, caps)
    security.check_sysctls(hc.get("Sysctls"))
    devs, rules = devices.resolve(hc.get("Devices"))
    if privileged:
        devs, rules = devices.host_devices() + devs, [devices.ALLOW_ALL]
    else:
        rules = list(resources.DEFAULT_DEVICE_RULES) + rules
    parent = (hc.get("CgroupParent") or cgroup_parent).rstrip("/")
    mode = hc.get("CgroupnsMode") or ("private" if cgroup_v2 else "host")
    return dict(
        capabilities=tuple(caps), privileged=privileged,
        no_new_privileges=opts.no_new_privileges, seccomp=seccomp_doc,
        unconfined_paths=opts.unconfined_paths, rlimits=tuple(rlimits(hc.get("Ulimits"))),
        sysctls=dict(hc.get("Sysctls") or {}), oom_score_adj=int(hc.get("OomScoreAdj") or 0),
        devices=tuple(devs), resources=resources.build(hc, os.cpu_count() or 1, rules),
        cgroups_path=f"{parent}/{cid}", cgroupns=mode == "private",
        init_path=find_init(init_path) if hc.get("Init") else None,
    )
