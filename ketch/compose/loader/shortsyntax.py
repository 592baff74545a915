"""The short syntaxes of compose values -> their long (canonical) forms, one value at a time.

compose-go does this in ``transform.Canonical`` plus its mapstructure decode hooks: ports
``"8080:80"`` become ``{target, published, protocol, mode}`` entries, volumes ``"./d:/d:ro"``
``{type, source, target, read_only, bind}``, depends_on lists become maps, environment
and labels lists become maps, build strings objects, sizes bytes, command strings argv
(shell words). It runs on each file before merging, so merge sees one shape per key.
What needs the whole project (paths made absolute, env_file read, default network, engine
names, implicit dependencies) is normalize's.
"""

from __future__ import annotations

import shlex

from ketch.apitypes.ports import PortSpecError, parse_port_spec
from ketch.compose.errors import LoadError
from ketch.units import parse_ram


def text(value) -> str:
    """Go's fmt.Sprint of a YAML scalar (true, not True; 1.5; 10)."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_list(value) -> list:
    """A string-or-list key (dns, tmpfs, env_file...) as a list."""
    if value is None:
        return []
    return [value] if isinstance(value, (str, int, float)) else list(value)


def mapping_with_equals(value, what: str = "environment") -> dict[str, str | None]:
    """environment, build.args: ``["A=1", "B"]`` or ``{A: 1, B: null}``; ``B`` alone is None
    (resolved from the environment later, or left unset)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): (None if v is None else text(v)) for k, v in value.items()}
    out: dict[str, str | None] = {}
    for item in value:
        key, sep, val = text(item).partition("=")
        if key and key[-1].isspace():
            raise LoadError(f"environment variable {key} is declared with a trailing space")
        out[key] = val if sep else None
    return out


def mapping(value, seps: tuple[str, ...] = ("=",)) -> dict[str, str]:
    """labels, sysctls, driver_opts...: a list ``k=v`` (a missing value is "") or a map."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): text(v) for k, v in value.items()}
    out = {}
    for item in value:
        item = text(item)
        for sep in seps:
            key, found, val = item.partition(sep)
            if found:
                out[key] = val
                break
        else:
            out[item] = ""
    return out


def size(value, key: str) -> int | None:
    """UnitBytes: an int, or "512m", "1g" as docker's RAMInBytes reads it."""
    if value is None or isinstance(value, int):
        return value
    try:
        return int(value) if str(value).lstrip("-").isdigit() else parse_ram(str(value))
    except ValueError as exc:
        raise LoadError(f"{key}: {exc}") from None


def integer(value):
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value)
    return value


def number(value):
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return None if value is None else float(value)


def mode(value):
    """File modes: YAML ints are decimal as written (0440 in YAML 1.1 is already octal);
    a string is octal, as compose-go's FileMode reads it."""
    if isinstance(value, str):
        try:
            return int(value, 8)
        except ValueError:
            raise LoadError(f"invalid file mode {value!r}") from None
    return value


