"""Registry commands through the daemon: pull, push, login, logout, search (docker/cli's words
and exits). (``ketch registry serve|gc``, the server, is commands/registry.py.)"""

import os
import sys

from ketch.cli import credentials, jsonmessage
from ketch.cli.commands import API_ERRORS, daemon_error, parse_args
from ketch.cli.flags import Command, FlagSpec
from ketch.cli.main import StatusError

PULL = Command("pull", "ketch pull [OPTIONS] NAME[:TAG|@DIGEST]",
               "Download an image from a registry", (
    FlagSpec("all-tags", "a", "bool", help="Download all tagged images in the repository"),
    FlagSpec("disable-content-trust", None, "bool", True, help="Skip image verification"),
    FlagSpec("platform", None, "string", help="Set platform if server is multi-platform capable"),
    FlagSpec("quiet", "q", "bool", help="Suppress verbose output"),
), min_args=1, max_args=1, aliases=("ketch image pull",))

PUSH = Command("push", "ketch push [OPTIONS] NAME[:TAG]",
               "Upload an image to a registry", (
    FlagSpec("all-tags", "a", "bool", help="Push all tags of an image to the repository"),
    FlagSpec("disable-content-trust", None, "bool", True, help="Skip image signing"),
    FlagSpec("quiet", "q", "bool", help="Suppress verbose output"),
), min_args=1, max_args=1, aliases=("ketch image push",))

LOGIN = Command("login", "ketch login [OPTIONS] [SERVER]",
                "Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.", (
    FlagSpec("password", "p", "string", help="Password or Personal Access Token (PAT)"),
    FlagSpec("password-stdin", None, "bool", help="Take the Password or Personal Access Token (PAT) from stdin"),
    FlagSpec("username", "u", "string", help="Username"),
), max_args=1)

LOGOUT = Command("logout", "ketch logout [SERVER]",
                 "Log out from a registry.\nIf no server is specified, the default is defined by the daemon.",
                 (), max_args=1)

SEARCH = Command("search", "ketch search [OPTIONS] TERM", "Search Docker Hub for images", (
    FlagSpec("filter", "f", "list", help="Filter output based on conditions provided"),
    FlagSpec("format", None, "string", help="Pretty-print search using a Go template"),
    FlagSpec("limit", None, "int", 0, help="Max number of search results"),
    FlagSpec("no-trunc", None, "bool", help="Don't truncate output"),
), min_args=1, max_args=1)

_UNENCRYPTED = ("\nWARNING! Your credentials are stored unencrypted in '{}'.\n"
                "Configure a credential helper to remove this warning. See\n"
                "https://docs.docker.com/go/credential-store/\n")


def _parse_named(name: str):
    from ketch.errors import InvalidArgument
    from ketch.oci import reference
    try:
        return reference.parse(name, default_tag=False)
    except InvalidArgument as exc:
        raise StatusError(1, str(exc))


def auth_header(cli, domain: str) -> str:
    """X-Registry-Auth for a registry: its stored credentials, ``{}`` when there are none."""
    try:
        auth = credentials.lookup(cli.config_dir, credentials.server_key(domain))
    except credentials.CredentialsError as exc:
        raise StatusError(1, str(exc))
    return auth.header()


def pull_image(cli, name: str, all_tags: bool = False, platform: str = "", quiet: bool = False,
               show_reference: bool = True, out=None, default_tag_notice: bool = True) -> None:
    """docker/cli's pull: the stream rendered, then the reference pulled on stdout."""
    from ketch.oci import reference
    ref = _parse_named(name)
    if all_tags and (ref.tag or ref.digest):
        raise StatusError(1, "tag can't be used with --all-tags/-a")
    if not all_tags and not ref.tag and not ref.digest:
        ref = ref.with_tag(reference.DEFAULT_TAG)
        if not quiet and default_tag_notice:
            print(f"Using default tag: {reference.DEFAULT_TAG}")
    tag = None if all_tags else (ref.digest or ref.tag)
    try:
        resp = cli.client.pull(ref.familiar_name, tag, platform or None, auth_header(cli, ref.domain))
        jsonmessage.render(resp, quiet, out=out)
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    if show_reference:
        print(str(ref))


def pull(cli, args, path):
    opts, (name,) = parse_args(PULL, args, path)
    pull_image(cli, name, opts["all-tags"], opts["platform"], opts["quiet"])
    return 0


