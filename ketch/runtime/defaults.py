"""What `ketch-runtime spec` writes and `ketch-runtime features` reports (runc's shapes)."""

from ketch.runtime.capabilities import NAMES

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def default_spec() -> dict:
    """runc spec's default: sh in ./rootfs, a terminal, the minimal capability set."""
    return {
        "ociVersion": "1.1.0",
        "process": {"terminal": True, "user": {"uid": 0, "gid": 0}, "args": ["sh"],
                    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            "TERM=xterm"],
                    "cwd": "/",
                    "capabilities": {s: list(DEFAULT_CAPS) for s in ("bounding", "effective", "permitted")},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                    "noNewPrivileges": True},
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "ketch",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }


def features() -> dict:
    """The OCI runtime features document (runtime-spec features.md)."""
    return {
        "ociVersionMin": "1.0.0", "ociVersionMax": "1.2.0",
        "hooks": [],
        "mountOptions": ["ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync",
                         "async", "remount", "bind", "rbind", "private", "rprivate", "shared",
                         "rshared", "slave", "rslave", "unbindable", "runbindable", "relatime",
                         "norelatime", "strictatime", "nostrictatime", "noatime", "atime",
                         "nodiratime", "diratime", "lazytime", "nolazytime", "nosymfollow",
                         "symfollow", "silent", "loud", "acl", "noacl", "iversion", "noiversion",
                         "mand", "nomand", "dirsync",
                         # OCI 1.1's recursive attributes (mount_setattr): moby uses "rro" for
                         # read-only binds when the runtime lists it
                         "rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
                         "rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "rnoatime",
                         "ratime", "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow"],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": list(NAMES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": False},
            "seccomp": {"enabled": True,
                        "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                                    "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                        "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                                      "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                        "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
                                  "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]},
            "apparmor": {"enabled": False}, "selinux": {"enabled": False},
        },
        "annotations": {"org.opencontainers.runc.version": "ketch"},
    }
