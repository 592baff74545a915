"""One compose file -> the canonical form: every short syntax expanded, values typed.

compose-go's ``transform.Canonical`` and decode hooks. This runs on each file (and each
extended or included one) before merging, so merge and extends see a single shape per
key. ``env_file``/``label_file`` stay as ``[{path, required}]`` for normalize to read, and
``extends`` as ``{service, file}`` for extends to resolve. Keys the model has no field for
stay here too; ``project`` drops them when it builds the model.
"""

from __future__ import annotations

from ketch.compose.loader import shortsyntax as ss
from ketch.compose.errors import LoadError

_SIZES = ("mem_limit", "mem_reservation", "memswap_limit", "shm_size")
_INTS = ("scale", "mem_swappiness", "cpu_shares", "cpu_quota", "cpu_period", "pids_limit",
         "oom_score_adj", "cpu_count", "cpu_percent")
_LISTS = ("dns", "dns_search", "dns_opt", "tmpfs", "cap_add", "cap_drop", "security_opt",
          "links", "external_links", "volumes_from", "profiles", "group_add",
          "device_cgroup_rules")
_MAPS = ("labels", "annotations", "sysctls", "storage_opt")


def _env_files(value) -> list[dict]:
    out = []
    for entry in ss.to_list(value):
        item = {"path": entry, "required": True} if isinstance(entry, str) else dict(entry)
        item.setdefault("required", True)
        out.append(item)
    return out


def build(value) -> dict:
    b = {"context": value} if isinstance(value, str) else dict(value)
    if "args" in b:
        b["args"] = ss.mapping_with_equals(b["args"])
    for key in ("labels", "additional_contexts"):
        if key in b:
            b[key] = ss.mapping(b[key])
    if "shm_size" in b:
        b["shm_size"] = ss.size(b["shm_size"], "build.shm_size")
    if "extra_hosts" in b:
        b["extra_hosts"] = ss.extra_hosts(b["extra_hosts"])
    if "ulimits" in b:
        b["ulimits"] = ss.ulimits(b["ulimits"])
    if "secrets" in b:
        b["secrets"] = [ss.file_reference(s) for s in b["secrets"]]
    if "ssh" in b:
        ssh = b["ssh"]
        b["ssh"] = [f"{k}={v}" if v is not None else k for k, v in ssh.items()] \
            if isinstance(ssh, dict) else ss.to_list(ssh)
    for key in ("cache_from", "cache_to", "tags", "platforms", "entitlements"):
        if key in b:
            b[key] = ss.to_list(b[key])
    return b


def _healthcheck(value: dict) -> dict:
    h = dict(value)
    if isinstance(h.get("test"), str):
        h["test"] = ["CMD-SHELL", h["test"]]
    elif h.get("test") is not None:
        h["test"] = [ss.text(t) for t in h["test"]]
    if "retries" in h:
        h["retries"] = ss.integer(h["retries"])
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if h.get(key) is not None:
            h[key] = ss.text(h[key])
    return h


def _resource_spec(value: dict | None) -> dict | None:
    if value is None:
        return None
    spec = {k: v for k, v in value.items() if k in ("cpus", "memory", "pids")}
    if "cpus" in spec:
        spec["cpus"] = ss.number(spec["cpus"])
    if "memory" in spec:
        spec["memory"] = ss.size(spec["memory"], "deploy.resources.memory")
    if "pids" in spec:
        spec["pids"] = ss.integer(spec["pids"])
    return spec


_DEPLOY = ("mode", "replicas", "labels", "resources", "restart_policy")


def _deploy(value: dict) -> dict:
    d = {k: v for k, v in value.items() if k in _DEPLOY}
    extra = {k: v for k, v in value.items() if k not in _DEPLOY}
    if extra:
        d["extra"] = extra
    if "labels" in d:
        d["labels"] = ss.mapping(d["labels"])
    if "replicas" in d:
        d["replicas"] = ss.integer(d["replicas"])
    if d.get("resources") is not None:
        r = d["resources"]
        d["resources"] = {k: _resource_spec(r.get(k)) for k in ("limits", "reservations") if r.get(k)}
    if d.get("restart_policy") is not None:
        rp = dict(d["restart_policy"])
        if "max_attempts" in rp:
            rp["max_attempts"] = ss.integer(rp["max_attempts"])
        d["restart_policy"] = rp
    return d


