"""Dockerfile instructions applied to an image config: ``docker import --change`` / ``commit -c``.

Only the instructions that change metadata are allowed, as in Docker; the parser is
deliberately small (one instruction per string, JSON or shell form).
"""

import json
import shlex

from ketch.errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD",
           "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")


def _json_or_shell(rest: str, shell_form: bool) -> list[str]:
    text = rest.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                return value
        except json.JSONDecodeError:
            pass
    return ["/bin/sh", "-c", text] if shell_form else text.split()


def _pairs(rest: str, instruction: str) -> list[tuple[str, str]]:
    words = shlex.split(rest, posix=True)
    if not words:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    if "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        parts = rest.strip().split(None, 1)
        return [(parts[0], parts[1] if len(parts) > 1 else "")]
    out = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{instruction} names can not be blank" if not key else
                                  f"Syntax error - can't find = in \"{word}\". Must be of the form: name=value")
        out.append((key, value))
    return out


def _set_env(config: dict, pairs: list[tuple[str, str]]) -> None:
    env = list(config.get("Env") or [])
    for key, value in pairs:
        env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
    config["Env"] = env


def _expose(config: dict, rest: str) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for port in rest.split():
        number, _, proto = port.partition("/")
        if not number.replace("-", "").isdigit():
            raise InvalidArgument(f"invalid containerPort: {number}")
        ports[f"{number}/{proto or 'tcp'}"] = {}
    config["ExposedPorts"] = ports


def apply(config: dict, changes: list[str]) -> dict:
    """Return a copy of the image ``config`` (its "config" object) with ``changes`` applied."""
    config = dict(config)
    for change in changes:
        change = change.strip()
        if not change:
            continue
        word, _, rest = change.partition(" ")
        instruction = word.upper()
        if instruction not in ALLOWED:
            raise InvalidArgument(f"{word.lower()} is not a valid change command")
        if instruction == "CMD":
            config["Cmd"] = _json_or_shell(rest, True)
        elif instruction == "ENTRYPOINT":
            config["Entrypoint"] = _json_or_shell(rest, True)
        elif instruction == "ENV":
            _set_env(config, _pairs(rest, "ENV"))
        elif instruction == "LABEL":
            config["Labels"] = {**(config.get("Labels") or {}), **dict(_pairs(rest, "LABEL"))}
        elif instruction == "EXPOSE":
            _expose(config, rest)
        elif instruction == "VOLUME":
            config["Volumes"] = {**(config.get("Volumes") or {}),
                                 **{v: {} for v in _json_or_shell(rest, False)}}
        elif instruction == "USER":
            config["User"] = rest.strip()
        elif instruction == "WORKDIR":
            config["WorkingDir"] = rest.strip()
        elif instruction == "STOPSIGNAL":
            config["StopSignal"] = rest.strip()
        elif instruction == "ONBUILD":
            config["OnBuild"] = list(config.get("OnBuild") or []) + [rest.strip()]
        elif instruction == "HEALTHCHECK":
            raise InvalidArgument("HEALTHCHECK changes are not supported yet")
    return config
