"""A container's logging driver and its options (HostConfig.LogConfig), checked as moby does.

Two checks, at the two moments moby makes them:

- ``validate`` at create (moby's logger.ValidateLogOpts): the driver must exist and each
  option must be one its driver knows; the create is refused with a 400.
- ``settings`` at start (moby's jsonfilelog.New): the values are parsed into the
  ``LogSpec`` the monitor's writer is asked for; ``monitor_spec`` fails the start with
  moby's "failed to create task for container: failed to initialize logging driver: ...".

ketch writes ``json-file`` (rotation by size, a number of files, gzip of rotated files),
``local`` (moby's daemon/logger/local: the same rotation, protobuf records, other
defaults and other words for bad values) and ``none``; Docker's other drivers are
refused by ``unsupported.py`` by name.
"""

from ketch.errors import Internal, InvalidArgument
from ketch.monitor.protocol import LogSpec
from ketch.units import go_quote, parse_go_bool, parse_size

# moby 26: the logger is made when containerd asks for the task's stdio
START_PREFIX = "failed to create task for container: failed to initialize logging driver: "
JSON_FILE, LOCAL, NONE = "json-file", "local", "none"
DEFAULT_DRIVER = JSON_FILE
DRIVERS = (JSON_FILE, LOCAL, NONE)
# moby's jsonfilelog.ValidateLogOpt, and the options every driver takes (builtInLogOpts)
JSON_FILE_OPTS = ("max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag")
# moby's local.LogOptKeys
LOCAL_OPTS = ("max-file", "max-size", "compress", "labels", "labels-regex", "env", "env-regex", "tag")
# local's defaults (local.go): 20 MiB, 5 files, compressed
LOCAL_MAX_SIZE, LOCAL_MAX_FILE = 20 * 1024 * 1024, 5
BUILTIN_OPTS = ("mode", "max-buffer-size")
MODES = ("", "blocking", "non-blocking")


def normalize(log_config: dict | None, defaults: dict | None = None) -> dict:
    """What the container keeps and inspect shows: the driver filled in from the daemon's
    default, and the default's options merged under the container's own when the
    driver is the default's (moby's mergeAndVerifyLogConfig)."""
    defaults = defaults or {}
    default_type = defaults.get("Type") or DEFAULT_DRIVER
    lc = log_config or {}
    driver = lc.get("Type") or default_type
    config = dict(lc.get("Config") or {})
    if driver == default_type:
        for key, value in (defaults.get("Config") or {}).items():
            config.setdefault(key, value)
    return {"Type": driver, "Config": config}


def validate(log_config: dict) -> None:
    """moby's logger.ValidateLogOpts on a normalized LogConfig (create time)."""
    driver, config = log_config["Type"], log_config["Config"]
    if driver == NONE:
        return
    mode = config.get("mode", "")
    if mode not in MODES:
        raise InvalidArgument(f"logger: logging mode not supported: {mode}")
    if "max-buffer-size" in config:
        if mode != "non-blocking":
            raise InvalidArgument("logger: max-buffer-size option is only supported with 'mode=non-blocking'")
        try:
            parse_size(config["max-buffer-size"])
        except ValueError as exc:
            raise InvalidArgument(f"logger: max-buffer-size: {exc}") from None
    if driver not in DRIVERS:  # what dockerd answers: it looked for a plugin of that name
        raise InvalidArgument(f'error looking up logging plugin {driver}: plugin "{driver}" not found')
    for key in config:
        if key in BUILTIN_OPTS:
            continue
        if driver == LOCAL and key not in LOCAL_OPTS:
            raise InvalidArgument(f"unknown log opt '{key}' for log driver local")
        if driver == JSON_FILE and key not in JSON_FILE_OPTS:
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")


def _atoi(s: str) -> int:
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isascii() or not body.isdigit():
        raise ValueError(f"strconv.Atoi: parsing {go_quote(s)}: invalid syntax")
    return int(s)


def settings(log_config: dict | None) -> LogSpec:
    """The writer's settings (start time); InvalidArgument with moby's jsonfilelog.New
    message, which the caller prefixes with "failed to initialize logging driver: "."""
    lc = normalize(log_config)
    driver, config = lc["Type"], lc["Config"]
    if driver == NONE:
        return LogSpec(driver=NONE)
    if driver == LOCAL:
        return _local_settings(config)
    try:
        max_size = -1
        if "max-size" in config:
            max_size = parse_size(config["max-size"])
            if max_size <= 0:
                raise ValueError("max-size must be a positive number")
        max_file = 1
        if "max-file" in config:
            max_file = _atoi(config["max-file"])
            if max_file < 1:
                raise ValueError("max-file cannot be less than 1")
        compress = False
        if "compress" in config:
            compress = parse_go_bool(config["compress"])
            if compress and (max_file == 1 or max_size == -1):
                raise ValueError("compress cannot be true when max-file is less than 2 or max-size is not set")
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    return LogSpec(driver, max_size, max_file, compress)


def _local_settings(config: dict) -> LogSpec:
    """moby's local.newConfig and validateConfig."""
    max_size, max_file, compress = LOCAL_MAX_SIZE, LOCAL_MAX_FILE, True
    if "max-size" in config:
        try:
            max_size = parse_size(config["max-size"])
        except ValueError as exc:
            raise InvalidArgument(f"invalid value for max-size: {config['max-size']}: {exc}") from None
    if "max-file" in config:
        try:
            max_file = _atoi(config["max-file"])
        except ValueError as exc:
            raise InvalidArgument(f"invalid value for max-file: {config['max-file']}: {exc}") from None
    if "compress" in config:
        try:
            compress = parse_go_bool(config["compress"])
        except ValueError as exc:
            raise InvalidArgument(f"invalid boolean value for compress: {exc}") from None
    if max_size < 0:
        raise InvalidArgument("max-size must not be negative")
    if max_file < 0:
        raise InvalidArgument("max-file must not be negative")
    if compress and max_file <= 1:
        raise InvalidArgument("compression cannot be enabled when max file count is 1")
    # max-size 0: moby's LogFile rotates before every entry (ours: before each that finds
    # the file not empty); max-file 0 keeps one file, as 1 does
    return LogSpec(LOCAL, max(max_size, 1), max(max_file, 1), compress)


def monitor_spec(log_config: dict | None) -> LogSpec:
    """What the monitor is asked to write, at start; a bad value fails the start as moby's
    does (errdefs.Unknown: a 500)."""
    try:
        return settings(log_config)
    except InvalidArgument as exc:
        raise Internal(f"{START_PREFIX}{exc}") from None