def push(cli, args, path):
    opts, (name,) = parse_args(PUSH, args, path)
    from ketch.oci import reference
    ref = _parse_named(name)
    if opts["all-tags"] and ref.tag:
        raise StatusError(1, "tag can't be used with --all-tags/-a")
    if ref.digest:
        raise StatusError(1, f"invalid reference format: {name} is a digest reference")
    if not opts["all-tags"] and not ref.tag:
        ref = ref.with_tag(reference.DEFAULT_TAG)
        if not opts["quiet"]:
            print(f"Using default tag: {reference.DEFAULT_TAG}")
    try:
        resp = cli.client.push(ref.familiar_name, None if opts["all-tags"] else ref.tag,
                               auth_header(cli, ref.domain))
        jsonmessage.render(resp, opts["quiet"])
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    if opts["quiet"]:
        print(str(ref))
    return 0


def _server(arg: str | None) -> tuple[str, bool]:
    """The address credentials are kept under, and whether it is Docker Hub."""
    if not arg or arg in ("docker.io", "index.docker.io", credentials.INDEX_SERVER):
        return credentials.INDEX_SERVER, True
    return credentials.hostname(arg), False


def login(cli, args, path):
    opts, rest = parse_args(LOGIN, args, path)
    server, _ = _server(rest[0] if rest else None)
    username, password = opts["username"], opts["password"]
    if password and opts["password-stdin"]:
        raise StatusError(1, "conflicting options: cannot specify both --password and --password-stdin")
    if opts["password-stdin"]:
        if not username:
            raise StatusError(1, "the --password-stdin option requires --username to be set")
        password = sys.stdin.read().rstrip("\n").rstrip("\r")
    elif password:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", file=sys.stderr)
    store = credentials.Store(credentials.directory_of(cli.config_dir))
    if not username and not password:
        stored = credentials.lookup(cli.config_dir, server)
        if not stored.empty and _try_login(cli, stored, quiet=True):
            print(f"Authenticating with existing credentials... [Username: {stored.username}]",
                  file=sys.stderr)
            print("Login Succeeded")
            return 0
    if not username or not password:
        username, password = _prompt(username, password)
    auth = credentials.AuthConfig(username, password, server)
    token = _try_login(cli, auth)
    if token:
        auth = credentials.AuthConfig(username, "", server, token)
    try:
        clear = store.save_credentials(auth)
    except credentials.CredentialsError as exc:
        raise StatusError(1, f"Error saving credentials: {exc}")
    if clear:
        print(_UNENCRYPTED.format(store.path), file=sys.stderr)
    print("Login Succeeded")
    return 0


def _try_login(cli, auth, quiet: bool = False):
    """POST /auth; the identity token the registry gave ("" if none); None if refused quietly."""
    try:
        doc = cli.client.login(auth.to_api())
    except API_ERRORS as exc:
        if quiet:
            return None
        raise StatusError(1, daemon_error(exc))
    return doc.get("IdentityToken") or ""


def _prompt(username: str, password: str) -> tuple[str, str]:
    if not os.isatty(0):
        raise StatusError(1, "Error: Cannot perform an interactive login from a non TTY device")
    if not username:
        sys.stdout.write("Username: ")
        sys.stdout.flush()
        username = sys.stdin.readline().strip()
        if not username:
            raise StatusError(1, "Error: Non-null Username Required")
    if not password:
        import getpass
        password = getpass.getpass("Password: ")
        if not password:
            raise StatusError(1, "Error: Password Required")
    return username, password


def logout(cli, args, path):
    opts, rest = parse_args(LOGOUT, args, path)
    server, default = _server(rest[0] if rest else None)
    store = credentials.Store(credentials.directory_of(cli.config_dir))
    if not store.has(server):
        print(f"Not logged in to {server}")
        return 0
    print(f"Removing login credentials for {server}")
    try:
        store.erase(server)
    except credentials.CredentialsError as exc:
        print(f"WARNING: could not erase credentials:\n{server}: {exc}", file=sys.stderr)
    return 0


def search(cli, args, path):
    opts, (term,) = parse_args(SEARCH, args, path)
    from ketch.cli.commands.container import parse_filters
    from ketch.cli.format import formatter, searchrows
    filters = parse_filters(opts["filter"])
    domain = term.split("/", 1)[0] if "/" in term and ("." in term.split("/", 1)[0]
                                                      or ":" in term.split("/", 1)[0]
                                                      or term.startswith("localhost/")) else "docker.io"
    try:
        results = cli.client.search(term, opts["limit"], filters, auth_header(cli, domain))
    except API_ERRORS as exc:
        raise StatusError(1, daemon_error(exc))
    rows = [searchrows.SearchRow(r, not opts["no-trunc"]) for r in results]
    try:
        sys.stdout.write(formatter.render(opts["format"], rows, searchrows.HEADERS, searchrows.TABLE))
    except formatter.FormatError as exc:
        raise StatusError(1, str(exc))
    return 0
