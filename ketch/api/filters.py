"""The ``filters`` query parameter: JSON, either {"k": ["v"]} or the old {"k": {"v": true}},
and the checks moby makes of the values before it lists anything (moby v26.1, API 1.45).

A value moby refuses is refused here with its words and its status: an InvalidArgument
(400) where moby marks the error invalid-parameter, an Internal (500) where it returns a
plain error (the ``publish``/``expose`` port checks).
"""

import json
import re
from dataclasses import dataclass

from ketch import timefmt
from ketch.apitypes import ports
from ketch.apitypes.prune import PruneFilter
from ketch.errors import Internal, InvalidArgument
from ketch.units import go_quote

CONTAINER_STATES = ("created", "running", "paused", "restarting", "removing", "exited", "dead")
HEALTH_STATES = ("starting", "healthy", "unhealthy", "none")


def parse(text: str | None, allowed: tuple[str, ...] | None) -> dict[str, list[str]]:
    """The filters; a key not in ``allowed`` is refused (None: any key, as /events)."""
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        raise invalid_filter() from None
    if not isinstance(doc, dict):
        raise invalid_filter()
    out: dict[str, list[str]] = {}
    for key, value in doc.items():
        if isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
            out[key] = [k for k, v in value.items() if v]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = list(dict.fromkeys(value))  # a set in moby: a value counts once
        else:
            raise invalid_filter()
    for key in out:  # moby's Args.Validate, after the whole document is read
        if allowed is not None and key not in allowed:
            raise invalid_filter(key)
    return out


def invalid_filter(key: str = "", values: list[str] | None = None) -> InvalidArgument:
    """moby's invalidFilter: "invalid filter", "invalid filter 'key'" or, with the values
    (printed as Go prints a []string), "invalid filter 'key=[a b]'"."""
    if not key:
        return InvalidArgument("invalid filter")
    if values is None:
        return InvalidArgument(f"invalid filter '{key}'")
    return InvalidArgument(f"invalid filter '{key}=[{' '.join(values)}]'")


def get_bool(f: dict[str, list[str]], key: str, default: bool) -> bool:
    """moby's Args.GetBoolOrDefault: "1"/"true" or "0"/"false", not both, nothing else."""
    if key not in f:
        return default
    values = f[key]
    if not values:
        raise invalid_filter(key)
    is_false = "0" in values or "false" in values
    is_true = "1" in values or "true" in values
    if is_false == is_true:  # both, or neither
        raise invalid_filter(key, values)
    return is_true


def matches(values: list[str], source: str) -> bool:
    """moby's Args.Match: true when no value is given, when one equals ``source``, or when
    one, read as an unanchored regular expression, finds it (a bad one never matches)."""
    if not values or source in values:
        return True
    for value in values:
        try:
            if re.search(value, source):
                return True
        except re.error:
            continue
    return False


@dataclass(frozen=True)
class ContainerFilter:
    """The container list's filters with their values checked (moby's foldFilter, less
    ``before``/``since``, which name containers and are looked up by the caller)."""
    filters: dict[str, list[str]]
    exit_codes: frozenset[int]
    is_task: bool | None  # None: not filtered on
    publish: frozenset[str]  # "8080/tcp": a host port the container publishes
    expose: frozenset[str]  # "80/tcp": a container port it publishes or exposes (moby's)

    @property
    def wants_all(self) -> bool:
        """A status filter lists stopped containers too, as ``all`` does."""
        return bool(self.filters.get("status"))


def container_filter(f: dict[str, list[str]]) -> ContainerFilter:
    """Check the values moby checks, in its order; the first bad value is the error."""
    codes = frozenset(_atoi("exited", v) for v in f.get("exited", []))
    for value in f.get("status", []):
        if value not in CONTAINER_STATES:
            raise InvalidArgument(f"invalid filter 'status={value}'")
    is_task = get_bool(f, "is-task", False) if "is-task" in f else None
    for value in f.get("health", []):
        if value not in HEALTH_STATES:
            raise InvalidArgument(f"unrecognized filter value for health: {value}")
    publish, expose = (frozenset(p for v in f.get(key, []) for p in _ports(key, v))
                       for key in ("publish", "expose"))
    return ContainerFilter(f, codes, is_task, publish, expose)


def _atoi(key: str, value: str) -> int:
    """strconv.Atoi, with moby's wrapping of its error."""
    digits = value[1:] if value[:1] in ("+", "-") else value
    if digits.isascii() and digits.isdigit():
        n = int(value)
        if -(1 << 63) <= n < (1 << 63):
            return n
        reason = "value out of range"
    else:
        reason = "invalid syntax"
    raise InvalidArgument(f"invalid filter '{key}={value}': strconv.Atoi: parsing {go_quote(value)}: {reason}")


def _ports(key: str, value: str) -> list[str]:
    """moby's portOp: "80", "80/udp" or "8000-8010/tcp" into "<port>/<proto>" items."""
    if ":" in value:
        raise Internal(f"filter for '{key}' should not contain ':': {value}")
    proto, port = ports.split_proto_port(value)
    try:
        start, end = ports.parse_port_range(port)
    except ValueError as exc:
        raise Internal(f"error while looking up for {key} {value}: {exc}") from None
    return [f"{p}/{proto}" for p in range(start, end + 1)]


def prune_filter(f: dict[str, list[str]]) -> PruneFilter:
    """moby's getUntilFromPruneFilters and matchLabels' fields (keys already checked)."""
    until = None
    if "until" in f:
        values = f["until"]
        if len(values) > 1:
            raise InvalidArgument("more than one until filter specified")
        try:
            until = timefmt.timestamp_ns(timefmt.get_timestamp(values[0] if values else ""))
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
    return PruneFilter(until, tuple(f.get("label", ())), tuple(f.get("label!", ())))
