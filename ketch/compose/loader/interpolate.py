"""Variable substitution in compose files, as compose-go's ``template`` and ``interpolation``.

``substitute(text, lookup)`` is one string: ``$$`` is a dollar, ``$VAR`` and ``${VAR}`` the
variable (blank, with a warning, when unset), and in braces ``:-``/``-`` a default when unset
or empty / unset, ``:?``/``?`` an error when unset or empty / unset, ``:+``/``+`` an
alternative when set and non-empty / set. Defaults, alternatives and error texts are
substituted in turn, so they nest: ``${A:-${B:-x}}``. A ``$`` followed by anything else is
left alone; ``${`` not followed by a name and ``}`` is an invalid template.

``interpolate(doc, lookup, file)`` substitutes every string value of a document (never a
key) and then, like compose-go, casts the values at the paths the specification types as
booleans and numbers (``privileged: ${PRIV}`` -> ``True``), since the schema is checked
after interpolation. Errors are compose-go's texts, naming the dotted path where list
items are ``[]``: ``error while interpolating services.web.image: required variable TAG is
missing a value: set TAG``.
"""

import json
import re
from collections.abc import Callable

from ketch.compose.errors import LoadError, warn as stderr_warning

Lookup = Callable[[str], str | None]
Warn = Callable[[str], None]

# compose-go's pattern, with [a-zA-Z] spelled out for its (?i:...)
_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-zA-Z][_a-zA-Z0-9]*)"
    r"|\{(?:(?P<braced>[_a-zA-Z][_a-zA-Z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))")

# compose-go picks the operator that appears first in the braced text
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


class InvalidTemplate(Exception):
    """``Invalid template: "..."``; ``template`` is the whole string it was found in."""

    def __init__(self, template: str = "") -> None:
        super().__init__()
        self.template = template

    def __str__(self) -> str:
        return f"Invalid template: {go_quote(self.template)}"


