"""``ketch registry serve|gc``: the registry server's entry point (the CLI execs the venv's
interpreter on it, since the CLI itself runs without site-packages).

serve runs in the foreground, logs each request to stderr, and exits 0 on SIGINT or
SIGTERM once in-flight requests are done (a few seconds at most).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys

from ketch.registry.server import config as configuration
from ketch.registry.server.config import Config, ConfigError

PROG = "ketch registry"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Run or tidy a container image registry")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="Run the registry server in the foreground",
                                description="Run the registry server in the foreground")
    serve.add_argument("--addr", metavar="HOST:PORT",
                       help=f"Address to listen on (default {configuration.DEFAULT_ADDR})")
    serve.add_argument("--storage", metavar="DIR",
                       help=f"Storage directory (default {configuration.DEFAULT_STORAGE})")
    serve.add_argument("--config", metavar="FILE", help="registry.yaml with more settings")
    serve.add_argument("--htpasswd", metavar="FILE", help="Require Basic auth against this htpasswd file (bcrypt)")
    serve.add_argument("--tls-cert", metavar="FILE", help="Serve HTTPS with this certificate (PEM)")
    serve.add_argument("--tls-key", metavar="FILE", help="... and this private key (PEM)")
    serve.add_argument("--token-realm", metavar="URL", help="Token auth: the token server's URL")
    serve.add_argument("--token-service", metavar="NAME", help="Token auth: this registry's service name")
    serve.add_argument("--token-issuer", metavar="NAME", help="Token auth: the issuer tokens must name")
    serve.add_argument("--token-key", metavar="FILE",
                       help="Token auth: PEM certificates or public keys the issuer signs with")
    gc = commands.add_parser("gc", help="Remove blobs no manifest references",
                             description="Remove blobs no manifest references (run it while nothing pushes)")
    gc.add_argument("--storage", metavar="DIR",
                    help=f"Storage directory (default {configuration.DEFAULT_STORAGE})")
    gc.add_argument("--config", metavar="FILE", help="registry.yaml to read the storage directory from")
    gc.add_argument("-n", "--dry-run", action="store_true", help="Only list what would be removed")
    gc.add_argument("-m", "--delete-untagged", action="store_true",
                    help="Also remove manifests no tag points at")
    return parser


def _store(config: Config):
    from ketch.registry.server.drivers.filesystem import FilesystemDriver
    from ketch.registry.server.drivers.inmemory import InMemoryDriver
    from ketch.registry.server.store import Store
    return Store(InMemoryDriver() if config.storage is None else FilesystemDriver(config.storage))


def _controller(config: Config):
    from ketch.registry.server.auth.access import AllowAll
    if config.htpasswd:
        from ketch.registry.server.auth.htpasswd import HtpasswdController
        return HtpasswdController(config.htpasswd, config.htpasswd_realm)
    if config.token_realm:
        from ketch.registry.server.auth.token import TokenController, TokenVerifier
        with open(config.token_key, "rb") as f:
            pem = f.read()
        return TokenController(config.token_realm, TokenVerifier(config.token_issuer, config.token_service, pem))
    return AllowAll()


async def serve(config: Config) -> None:
    from ketch.registry.server.app import AccessLog, build_server
    from ketch.registry.server.context import Context
    context = None
    if config.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(config.tls_cert, config.tls_key)
    ctx = Context(_store(config), config.delete_enabled, config.relative_urls, config.catalog_max)
    server = build_server(ctx, _controller(config), AccessLog(sys.stderr) if config.access_log else None)
    host, port = config.host_port()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bound = await server.serve_tcp(host, port, ssl=context)
    where = config.storage or "memory"
    print(f"ketch registry listening on {'https' if context else 'http'}://{bound[0]}:{bound[1]} "
          f"(storage: {where})", file=sys.stderr, flush=True)
    await stop.wait()
    await server.close(timeout=5)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    overrides = {"storage": args.storage}
    if args.command == "serve":
        overrides.update(addr=args.addr, htpasswd=args.htpasswd, tls_cert=args.tls_cert,
                         tls_key=args.tls_key, token_realm=args.token_realm,
                         token_service=args.token_service, token_issuer=args.token_issuer,
                         token_key=args.token_key)
    try:
        config = configuration.load(args.config, overrides)
        if args.command == "gc":
            if config.storage is None:
                raise ConfigError("gc needs a storage directory")
            from ketch.registry.server.gc import collect
            collect(_store(config), sys.stdout, dry_run=args.dry_run, delete_untagged=args.delete_untagged)
            return 0
        asyncio.run(serve(config))
        return 0
    except (ConfigError, OSError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
