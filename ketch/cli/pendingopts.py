"""``run``/``create`` flags for features ketchd does not implement yet: logging drivers
and namespace modes (the networking flags are netopts', the mount flags mountopts').

They are parsed into the fields docker/cli sends, so the daemon's answer names what is
not supported (and a real dockerd behind ``-H`` gets what it expects). Parsing is the
plain shape of docker/cli's; the full validation comes with each feature.
"""

from ketch.cli.flags import FlagSpec

FLAGS = (
    FlagSpec("ipc", None, "string", help="IPC mode to use"),
    FlagSpec("log-driver", None, "string", help="Logging driver for the container"),
    FlagSpec("log-opt", None, "list", help="Log driver options"),
    FlagSpec("pid", None, "string", help="PID namespace to use"),
    FlagSpec("userns", None, "string", help="User namespace to use"),
    FlagSpec("uts", None, "string", help="UTS namespace to use"),
)


def apply(opts, config: dict) -> None:
    """Add the flags' fields to the create body ``config`` (HostConfig inside it)."""
    hc = config["HostConfig"]
    log_opts = dict(o.partition("=")[::2] for o in opts["log-opt"])
    hc["LogConfig"] = {"Type": opts["log-driver"], "Config": log_opts}
    for flag, field in (("ipc", "IpcMode"), ("pid", "PidMode"), ("uts", "UTSMode"), ("userns", "UsernsMode")):
        hc[field] = opts[flag]
