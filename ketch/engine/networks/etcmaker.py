"""What a container's /etc/hosts and /etc/resolv.conf are made from: the host's own files
(read again only when they change), the default bridge's gateway (``host-gateway``),
and the containers it links to. The rendering itself is ``etcfiles`` (pure)."""

import os

from ketch import errors
from ketch.engine.containers.records import ContainerRecord, Registry
from ketch.engine.networks import etcfiles
from ketch.engine.networks.registry import NetworkRegistry
from ketch.engine.networks.settings import NetworkSettings
from ketch.network.model import Network

HOST_FILES = ("/etc/hosts", "/etc/resolv.conf")


class HostFiles:
    """The host's /etc/hosts and /etc/resolv.conf, re-read when their mtime or size changes
    (the embedded DNS asks for the upstreams on every forwarded query)."""

    def __init__(self, paths: tuple[str, str] = HOST_FILES) -> None:
        self.paths = paths
        self._cache: dict[str, tuple[tuple, str]] = {}

    def _read(self, path: str) -> str:
        try:
            st = os.stat(path)
        except OSError:
            return ""
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1]
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            text = ""
        self._cache[path] = (key, text)
        return text

    def __call__(self) -> tuple[str, str]:
        return self._read(self.paths[0]), self._read(self.paths[1])

    def upstreams(self) -> list[str]:
        """The host's nameservers, which the embedded DNS forwards to."""
        _, resolv = self()
        return [line.split()[1] for line in resolv.splitlines()
                if line.startswith("nameserver") and len(line.split()) > 1]


class EtcMaker:
    def __init__(self, networks: NetworkRegistry, containers: Registry, settings: NetworkSettings,
                 host_files: HostFiles) -> None:
        self.networks = networks
        self.containers = containers
        self.settings = settings
        self.host_files = host_files

    def host_gateway(self) -> str:
        """What ``--add-host name:host-gateway`` means: --host-gateway-ip, else the
        default bridge's address."""
        if self.settings.host_gateway_ip:
            return self.settings.host_gateway_ip
        net = self.networks.by_name("bridge")
        pools = net.pools_of(4) if net else ()
        return pools[0].gateway if pools else ""

    def files(self, rec: ContainerRecord, kind: str, addresses: tuple[str, ...] = (),
              dns: bool = False, links: tuple[etcfiles.Link, ...] = ()) -> etcfiles.EtcFiles:
        hosts, resolv = self.host_files()
        return etcfiles.render(rec.config, rec.host_config, kind, addresses, dns, hosts, resolv,
                               self.host_gateway(), links)

    def links(self, rec: ContainerRecord, net: Network) -> tuple[etcfiles.Link, ...]:
        """--link name:alias on the default bridge (moby's legacy links)."""
        out = []
        for item in rec.host_config.get("Links") or ():
            name, _, alias = item.partition(":")
            name = name.strip("/")
            alias = alias.rsplit("/", 1)[-1] or name
            target = self.containers.find(name)
            if target is None:
                raise errors.InvalidArgument(f"could not get container for {name}")
            if not target.state.running:
                raise errors.InvalidArgument(
                    f"Cannot link to a non running container: /{target.name} AS /{rec.name}/{alias}")
            eps = [ep for ep in self.networks.endpoints_of_container(target.id) if ep.network_id == net.id]
            if not eps:
                raise errors.InvalidArgument(
                    f"Cannot link to /{target.name}, as it does not belong to the default network")
            exposed = tuple((int(k.split("/")[0]), k.partition("/")[2] or "tcp")
                            for k in (target.config.get("ExposedPorts") or {}) if k.split("/")[0].isdigit())
            out.append(etcfiles.Link(alias, target.name, target.config.get("Hostname") or target.id[:12],
                                     eps[0].address4, exposed, tuple(target.config.get("Env") or ())))
        return tuple(out)
