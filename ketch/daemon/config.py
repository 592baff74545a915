"""ketchd's settings: Docker's daemon flags, over ``daemon.json``, over the defaults."""

import argparse
import ipaddress
import json
import os
from dataclasses import dataclass, field, replace

from ketch.engine import logconfig, unsupported
from ketch.engine.networks.settings import (DEFAULT_BRIDGE_NAME, DEFAULT_MTU, DEFAULT_TABLE,
                                            NetworkSettings)
from ketch.errors import InvalidArgument

DEFAULT_HOST = "unix:///run/ketch/ketch.sock"
DEFAULT_DATA_ROOT = "/var/lib/ketch"
DEFAULT_EXEC_ROOT = "/run/ketch"
DEFAULT_CONFIG_FILE = "/etc/ketch/daemon.json"
DEFAULT_CERTS_DIR = "/etc/ketch/certs.d"


@dataclass(frozen=True)
class DaemonConfig:
    hosts: tuple[str, ...] = (DEFAULT_HOST,)
    data_root: str = DEFAULT_DATA_ROOT
    exec_root: str = DEFAULT_EXEC_ROOT
    debug: bool = False
    default_runtime: str = "ketch"
    runtimes: dict = field(default_factory=dict)
    add_runtimes: tuple[str, ...] = ()
    init_path: str | None = None
    cgroup_parent: str = "/ketch"
    log_config: dict = field(default_factory=lambda: logconfig.normalize(None))  # containers' default
    # registries (daemon.json keys of dockerd's, plus certs-dir: Docker's /etc/docker/certs.d)
    insecure_registries: tuple[str, ...] = ()
    registry_mirrors: tuple[str, ...] = ()
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    certs_dir: str = DEFAULT_CERTS_DIR
    network: NetworkSettings = field(default_factory=NetworkSettings)

    def socket_paths(self) -> list[str]:
        out = []
        for host in self.hosts:
            if host.startswith("unix://"):
                out.append(host[len("unix://"):])
            elif host.startswith("/"):
                out.append(host)
            else:
                raise InvalidArgument(f"unsupported host {host!r}: only unix:// sockets are served")
        return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ketchd", description="ketch's container engine daemon")
    p.add_argument("-H", "--host", action="append", dest="hosts",
                   help=f"daemon socket(s) to connect to (default {DEFAULT_HOST})")
    p.add_argument("--data-root", help=f"root directory of persistent state (default {DEFAULT_DATA_ROOT})")
    p.add_argument("--exec-root", help=f"root directory for execution state (default {DEFAULT_EXEC_ROOT})")
    p.add_argument("--config-file", default=DEFAULT_CONFIG_FILE, help="daemon configuration file")
    p.add_argument("-D", "--debug", action="store_true", default=None, help="enable debug mode")
    p.add_argument("--default-runtime", help="default OCI runtime for containers")
    p.add_argument("--add-runtime", action="append", default=[], metavar="NAME=PATH",
                   help="register an additional OCI compatible runtime")
    p.add_argument("--init-path", help="path to the docker-init binary")
    p.add_argument("--cgroup-parent", help="parent cgroup for all containers (default /ketch)")
    p.add_argument("--log-driver", help="default driver for container logs (json-file, local, none)")
    p.add_argument("--log-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="default log driver options for containers")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST[:PORT]|CIDR",
                   help="registry reached over plain HTTP or unverified TLS")
    p.add_argument("--registry-mirror", action="append", default=[], metavar="URL",
                   help="preferred mirror of Docker Hub")
    p.add_argument("--max-concurrent-downloads", type=int, help="layers pulled at once (default 3)")
    p.add_argument("--max-concurrent-uploads", type=int, help="layers pushed at once (default 5)")
    p.add_argument("--certs-dir", help=f"per-registry CAs and client certificates (default {DEFAULT_CERTS_DIR})")
    p.add_argument("-b", "--bridge", help=f"the default bridge's interface (default {DEFAULT_BRIDGE_NAME}; none: no default bridge)")
    p.add_argument("--bip", help="the default bridge's IP address and prefix (e.g. 172.17.0.1/16)")
    p.add_argument("--fixed-cidr", help="IPv4 subnet the default bridge's containers take addresses from")
    p.add_argument("--mtu", type=int, help=f"MTU of container networks (default {DEFAULT_MTU})")
    p.add_argument("--default-address-pool", action="append", default=[], metavar="base=CIDR,size=N",
                   help="address pools that networks' subnets are picked from")
    p.add_argument("--host-gateway-ip", help="the address of the special name host-gateway (--add-host)")
    for name, what in (("iptables", "ketch's nftables rules (NAT, published ports, isolation)"),
                       ("ip-forward", "turn on net.ipv4.ip_forward"),
                       ("ip-masq", "outbound NAT of the default bridge"),
                       ("icc", "traffic between the default bridge's containers")):
        p.add_argument(f"--{name}", type=_flag_bool, metavar="true|false", help=f"{what} (default true)")
    p.add_argument("--firewall-table", help=f"name of the nftables table ketch owns (default {DEFAULT_TABLE})")
    p.add_argument("-v", "--version", action="store_true", help="print version information and quit")
    return p


