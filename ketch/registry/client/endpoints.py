"""Where a registry is reached, and with which TLS: moby's registry service, pure.

    docker.io                 registry-mirrors (in order, pull only), then
                              https://registry-1.docker.io
    HOST[:PORT]               https://HOST[:PORT]; when insecure, TLS unverified and
                              then http://HOST[:PORT] as a fallback

A registry is insecure when ``insecure-registries`` names it (``host:port``) or holds a
CIDR containing its address; 127.0.0.0/8 and ::1/128 are always in that list, so
loopback registries (``localhost:5000``) are insecure by default, as in Docker.

A secure registry's TLS trusts the system CAs plus, in Docker's certs.d layout::

    CERTS_DIR/HOST:PORT/*.crt     more CAs
    CERTS_DIR/HOST:PORT/*.cert    a client certificate, with its key *.key beside it
"""

import ipaddress
import os
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from ketch.errors import InvalidArgument

OFFICIAL_DOMAIN = "docker.io"
OFFICIAL_V2 = "https://registry-1.docker.io"
OFFICIAL_INDEX = "https://index.docker.io"  # v1 search
DEFAULT_CERTS_DIR = "/etc/ketch/certs.d"
LOOPBACK_CIDRS = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class RegistryOptions:
    """The daemon's registry settings (daemon.json ``registry-mirrors``,
    ``insecure-registries``) and the certs.d directory."""
    mirrors: tuple[str, ...] = ()
    insecure: tuple[str, ...] = ()
    certs_dir: str = DEFAULT_CERTS_DIR
    # Docker's fixed defaults; only tests of TLS verification on loopback change them
    default_insecure_cidrs: tuple[str, ...] = LOOPBACK_CIDRS

    def __post_init__(self) -> None:
        object.__setattr__(self, "mirrors", tuple(validate_mirror(m) for m in self.mirrors))
        for entry in self.insecure:
            _validate_insecure(entry)


@dataclass(frozen=True)
class Endpoint:
    """One place to try: ``url`` is scheme://host[:port] without a trailing slash."""
    url: str
    host: str          # host[:port] as in the URL: the only host that sees credentials
    verify: bool       # verify the server's certificate (https only)
    mirror: bool = False
    official: bool = False
    certs: "CertsDir | None" = None  # CAs and client pair for a secure https endpoint

    @property
    def secure(self) -> bool:
        return self.url.startswith("https://") and self.verify


@dataclass(frozen=True)
class CertsDir:
    """What ``CERTS_DIR/HOST`` holds: CA files and (cert, key) client pairs."""
    cas: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()


