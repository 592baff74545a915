"""Registry credentials in Docker's ``config.json``, read and written as docker/cli does.

    {"auths": {"localhost:5000": {"auth": base64("user:password"), "identitytoken": "..."},
               "https://index.docker.io/v1/": {}},          # {} : kept by a helper
     "credsStore": "pass",                                   # docker-credential-pass for all
     "credHelpers": {"gcr.io": "gcloud"}}                    # docker-credential-gcloud for one

A helper is the program ``docker-credential-<name>`` on PATH, spoken to as
docker-credential-helpers defines it: ``get``/``erase`` read the server address on stdin,
``store`` reads ``{"ServerURL", "Username", "Secret"}``, ``get`` prints
``{"Username", "Secret"}``; a ``Username`` of ``<token>`` means the secret is an identity
token. ``login`` writes to the client's own config file (``config.directory``); lookups
read it, then, when neither ``--config`` nor ``$KETCH_CONFIG`` chose a directory, Docker's
own (``$DOCKER_CONFIG`` or ``~/.docker``), so credentials of ``docker login`` work too.
"""

import os

from ketch import fastjson
from ketch.cli import config as cfgfile

INDEX_SERVER = "https://index.docker.io/v1/"  # the key Docker Hub's credentials are under
TOKEN_USERNAME = "<token>"
_NOT_FOUND = "credentials not found in native keychain"


class CredentialsError(Exception):
    """A helper failed; the message is what docker prints."""


class AuthConfig:
    """Immutable by convention; a plain class (not a dataclass), as base64 is imported
    lazily below: ``ketch build`` reads the stores on every run and must start fast."""
    __slots__ = ("username", "password", "server_address", "identity_token")

    def __init__(self, username: str = "", password: str = "", server_address: str = "",
                 identity_token: str = "") -> None:
        self.username, self.password = username, password
        self.server_address, self.identity_token = server_address, identity_token

    def _fields(self) -> tuple[str, str, str, str]:
        return self.username, self.password, self.server_address, self.identity_token

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AuthConfig) and other._fields() == self._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return ("AuthConfig(username={!r}, password={!r}, server_address={!r}, "
                "identity_token={!r})".format(*self._fields()))

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)

    def to_api(self) -> dict:
        """The Engine API's AuthConfig (the body of POST /auth, X-Registry-Auth's JSON)."""
        doc = {"username": self.username, "password": self.password,
               "serveraddress": self.server_address, "identitytoken": self.identity_token}
        return {k: v for k, v in doc.items() if v}

    def header(self) -> str:
        """X-Registry-Auth: the JSON in base64url, as docker/cli's EncodeAuthConfig."""
        import base64  # (base64 imports re)
        return base64.urlsafe_b64encode(fastjson.dumps(self.to_api()).encode()).decode()


def hostname(address: str) -> str:
    """docker/cli's ConvertToHostname: ``https://host:5000/v2/`` -> ``host:5000``."""
    for scheme in ("http://", "https://"):
        if address.startswith(scheme):
            address = address[len(scheme):]
            break
    return address.split("/", 1)[0]


def server_key(domain: str) -> str:
    """Where a registry's credentials are kept: Docker Hub under its index URL."""
    return INDEX_SERVER if domain in ("docker.io", "index.docker.io", "registry-1.docker.io") else domain