class MissingRequired(Exception):
    """``${VAR:?reason}`` / ``${VAR?reason}`` with VAR unset (or empty)."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__()
        self.variable, self.reason = variable, reason

    def __str__(self) -> str:
        if self.reason:
            return f"required variable {self.variable} is missing a value: {self.reason}"
        return f"required variable {self.variable} is missing a value"


def go_quote(text: str) -> str:
    """Go's %q for the texts compose quotes (close enough: JSON's escapes)."""
    return json.dumps(text, ensure_ascii=False)


def substitute(template: str, lookup: Lookup, warn: Warn | None = stderr_warning) -> str:
    """One string substituted; InvalidTemplate or MissingRequired on the first problem."""
    if "$" not in template:
        return template
    errors: list[Exception] = []

    def replace(match: re.Match) -> str:
        try:
            return _replacement(match.group(0), lookup, warn)
        except InvalidTemplate as exc:
            if not exc.template:
                exc.template = template
            errors.append(exc)
        except MissingRequired as exc:
            errors.append(exc)
        return ""

    result = _PATTERN.sub(replace, template)
    if errors:
        raise errors[0]
    return result


def _replacement(substring: str, lookup: Lookup, warn: Warn | None) -> str:
    operator = _first_operator(substring)
    end = _closing_brace(substring)
    rest = ""
    if end > -1:  # the pattern's greedy (.*) may have run past this variable's brace
        substring, rest = substring[:end + 1], substring[end + 1:]
    match = _PATTERN.match(substring)
    if match.group("escaped"):
        return "$"
    name = match.group("named")
    if name is None:
        name = match.group("braced")
        if not name:
            raise InvalidTemplate()
        if operator and operator in name:
            return _apply(name, operator, lookup, warn) + substitute(rest, lookup, warn)
    value = lookup(name)
    if value is None:
        if warn is not None:
            warn(f"The {go_quote(name)} variable is not set. Defaulting to a blank string.")
        return ""
    return value


def _first_operator(text: str) -> str | None:
    found = [(text.find(op), op) for op in _OPERATORS if op in text]
    return min(found)[1] if found else None


def _closing_brace(text: str) -> int:
    """compose-go's getFirstBraceClosingIndex (the character after a '{' is skipped)."""
    depth, i = 0, 0
    while i < len(text):
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if text[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


def _apply(substitution: str, operator: str, lookup: Lookup, warn: Warn | None) -> str:
    name, _, argument = substitution.partition(operator)
    value = lookup(name)
    empty_counts = operator.startswith(":")
    if operator[-1] == "?":
        if value is None or (empty_counts and value == ""):
            raise MissingRequired(name, substitute(argument, lookup, warn))
        return value
    if operator[-1] == "-":
        if value is None or (empty_counts and value == ""):
            return substitute(argument, lookup, warn)
        return value
    if value is not None and (not empty_counts or value != ""):  # + and :+
        return substitute(argument, lookup, warn)
    return value or ""


# -- the document ---------------------------------------------------------------------------

def _to_bool(value: str, warn: Warn | None):
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("y", "yes", "on", "n", "no", "off"):
        result = low in ("y", "yes", "on")
        if warn is not None:
            warn(f"{go_quote(value)} for boolean is not supported by YAML 1.2, please use `{str(result).lower()}`")
        return result
    raise ValueError(f"invalid boolean: {value}")


def _to_int(function: str) -> Callable:
    def cast(value: str, warn: Warn | None) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", value):
            raise ValueError(f"strconv.{function}: parsing {go_quote(value)}: invalid syntax")
        return int(value)
    return cast


def _to_float(value: str, warn: Warn | None) -> float:
    try:
        if "_" in value or value != value.strip():
            raise ValueError
        return float(value)
    except ValueError:
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(value)}: invalid syntax") from None


_ATOI, _INT64 = _to_int("Atoi"), _to_int("ParseInt")
_S = ("services", "*")
# compose-go's interpolateTypeCastMapping: "*" is any key, "[]" any list item
CASTS: dict[tuple[str, ...], Callable] = {
    **{_S + (key,): _INT64 for key in ("cpu_count", "cpu_period", "cpu_quota", "cpu_rt_period",
                                         "cpu_rt_runtime", "cpu_shares", "oom_score_adj", "pids_limit")},
    **{_S + (key,): _to_bool for key in ("init", "oom_kill_disable", "privileged", "read_only",
                                         "stdin_open", "tty")},
    _S + ("cpu_percent",): _to_float, _S + ("cpus",): _to_float,
    _S + ("depends_on", "*", "required"): _to_bool, _S + ("depends_on", "*", "restart"): _to_bool,
    _S + ("deploy", "replicas"): _ATOI,
    _S + ("deploy", "update_config", "parallelism"): _ATOI,
    _S + ("deploy", "update_config", "max_failure_ratio"): _to_float,
    _S + ("deploy", "rollback_config", "parallelism"): _ATOI,
    _S + ("deploy", "rollback_config", "max_failure_ratio"): _to_float,
    _S + ("deploy", "restart_policy", "max_attempts"): _ATOI,
    _S + ("deploy", "placement", "max_replicas_per_node"): _ATOI,
    _S + ("healthcheck", "retries"): _ATOI, _S + ("healthcheck", "disable"): _to_bool,
    _S + ("ports", "[]", "target"): _ATOI, _S + ("scale",): _ATOI,
    _S + ("ulimits", "*"): _ATOI, _S + ("ulimits", "*", "hard"): _ATOI,
    _S + ("ulimits", "*", "soft"): _ATOI,
    _S + ("volumes", "[]", "read_only"): _to_bool,
    _S + ("volumes", "[]", "volume", "nocopy"): _to_bool,
    **{("networks", "*", key): _to_bool for key in ("external", "internal", "attachable",
                                                   "enable_ipv4", "enable_ipv6")},
    ("volumes", "*", "external"): _to_bool, ("secrets", "*", "external"): _to_bool,
    ("configs", "*", "external"): _to_bool,
}


_CASTS_BY_LENGTH: dict[int, list] = {}
for _pattern, _cast in CASTS.items():
    _CASTS_BY_LENGTH.setdefault(len(_pattern), []).append((_pattern, _cast))


def _cast_for(path: tuple[str, ...]) -> Callable | None:
    for pattern, cast in _CASTS_BY_LENGTH.get(len(path), ()):
        if all(p in ("*", part) for p, part in zip(pattern, path)):
            return cast
    return None


def interpolate(doc, lookup: Lookup, file: str, *, warn: Warn | None = stderr_warning):
    """A copy of ``doc`` with every string value substituted and cast where compose-go casts.

    ``file`` is the document's file; compose's texts do not name it, the caller's may."""
    del file  # compose-go's messages name the key path only

    def walk(value, path: tuple[str, ...]):
        if isinstance(value, str):
            try:
                value = substitute(value, lookup, warn)
            except InvalidTemplate as exc:
                raise LoadError(f"invalid interpolation format for {'.'.join(path)}.\n"
                                f"You may need to escape any $ with another $.\n{exc.template}") from None
            except MissingRequired as exc:
                raise LoadError(f"error while interpolating {'.'.join(path)}: {exc}") from None
            cast = _cast_for(path)
            if cast is None:
                return value
            try:
                return cast(value, warn)
            except ValueError as exc:
                raise LoadError(f"error while interpolating {'.'.join(path)}: "
                                f"failed to cast to expected type: {exc}") from None
        if isinstance(value, dict):
            return {key: walk(item, path + (str(key),)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, path + ("[]",)) for item in value]
        return value

    return walk(doc, ())
