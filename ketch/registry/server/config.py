"""The server's settings: a registry.yaml in distribution's config format (the subset
below), then the command line over it.

    version: 0.1
    http:
      addr: 127.0.0.1:5000
      relativeurls: false
      tls: {certificate: /etc/ketch/registry/cert.pem, key: /etc/ketch/registry/key.pem}
    storage:
      filesystem: {rootdirectory: /var/lib/ketch-registry}   # or  inmemory: {}
      delete: {enabled: true}
    auth:
      htpasswd: {realm: Registry Realm, path: /etc/ketch/registry/htpasswd}
      token: {realm: https://auth.example.com/token, service: registry.example.com,
              issuer: auth.example.com, rootcertbundle: /etc/ketch/registry/token.pem}
    catalog: {maxentries: 1000}
    log: {accesslog: {disabled: false}}

Keys distribution has and ketch does not (redis, notifications, middleware, ...) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

DEFAULT_ADDR = "127.0.0.1:5000"
DEFAULT_STORAGE = "/var/lib/ketch-registry"
DEFAULT_REALM = "Registry Realm"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    addr: str = DEFAULT_ADDR
    storage: str | None = DEFAULT_STORAGE  # None: in memory
    tls_cert: str | None = None
    tls_key: str | None = None
    relative_urls: bool = False
    delete_enabled: bool = True
    htpasswd: str | None = None
    htpasswd_realm: str = DEFAULT_REALM
    token_realm: str | None = None
    token_service: str | None = None
    token_issuer: str | None = None
    token_key: str | None = None
    catalog_max: int = 1000
    access_log: bool = True

    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.addr.rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise ConfigError(f"invalid address {self.addr!r}: expected HOST:PORT")
        return host.strip("[]"), int(port)

    def check(self) -> Config:
        self.host_port()
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("--tls-cert and --tls-key go together")
        token = (self.token_realm, self.token_service, self.token_issuer, self.token_key)
        if any(token) and not all(token):
            raise ConfigError("token auth needs --token-realm, --token-service, --token-issuer and --token-key")
        if self.htpasswd and any(token):
            raise ConfigError("htpasswd and token auth cannot both be configured")
        if self.catalog_max < 1:
            raise ConfigError("catalog.maxentries must be positive")
        return self


def _section(doc: dict, *keys: str) -> dict:
    for key in keys:
        value = doc.get(key) if isinstance(doc, dict) else None
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{'.'.join(keys)}: expected a mapping")
        doc = value
    return doc


def from_yaml(text: str) -> dict:
    """The settings a registry.yaml gives, as Config field names."""
    import yaml
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid registry.yaml: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError("invalid registry.yaml: expected a mapping")
    out: dict = {}
    http, tls = _section(doc, "http"), _section(doc, "http", "tls")
    storage = _section(doc, "storage")
    htpasswd, token = _section(doc, "auth", "htpasswd"), _section(doc, "auth", "token")
    pairs = [
        ("addr", http.get("addr")), ("relative_urls", http.get("relativeurls")),
        ("tls_cert", tls.get("certificate")), ("tls_key", tls.get("key")),
        ("storage", _section(doc, "storage", "filesystem").get("rootdirectory")),
        ("delete_enabled", _section(doc, "storage", "delete").get("enabled")),
        ("htpasswd", htpasswd.get("path")), ("htpasswd_realm", htpasswd.get("realm")),
        ("token_realm", token.get("realm")), ("token_service", token.get("service")),
        ("token_issuer", token.get("issuer")), ("token_key", token.get("rootcertbundle")),
        ("catalog_max", _section(doc, "catalog").get("maxentries")),
    ]
    for name, value in pairs:
        if value is not None:
            out[name] = value
    if "inmemory" in storage:
        out["storage"] = None
    disabled = _section(doc, "log", "accesslog").get("disabled")
    if disabled is not None:
        out["access_log"] = not disabled
    types = {f.name: f.type for f in fields(Config)}
    for name, value in out.items():
        want = types[name]
        ok = (isinstance(value, bool) if want == "bool" else
              isinstance(value, int) and not isinstance(value, bool) if want == "int" else
              value is None or isinstance(value, str))
        if not ok:
            raise ConfigError(f"invalid registry.yaml: bad value for {name}: {value!r}")
    return out


def load(path: str | None, overrides: dict) -> Config:
    """The config file's settings (if any), then every override that is not None."""
    config = Config()
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                config = replace(config, **from_yaml(f.read()))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    return replace(config, **{k: v for k, v in overrides.items() if v is not None}).check()