def load(argv: list[str] | None = None) -> tuple[DaemonConfig, argparse.Namespace]:
    args = build_parser().parse_args(argv)
    file_doc: dict = {}
    if os.path.exists(args.config_file):
        try:
            with open(args.config_file) as f:
                file_doc = json.load(f)
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"unable to configure the daemon with file {args.config_file}: {exc}") from None
    elif args.config_file != DEFAULT_CONFIG_FILE:
        raise InvalidArgument(f"open {args.config_file}: no such file or directory")
    for key in ("hosts", "data-root", "exec-root", "debug", "default-runtime", "log-driver"):
        flag = getattr(args, key.replace("-", "_"))
        if flag is not None and key in file_doc:
            raise InvalidArgument(
                "the following directives are specified both as a flag and in the configuration "
                f"file: {key}: (from flag: {flag}, from file: {file_doc[key]})")
    cfg = DaemonConfig(
        hosts=tuple(args.hosts or file_doc.get("hosts") or (DEFAULT_HOST,)),
        data_root=os.path.abspath(args.data_root or file_doc.get("data-root") or DEFAULT_DATA_ROOT),
        exec_root=os.path.abspath(args.exec_root or file_doc.get("exec-root") or DEFAULT_EXEC_ROOT),
        debug=bool(args.debug if args.debug is not None else file_doc.get("debug", False)),
        default_runtime=args.default_runtime or file_doc.get("default-runtime") or "ketch",
        runtimes=dict(file_doc.get("runtimes") or {}),
        add_runtimes=tuple(args.add_runtime),
        init_path=args.init_path or file_doc.get("init-path"),
        cgroup_parent=args.cgroup_parent or file_doc.get("cgroup-parent") or "/ketch",
        log_config=_log_config(args, file_doc),
        insecure_registries=tuple(args.insecure_registry) + tuple(file_doc.get("insecure-registries") or ()),
        registry_mirrors=tuple(args.registry_mirror) + tuple(file_doc.get("registry-mirrors") or ()),
        max_concurrent_downloads=_positive(args, file_doc, "max-concurrent-downloads", 3),
        max_concurrent_uploads=_positive(args, file_doc, "max-concurrent-uploads", 5),
        certs_dir=args.certs_dir or file_doc.get("certs-dir") or DEFAULT_CERTS_DIR,
    )
    exec_root = cfg.exec_root
    cfg = replace(cfg, network=_network(args, file_doc, exec_root))
    return cfg, args


def _flag_bool(value: str) -> bool:
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r}")


def _pick(args: argparse.Namespace, file_doc: dict, key: str, default):
    flag = getattr(args, key.replace("-", "_"))
    return flag if flag is not None else file_doc.get(key, default)


def _network(args: argparse.Namespace, file_doc: dict, exec_root: str) -> NetworkSettings:
    pools = []
    for item in list(file_doc.get("default-address-pools") or []) + [
            dict(kv.split("=", 1) for kv in flag.split(",")) for flag in args.default_address_pool]:
        try:
            pools.append((str(ipaddress.ip_network(item["base"])), int(item["size"])))
        except (KeyError, ValueError, TypeError):
            raise InvalidArgument(f"invalid default address pool: {item}") from None
    bip = _pick(args, file_doc, "bip", "")
    if bip:
        try:
            ipaddress.ip_interface(bip)
        except ValueError:
            raise InvalidArgument(f"invalid bip {bip!r}") from None
    mtu = int(_pick(args, file_doc, "mtu", DEFAULT_MTU) or DEFAULT_MTU)
    return NetworkSettings(
        bridge=_pick(args, file_doc, "bridge", DEFAULT_BRIDGE_NAME) or DEFAULT_BRIDGE_NAME,
        bip=bip, fixed_cidr=_pick(args, file_doc, "fixed-cidr", ""), mtu=mtu,
        default_address_pools=tuple(pools),
        iptables=bool(_pick(args, file_doc, "iptables", True)),
        ip_forward=bool(_pick(args, file_doc, "ip-forward", True)),
        ip_masq=bool(_pick(args, file_doc, "ip-masq", True)),
        icc=bool(_pick(args, file_doc, "icc", True)),
        host_gateway_ip=_pick(args, file_doc, "host-gateway-ip", "") or "",
        firewall_table=_pick(args, file_doc, "firewall-table", DEFAULT_TABLE) or DEFAULT_TABLE,
        netns_dir=os.path.join(exec_root, "netns"))


def _log_config(args: argparse.Namespace, file_doc: dict) -> dict:
    """The containers' default LogConfig, checked as a container's is (dockerd does not
    start with a bad one)."""
    opts = dict(file_doc.get("log-opts") or {})
    opts.update(o.partition("=")[::2] for o in args.log_opt)
    lc = logconfig.normalize({"Type": args.log_driver or file_doc.get("log-driver") or "", "Config": opts})
    if lc["Type"] in unsupported.DOCKER_LOG_DRIVERS:
        raise InvalidArgument(f'log-driver "{lc["Type"]}" {unsupported.SUFFIX}')
    if lc["Type"] == logconfig.NONE and lc["Config"]:
        raise InvalidArgument("invalid logging opts for driver none")
    logconfig.validate(lc)
    logconfig.settings(lc)
    return lc


def _positive(args: argparse.Namespace, file_doc: dict, key: str, default: int) -> int:
    """dockerd's check of max-concurrent-downloads/uploads."""
    value = getattr(args, key.replace("-", "_"))
    if value is None:
        value = file_doc.get(key, default)
    if not isinstance(value, int) or value < 0:
        raise InvalidArgument(f"invalid max concurrent {key.rsplit('-', 1)[1]}: {value}")
    return value or default
