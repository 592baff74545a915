"""Capabilities, security options and sysctls of a container, decided as moby decides them."""

import json
from dataclasses import dataclass

from ketch.engine.seccomp import parse_profile
from ketch.errors import InvalidArgument
from ketch.runtime.capabilities import NAMES, last_cap

DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
NAMESPACED_SYSCTLS = frozenset((
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
    "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
))
NAMESPACED_PREFIXES = ("net.", "fs.mqueue.")


def all_capabilities() -> list[str]:
    """Every capability this kernel knows (Docker's GetAllCapabilities)."""
    return list(NAMES[: last_cap() + 1])


def _normalize(names: list[str], field: str) -> list[str]:
    out = []
    for name in names or []:
        upper = name.upper()
        if upper != "ALL" and not upper.startswith("CAP_"):
            upper = "CAP_" + upper
        if upper != "ALL" and upper not in NAMES:
            raise InvalidArgument(f'invalid {field}: unknown capability: "{upper}"')
        out.append(upper)
    return out


def capabilities(cap_add: list[str], cap_drop: list[str], privileged: bool) -> list[str]:
    """moby's caps.TweakCapabilities."""
    adds = _normalize(cap_add, "CapAdd")
    drops = _normalize(cap_drop, "CapDrop")
    every = all_capabilities()
    if privileged:
        return every
    if "ALL" in adds:
        base = every
    elif "ALL" in drops:
        base = []
    else:
        base = list(DEFAULT_CAPABILITIES)
    out = [c for c in base if c not in drops]
    for cap in adds:
        if cap != "ALL" and cap not in out:
            out.append(cap)
    return out


@dataclass(frozen=True)
class SecurityOptions:
    no_new_privileges: bool = False
    seccomp: str | dict = "default"  # "default", "unconfined", or a profile document
    unconfined_paths: bool = False  # systempaths=unconfined: no masked or read-only paths


def security_options(opts: list[str]) -> SecurityOptions:
    nnp, seccomp, unconfined = False, "default", False
    for i, opt in enumerate(opts or []):
        key, sep, value = opt.partition("=" if "=" in opt else ":")
        if key == "no-new-privileges":
            if not sep:
                nnp = True
            elif value in ("true", "false"):
                nnp = value == "true"
            else:
                raise InvalidArgument(f"invalid --security-opt {i + 1}: {json.dumps(opt)}")
        elif key == "seccomp" and sep:
            if value == "unconfined":
                seccomp = "unconfined"
            else:
                seccomp = parse_profile(value)
        elif key == "systempaths" and value == "unconfined":
            unconfined = True
        elif key in ("apparmor", "label") and sep:
            continue  # no AppArmor or SELinux here: accepted and ignored
        else:
            raise InvalidArgument(f"invalid --security-opt {i + 1}: {json.dumps(opt)}")
    return SecurityOptions(nnp, seccomp, unconfined)


def check_sysctls(sysctls: dict[str, str]) -> None:
    """Only sysctls that live in the container's own namespaces may be set."""
    for key in sysctls or {}:
        if key not in NAMESPACED_SYSCTLS and not key.startswith(NAMESPACED_PREFIXES):
            raise InvalidArgument(f"sysctl {key!r} is not in a separate kernel namespace: "
                                  "only namespaced sysctls can be set in a container")
