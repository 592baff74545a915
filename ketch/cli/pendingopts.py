"""``run``/``create`` flags for features ketchd does not implement yet: volumes, logging
drivers, tmpfs and namespace modes (the networking flags are netopts').

They are parsed into the fields docker/cli sends, so the daemon's answer names what is
not supported (and a real dockerd behind ``-H`` gets what it expects). Parsing is the
plain shape of docker/cli's; the full validation comes with each feature.
"""

from ketch.cli.flags import FlagSpec

FLAGS = (
    FlagSpec("ipc", None, "string", help="IPC mode to use"),
    FlagSpec("log-driver", None, "string", help="Logging driver for the container"),
    FlagSpec("log-opt", None, "list", help="Log driver options"),
    FlagSpec("mount", None, "list", help="Attach a filesystem mount to the container"),
    FlagSpec("pid", None, "string", help="PID namespace to use"),
    FlagSpec("tmpfs", None, "list", help="Mount a tmpfs directory"),
    FlagSpec("userns", None, "string", help="User namespace to use"),
    FlagSpec("uts", None, "string", help="UTS namespace to use"),
    FlagSpec("volume", "v", "list", help="Bind mount a volume"),
    FlagSpec("volume-driver", None, "string", help="Optional volume driver for the container"),
    FlagSpec("volumes-from", None, "list", help="Mount volumes from the specified container(s)"),
)


def _mount(spec: str) -> dict:
    names = {"src": "Source", "source": "Source", "dst": "Target", "destination": "Target",
             "target": "Target", "type": "Type"}
    out: dict = {"Type": "volume"}
    for item in spec.split(","):
        key, sep, value = item.partition("=")
        if key.lower() in names:
            out[names[key.lower()]] = value
        elif key.lower() in ("ro", "readonly"):
            out["ReadOnly"] = not sep or value.lower() in ("1", "true")
    return out


def apply(opts, config: dict) -> None:
    """Add the flags' fields to the create body ``config`` (HostConfig inside it)."""
    hc = config["HostConfig"]
    binds = [v for v in opts["volume"] if ":" in v]
    anonymous = {v: {} for v in opts["volume"] if ":" not in v}
    hc["Binds"] = binds or None
    config["Volumes"] = anonymous
    if opts["mount"]:
        hc["Mounts"] = [_mount(m) for m in opts["mount"]]
    log_opts = dict(o.partition("=")[::2] for o in opts["log-opt"])
    hc["LogConfig"] = {"Type": opts["log-driver"], "Config": log_opts}
    if opts["tmpfs"]:
        hc["Tmpfs"] = {t.partition(":")[0]: t.partition(":")[2] for t in opts["tmpfs"]}
    hc["VolumeDriver"] = opts["volume-driver"]
    hc["VolumesFrom"] = opts["volumes-from"] or None
    for flag, field in (("ipc", "IpcMode"), ("pid", "PidMode"), ("uts", "UTSMode"), ("userns", "UsernsMode")):
        hc[field] = opts[flag]