class Store:
    """The credentials of one config directory (its file, helpers and ``auths``)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, cfgfile.FILENAME)
        self.doc = cfgfile.load(directory)

    def helper_for(self, server: str) -> str:
        helpers = self.doc.get("credHelpers")
        if isinstance(helpers, dict) and isinstance(helpers.get(server), str) and helpers[server]:
            return helpers[server]
        return cfgfile.string(self.doc, "credsStore")

    def _auths(self) -> dict:
        auths = self.doc.get("auths")
        if not isinstance(auths, dict):
            auths = self.doc["auths"] = {}
        return auths

    def _entry(self, server: str) -> tuple[str, dict] | None:
        """The ``auths`` entry for ``server``, also under an old spelling (``http://host``)."""
        auths = self._auths()
        if isinstance(auths.get(server), dict):
            return server, auths[server]
        if server != INDEX_SERVER:
            for key, value in auths.items():
                if isinstance(value, dict) and hostname(key) == server:
                    return key, value
        return None

    def has(self, server: str) -> bool:
        return self._entry(server) is not None

    def get(self, server: str) -> AuthConfig:
        helper = self.helper_for(server)
        if helper:
            return _helper_get(helper, server)
        found = self._entry(server)
        if found is None:
            return AuthConfig(server_address=server)
        entry = found[1]
        username, password = entry.get("username") or "", entry.get("password") or ""
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            import base64
            try:
                username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except ValueError:
                pass
        return AuthConfig(username, password, server, entry.get("identitytoken") or "")

    def save_credentials(self, auth: AuthConfig) -> bool:
        """Store ``auth`` under its server; True when it went into the file in clear."""
        server = auth.server_address
        helper = self.helper_for(server)
        auths = self._auths()
        if helper:
            secret, user = auth.password, auth.username
            if auth.identity_token:
                secret, user = auth.identity_token, TOKEN_USERNAME
            _run_helper(helper, "store", fastjson.dumps(
                {"ServerURL": server, "Username": user, "Secret": secret}).encode())
            auths[server] = {}
        else:
            import base64
            entry = {"auth": base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()}
            if auth.identity_token:
                entry["identitytoken"] = auth.identity_token
            auths[server] = entry
        self.write()
        return not helper

    def erase(self, server: str) -> None:
        helper = self.helper_for(server)
        if helper:
            _run_helper(helper, "erase", server.encode())
        found = self._entry(server)
        if found is not None:
            del self._auths()[found[0]]
        self.write()

    def write(self) -> None:
        """Atomically, mode 0600 (the file holds passwords), as docker/cli saves it."""
        os.makedirs(self.directory, 0o700, exist_ok=True)
        tmp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(_indent(self.doc))
        os.replace(tmp, self.path)


def _indent(doc: dict) -> str:
    import json  # only when writing: json pulls in re, and the CLI's hot path stays without it
    return json.dumps(doc, indent="\t")


def _run_helper(helper: str, action: str, data: bytes) -> bytes:
    import subprocess  # only for a helper: the build and pull paths read the files alone
    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([program, action], input=data, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise CredentialsError(f'error getting credentials - err: exec: "{program}": '
                               "executable file not found in $PATH, out: ``") from None
    if proc.returncode != 0:
        out = (proc.stdout or proc.stderr).decode(errors="replace").strip()
        if out == _NOT_FOUND:
            raise _Missing(out)
        verb = {"get": "getting", "store": "storing", "erase": "erasing"}.get(action, action)
        raise CredentialsError(f"error {verb} credentials - err: exit status {proc.returncode}, "
                               f"out: `{out}`")
    return proc.stdout


class _Missing(CredentialsError):
    pass


def _helper_get(helper: str, server: str) -> AuthConfig:
    try:
        out = _run_helper(helper, "get", server.encode())
    except _Missing:
        return AuthConfig(server_address=server)
    doc = fastjson.loads(out) if out.strip() else {}
    user, secret = doc.get("Username") or "", doc.get("Secret") or ""
    if user == TOKEN_USERNAME:
        return AuthConfig(server_address=server, identity_token=secret)
    return AuthConfig(user, secret, server)


def directory_of(config_flag: str | None) -> str:
    """Where ``login`` writes: the client's own config directory."""
    return cfgfile.directory(config_flag)


def docker_directory() -> str:
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def stores(config_flag: str | None) -> list[Store]:
    """The stores a lookup reads, in order: ketch's, then Docker's when none was chosen."""
    own = cfgfile.directory(config_flag)
    out = [Store(own)]
    if not config_flag and not os.environ.get("KETCH_CONFIG"):
        docker = docker_directory()
        if os.path.abspath(docker) != os.path.abspath(own):
            out.append(Store(docker))
    return out


def lookup(config_flag: str | None, server: str) -> AuthConfig:
    """The credentials for ``server`` (a ``server_key``), empty when there are none."""
    for store in stores(config_flag):
        if store.has(server) or store.helper_for(server):
            auth = store.get(server)
            if not auth.empty:
                return auth
    return AuthConfig(server_address=server)