def validate_mirror(value: str) -> str:
    """moby's ValidateMirror: an http(s) URL with no path, query or credentials;
    returned with a trailing slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise InvalidArgument(f"invalid mirror: unsupported scheme {parts.scheme!r} in {value!r}")
    if parts.username or parts.password:
        raise InvalidArgument(f"invalid mirror: does not support credentials in {value!r}")
    if (parts.path and parts.path != "/") or parts.query or parts.fragment:
        raise InvalidArgument(f"invalid mirror: path, query, or fragment at end of the URI {value!r}")
    return f"{parts.scheme}://{parts.netloc}/"


def _validate_insecure(entry: str) -> None:
    if "://" in entry:
        raise InvalidArgument(f"insecure registry {entry} should not contain '://'")


def _split_host(host: str) -> tuple[str, int | None]:
    if host.startswith("["):
        addr, _, rest = host[1:].partition("]")
        return addr, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        return name, int(port)
    return host, None


def _addresses(hostname: str) -> list[ipaddress._BaseAddress]:
    try:
        return [ipaddress.ip_address(hostname)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(hostname, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(info[4][0].split("%")[0]))
        except ValueError:
            continue
    return out


def is_secure(host: str, options: RegistryOptions) -> bool:
    """moby's isSecureIndex: insecure when listed by name (host[:port]) or when an
    address of the host is in a CIDR of the list (loopback always is)."""
    if host == OFFICIAL_DOMAIN:
        return True
    cidrs = list(options.default_insecure_cidrs)
    for entry in options.insecure:
        try:
            ipaddress.ip_network(entry, strict=False)
            if "/" in entry:
                cidrs.append(entry)
                continue
        except ValueError:
            pass
        if entry == host:
            return False
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    hostname, _ = _split_host(host)
    for addr in _addresses(hostname):
        if any(addr.version == n.version and addr in n for n in networks):
            return False
    return True


def read_certs_dir(directory: str) -> CertsDir:
    """moby's ReadCertsDirectory: ``*.crt`` are CAs; each ``*.cert`` needs its ``*.key``
    and each ``*.key`` its ``*.cert``. A missing directory is no extra trust."""
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return CertsDir()
    cas, pairs = [], []
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(".crt"):
            cas.append(path)
        elif name.endswith(".cert"):
            key = name[:-len("cert")] + "key"
            if key not in names:
                raise InvalidArgument(f"missing key {key} for client certificate {name}. "
                                      "CA certificates must use the extension .crt")
            pairs.append((path, os.path.join(directory, key)))
        elif name.endswith(".key"):
            cert = name[:-len("key")] + "cert"
            if cert not in names:
                raise InvalidArgument(f"missing client certificate {cert} for key {name}")
    return CertsDir(tuple(cas), tuple(pairs))


def _certs_for(host: str, options: RegistryOptions) -> CertsDir:
    if not options.certs_dir:
        return CertsDir()
    return read_certs_dir(os.path.join(options.certs_dir, host))


def resolve(domain: str, options: RegistryOptions, push: bool = False) -> list[Endpoint]:
    """The endpoints to try for a registry domain (``docker.io``, ``localhost:5000``), in
    order. Mirrors serve only pulls of docker.io."""
    if domain in (OFFICIAL_DOMAIN, "index.docker.io", "registry-1.docker.io"):
        out = []
        if not push:
            for mirror in options.mirrors:
                host = urlsplit(mirror).netloc
                secure = is_secure(host, options)
                out.append(Endpoint(mirror.rstrip("/"), host, secure, mirror=True,
                                    certs=_certs_for(host, options) if secure else None))
        host = urlsplit(OFFICIAL_V2).netloc
        out.append(Endpoint(OFFICIAL_V2, host, True, official=True, certs=_certs_for(host, options)))
        return out
    if is_secure(domain, options):
        return [Endpoint(f"https://{domain}", domain, True, certs=_certs_for(domain, options))]
    return [Endpoint(f"https://{domain}", domain, False), Endpoint(f"http://{domain}", domain, False)]


def index_endpoints(domain: str, options: RegistryOptions) -> list[Endpoint]:
    """Where ``/v1/search`` is asked: index.docker.io for Docker Hub, else the registry."""
    if domain in (OFFICIAL_DOMAIN, "index.docker.io"):
        host = urlsplit(OFFICIAL_INDEX).netloc
        return [Endpoint(OFFICIAL_INDEX, host, True, official=True, certs=_certs_for(host, options))]
    return resolve(domain, options, push=True)


def ssl_context(endpoint: Endpoint) -> ssl.SSLContext:
    """TLS for an https endpoint: system CAs and the certs.d extras, TLS 1.2 at least
    (moby's tlsconfig.ServerDefault); no verification for an insecure one."""
    if not endpoint.verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA store to load: nothing is checked
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    certs = endpoint.certs or CertsDir()
    for ca in certs.cas:
        try:
            ctx.load_verify_locations(cafile=ca)
        except (ssl.SSLError, OSError) as exc:
            raise InvalidArgument(f"unable to load CA certificate {ca}: {exc}") from None
    for cert, key in certs.pairs[:1]:  # one client identity per connection
        try:
            ctx.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as exc:
            raise InvalidArgument(f"unable to load client certificate {cert}: {exc}") from None
    return ctx