def shell_words(value, key: str) -> list[str] | None:
    """command/entrypoint: a string is split as go-shellwords does (quotes, escapes)."""
    if value is None or isinstance(value, list):
        return None if value is None else [text(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError:
        raise LoadError(f"{key}: invalid command line string") from None


def ports(value, where: str) -> list[dict]:
    """ParsePortConfig per short entry (ranges give one entry per port); long ones kept."""
    out = []
    for entry in value or []:
        if isinstance(entry, dict):
            port = dict(entry)
            port["target"] = integer(port.get("target"))
            if port.get("published") is not None:
                port["published"] = text(port["published"])
            port.setdefault("protocol", "tcp")
            port.setdefault("mode", "ingress")
            out.append(port)
            continue
        try:
            mappings = parse_port_spec(text(entry))
        except PortSpecError as exc:
            raise LoadError(str(exc)) from None
        for m in sorted(mappings, key=lambda m: m.port):
            target, _, proto = m.port.partition("/")
            port = {"target": int(target), "protocol": proto, "mode": "ingress"}
            if m.host_port:
                port["published"] = m.host_port
            if m.host_ip:
                port["host_ip"] = m.host_ip
            out.append(port)
    return out


_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")


def _is_file_path(source: str) -> bool:
    if not source:
        return False
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) > 1 and source[0].isalpha() and source[1] == ":"


def _volume_fields(spec: str) -> list[str]:
    """Split at ':' outside ${...}, a drive letter's colon kept (format.ParseVolume)."""
    fields, buf, depth = [], "", 0
    for i, ch in enumerate(spec):
        if ch == "$" and spec[i + 1:i + 2] == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        if ch == ":" and depth == 0 and not (len(buf) == 1 and buf.isalpha() and not fields):
            if not buf:
                raise LoadError(f"invalid spec: {spec}: empty section between colons")
            fields.append(buf)
            buf = ""
            continue
        buf += ch
    if not buf:
        raise LoadError(f"invalid spec: {spec}: empty section between colons")
    fields.append(buf)
    return fields


def parse_volume(spec: str) -> dict:
    """A short volume: ``[source:]target[:options]`` as compose-go's format.ParseVolume."""
    if not spec:
        raise LoadError("invalid empty volume spec")
    if len(spec) <= 2:
        return {"type": "volume", "target": spec, "volume": {}}
    fields = _volume_fields(spec)
    if len(fields) > 3:
        raise LoadError(f"invalid spec: {spec}: too many colons")
    vol: dict = {}
    if len(fields) == 1:
        vol["target"] = fields[0]
    else:
        vol["source"], vol["target"] = fields[0], fields[1]
    bind: dict = {}
    if len(fields) == 3:
        for option in fields[2].split(","):
            if option == "ro":
                vol["read_only"] = True
            elif option == "rw":
                vol["read_only"] = False
            elif option == "nocopy":
                vol["volume"] = {"nocopy": True}
            elif option in _PROPAGATIONS:
                bind["propagation"] = option
            elif option in ("z", "Z"):
                bind["selinux"] = option
    if _is_file_path(vol.get("source", "")):
        vol["type"] = "bind"
        bind["create_host_path"] = True
        vol["bind"] = bind
        vol.pop("volume", None)
    else:
        vol["type"] = "volume"
        vol.setdefault("volume", {})
    if vol.get("read_only") is False:
        del vol["read_only"]  # omitempty: rw is the default
    return vol


def volume(entry) -> dict:
    vol = parse_volume(entry) if isinstance(entry, str) else dict(entry)
    if vol.get("target"):
        vol["target"] = _clean(vol["target"])
    if isinstance(vol.get("tmpfs"), dict):
        tmpfs = dict(vol["tmpfs"])
        if "size" in tmpfs:
            tmpfs["size"] = size(tmpfs["size"], "tmpfs.size")
        if "mode" in tmpfs:
            tmpfs["mode"] = mode(tmpfs["mode"])
        vol["tmpfs"] = tmpfs
    if vol.get("volume") == {}:
        del vol["volume"]
    return vol


def _clean(path: str) -> str:
    """Go's path.Clean for a mount target."""
    import posixpath
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def depends_on(value) -> dict[str, dict]:
    if isinstance(value, list):
        return {name: {"condition": "service_started", "required": True} for name in value}
    out = {}
    for name, spec in (value or {}).items():
        spec = dict(spec or {})
        spec.setdefault("condition", "service_started")
        spec.setdefault("required", True)
        out[name] = spec
    return out


def networks(value) -> dict[str, dict | None]:
    if isinstance(value, list):
        return {name: None for name in value}
    out = {}
    for name, spec in (value or {}).items():
        out[name] = None if spec is None else dict(spec)
    return out


def file_reference(entry) -> dict:
    ref = {"source": entry} if isinstance(entry, str) else dict(entry)
    for key in ("uid", "gid"):
        if key in ref:
            ref[key] = text(ref[key])
    if "mode" in ref:
        ref["mode"] = mode(ref["mode"])
    return ref


def ulimits(value) -> dict[str, dict]:
    out = {}
    for name, limit in (value or {}).items():
        out[name] = {"single": integer(limit)} if not isinstance(limit, dict) else {
            k: integer(v) for k, v in limit.items()}
    return out


def device(entry) -> dict:
    if isinstance(entry, dict):
        return dict(entry)
    parts = entry.split(":")
    if len(parts) > 3:
        raise LoadError(f"confusing device mapping, please use long syntax: {entry}")
    src = parts[0]
    dst = parts[1] if len(parts) > 1 and parts[1] else src
    return {"source": src, "target": dst, "permissions": parts[2] if len(parts) == 3 else "rwm"}


def extra_hosts(value) -> list[str]:
    """HostsList: "host=ip" or "host:ip" entries, or a map; rendered "host=ip"."""
    if isinstance(value, dict):
        items = []
        for host, ips in value.items():
            for ip in to_list(ips) or [""]:
                items.append((str(host), text(ip)))
    else:
        items = []
        for entry in value or []:
            entry = text(entry)
            for sep in ("=", ":"):
                host, found, ip = entry.partition(sep)
                if found:
                    items.extend((host, one) for one in ip.split(","))
                    break
            else:
                raise LoadError(f"invalid additional host, missing IP: {entry}")
    out = []
    for host, ip in items:
        if not host or ":" in host or "=" in host:
            raise LoadError(f"bad host name '{host}'")
        if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
            ip = ip[1:-1]
        out.append(f"{host}={ip}")
    return out

