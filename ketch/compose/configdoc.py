"""The project as ``compose config`` prints it: compose-go's MarshalYAML / MarshalJSON.

compose-go encodes its structs in their field order (a service's keys nearly, not quite,
alphabetical; a port's mode before its target) and maps sorted, with yaml.v3's two-space
indent, sequences indented under their key and double quotes where a plain scalar would
be read back as something else. The project's working dir, files, environment and
profiles are not part of the document.
"""

import json

from ketch.compose.model import Project, Service, to_canonical

# compose-go's ServiceConfig field order
SERVICE_ORDER = (
    "profiles annotations attach build develop blkio_config cap_add cap_drop cgroup_parent cgroup "
    "cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpus cpuset "
    "cpu_shares command configs container_name credential_spec depends_on deploy "
    "device_cgroup_rules devices dns dns_opt dns_search dockerfile domainname entrypoint provider "
    "environment env_file expose extends external_links extra_hosts group_add gpus hostname "
    "healthcheck image init ipc isolation labels label_file links logging log_driver log_opt "
    "mem_limit mem_reservation memswap_limit mem_swappiness mac_address models net network_mode "
    "networks oom_kill_disable oom_score_adj pid pids_limit platform ports privileged pull_policy "
    "read_only restart runtime scale secrets security_opt shm_size stdin_open stop_grace_period "
    "stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket user userns_mode uts "
    "volume_driver volumes volumes_from working_dir").split()
PORT_ORDER = ("name", "mode", "host_ip", "target", "published", "protocol", "app_protocol")
_RANK = {k: i for i, k in enumerate(SERVICE_ORDER)}


def _service(service: Service) -> dict:
    doc = to_canonical(service)
    extensions = doc.pop("extensions", {})
    out = dict(sorted(doc.items(), key=lambda kv: _RANK.get(kv[0], len(_RANK))))
    if "ports" in out:
        out["ports"] = [{k: p[k] for k in PORT_ORDER if k in p} for p in out["ports"]]
    out.update(sorted(extensions.items()))
    return out


def _sorted_map(doc: dict) -> dict:
    out = {}
    for key in sorted(doc):
        value = doc[key]
        if isinstance(value, dict):
            extensions = value.pop("extensions", {})
            value = {**value, **extensions}
        out[key] = value
    return out


def document(project: Project) -> dict:
    """The mapping compose config prints, in its order."""
    doc: dict = {"name": project.name,
                 "services": {n: _service(s) for n, s in sorted(project.services.items())}}
    for key in ("networks", "volumes", "secrets", "configs"):
        items = getattr(project, key)
        if items:
            doc[key] = _sorted_map({k: to_canonical(v) for k, v in items.items()})
    doc.update(sorted(project.extensions.items()))
    return doc


def to_json(doc: dict) -> str:
    """json.MarshalIndent of compose-go's map: top-level keys sorted, two-space indent."""
    return json.dumps(dict(sorted(doc.items())), indent=2, ensure_ascii=False)


def to_yaml(doc: dict) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)  # yaml.v3 indents sequences

        def choose_scalar_style(self):
            style = super().choose_scalar_style()
            return '"' if style == "'" else style  # yaml.v3 quotes with double quotes

    def none(dumper, _value):
        return dumper.represent_scalar("tag:yaml.org,2002:null", "null")

    Dumper.add_representer(type(None), none)
    return yaml.dump(doc, Dumper=Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, indent=2, width=1 << 30)