def service(name: str, raw: dict | None) -> dict:
    """A service's canonical mapping (see the module docstring for what stays raw)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise LoadError(f"services.{name} must be a mapping")
    s = dict(raw)
    if "build" in s and s["build"] is not None:
        s["build"] = build(s["build"])
    for key in ("command", "entrypoint"):
        if key in s:
            s[key] = ss.shell_words(s[key], f"services.{name}.{key}")
    if "environment" in s:
        s["environment"] = ss.mapping_with_equals(s["environment"])
    for key in ("env_file", "label_file"):
        if key in s:
            s[key] = _env_files(s[key])
    for key in _MAPS:
        if key in s:
            s[key] = ss.mapping(s[key])
    if "ports" in s:
        s["ports"] = ss.ports(s["ports"], f"services.{name}.ports")
    if "expose" in s:
        s["expose"] = [ss.text(e) for e in ss.to_list(s["expose"])]
    if "volumes" in s:
        s["volumes"] = [ss.volume(v) for v in s["volumes"] or []]
    if "networks" in s:
        s["networks"] = ss.networks(s["networks"])
    if "depends_on" in s:
        s["depends_on"] = ss.depends_on(s["depends_on"])
    if isinstance(s.get("healthcheck"), dict):
        s["healthcheck"] = _healthcheck(s["healthcheck"])
    for key in _SIZES:
        if key in s:
            s[key] = ss.size(s[key], f"services.{name}.{key}")
    for key in _INTS:
        if key in s:
            s[key] = ss.integer(s[key])
    if "cpus" in s:
        s["cpus"] = ss.number(s["cpus"])
    for key in _LISTS:
        if key in s:
            s[key] = [ss.text(v) for v in ss.to_list(s[key])]
    if "ulimits" in s:
        s["ulimits"] = ss.ulimits(s["ulimits"])
    if "devices" in s:
        s["devices"] = [ss.device(d) for d in s["devices"] or []]
    for key in ("secrets", "configs"):
        if key in s:
            s[key] = [ss.file_reference(r) for r in s[key] or []]
    if "extra_hosts" in s:
        s["extra_hosts"] = ss.extra_hosts(s["extra_hosts"])
    if isinstance(s.get("deploy"), dict):
        s["deploy"] = _deploy(s["deploy"])
    if isinstance(s.get("logging"), dict) and "options" in s["logging"]:
        s["logging"] = dict(s["logging"], options=ss.mapping(s["logging"]["options"]))
    if isinstance(s.get("extends"), str):
        s["extends"] = {"service": s["extends"]}
    if s.get("stop_grace_period") is not None:
        s["stop_grace_period"] = ss.text(s["stop_grace_period"])
    if s.get("pull_policy") == "if_not_present":
        s["pull_policy"] = "missing"
    return s


def _resource(kind: str, key: str, raw: dict | None) -> dict:
    """A top-level network/volume/secret/config: labels as a map, external's old form."""
    r = dict(raw or {})
    for field in ("labels", "driver_opts"):
        if field in r:
            r[field] = ss.mapping(r[field])
    ext = r.get("external")
    if isinstance(ext, dict):
        r["external"] = True
        if "name" in ext:
            if "name" in r and r["name"] != ext["name"]:
                raise LoadError(f"{kind}.{key}: name and external.name conflict; only use name")
            r.setdefault("name", ext["name"])
    if kind == "networks" and isinstance(r.get("ipam"), dict):
        ipam = dict(r["ipam"])
        if "options" in ipam:
            ipam["options"] = ss.mapping(ipam["options"])
        r["ipam"] = ipam
    return r


def canonical(doc: dict) -> dict:
    """The canonical form of one file's (interpolated, validated) mapping."""
    out = {}
    for key, value in doc.items():
        if key == "services":
            out[key] = {name: service(name, s) for name, s in (value or {}).items()}
        elif key in ("networks", "volumes", "secrets", "configs"):
            out[key] = {k: _resource(key, k, v) for k, v in (value or {}).items()}
        elif key == "include":
            out[key] = [{"path": i} if isinstance(i, str) else dict(i) for i in value or []]
        else:
            out[key] = value
    return out
