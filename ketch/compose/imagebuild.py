"""Build a project's images through the daemon's builder (POST /build): compose v2's
classic builder (build_classic.go), with the CLI's context preparation (``ketch.cli.
buildcontext``: .dockerignore, a Dockerfile outside the context, ``dockerfile_inline``).

Each service's image is tagged ``image_name`` (``image:`` or ``<project>-<service>``)
and ``build.tags``, labelled with ``build.labels`` and compose's own (project, service,
version, builder), with the build args of the file, ``--build-arg`` and the project's
environment for the ones without a value, then the config file's proxies. The daemon's
stream is shown as ``docker build`` shows it (on stdout, nothing with ``quiet``).
"""

from __future__ import annotations

import io
import os
import sys
from dataclasses import dataclass, field

from ketch.client.http import ConnectionFailed, HTTPError
from ketch.compose import labels
from ketch.compose.errors import ComposeError
from ketch.compose.model import BuildConfig, Project, Service

BUILDER_LABEL = "com.docker.compose.image.builder"


@dataclass(frozen=True)
class BuildOptions:
    """What `build` and `up --build` ask of every build."""
    no_cache: bool = False
    pull: bool = False
    build_args: dict[str, str | None] = field(default_factory=dict)  # --build-arg (None: from the environment)
    quiet: bool = False
    memory: int = 0


def image_name(project: Project, service: Service) -> str:
    """compose's GetImageNameOrDefault: ``image:`` or ``<project>-<service>``."""
    return service.image or f"{project.name}-{service.name}"


class _CliConfig:
    """What ketch.cli's build helpers read of a ``Cli``: the config file and the host."""

    def __init__(self, host: str | None) -> None:
        from ketch.cli import config
        self.host = host
        self.config_dir = None
        self.config = config.load(config.directory(None))


def build_args(project: Project, build: BuildConfig, options: BuildOptions, proxies: dict) -> dict:
    """compose's resolveAndMergeBuildArgs: the file's args, then --build-arg, the unset
    ones from the project's environment, then the proxies (never overriding)."""
    merged = {**build.args, **options.build_args}
    out = {k: (project.environment.get(k) if v is None else v) for k, v in merged.items()}
    for key, value in proxies.items():
        out.setdefault(key, value)
    return out


def image_labels(project: Project, service: Service) -> dict[str, str]:
    return {**service.build.labels, labels.VERSION: labels.COMPOSE_VERSION, labels.PROJECT: project.name,
            labels.SERVICE: service.name, BUILDER_LABEL: "classic"}


def dockerfile_path(context: str, dockerfile: str | None) -> str:
    """compose's dockerFilePath: relative to the context (which is absolute)."""
    from ketch.cli.buildcontext import is_git_url
    if not dockerfile:
        return ""
    if os.path.isabs(dockerfile) or is_git_url(context):
        return dockerfile
    return os.path.join(context, dockerfile)


def _unsupported(build: BuildConfig) -> None:
    """What the classic builder cannot do (compose's errors, ketch's builder named)."""
    for present, what in ((len(build.platforms) > 1, "multi-arch build"), (build.privileged, "privileged mode"),
                          (build.additional_contexts, "additional contexts"), (build.ssh, "SSH keys")):
        if present:
            raise ComposeError(f"the classic builder doesn't support {what}, ketch's builder has no BuildKit")


def _secret_items(project: Project, build: BuildConfig) -> list[str]:
    """build.secrets as ``--secret`` items for ketch's secrets header."""
    items = []
    for ref in build.secrets:
        secret = project.secrets.get(ref.source)
        ident = ref.target or ref.source
        if secret is not None and secret.file:
            items.append(f"id={ident},src={secret.file}")
        elif secret is not None and secret.environment:
            items.append(f"id={ident},env={secret.environment}")
        else:
            raise ComposeError(f'build.secrets only supports environment or file-based secrets: "{ref.source}"')
    return items


def _extra_hosts(hosts: list[str]) -> list[str]:
    """"host=ip" (the canonical form) as the API's "host:ip"."""
    return [h.replace("=", ":", 1) if "=" in h else h for h in hosts]


def _ulimits(build: BuildConfig) -> list[dict]:
    out = []
    for name, limit in sorted(build.ulimits.items()):
        soft = limit.soft if limit.single is None else limit.single
        hard = limit.hard if limit.single is None else limit.single
        out.append({"Name": name, "Hard": hard or 0, "Soft": soft or 0})
    return out


def build_one(client, cli: _CliConfig, project: Project, service: Service, options: BuildOptions,
              out) -> str:
    """Build one service's image; its ID. The stream goes to ``out`` (None: held back)."""
    from ketch.cli import buildcontext, buildprogress, buildrequest
    from ketch.cli.main import StatusError
    from ketch.client.build import build_query
    build = service.build
    _unsupported(build)
    try:
        headers = {}
        for name, value in (("X-Registry-Config", buildrequest.registry_config(cli)),
                            ("X-Ketch-Build-Secrets", buildrequest.secrets_header(_secret_items(project, build)))):
            if value:
                headers[name] = value
    except StatusError as exc:
        raise ComposeError(exc.message) from None
    if build.dockerfile_inline is not None:
        dockerfile, stdin = "-", io.BytesIO(build.dockerfile_inline.encode())
    else:
        dockerfile, stdin = dockerfile_path(build.context, build.dockerfile), None
    try:
        ctx = buildcontext.prepare(build.context, dockerfile, stdin)
    except buildcontext.ContextError as exc:
        raise ComposeError(str(exc)) from None
    tags = [image_name(project, service), *build.tags]
    query = build_query(
        tags=tags, dockerfile=ctx.dockerfile, remote=ctx.remote, no_cache=bool(build.no_cache or options.no_cache),
        rm=True, pull=bool(build.pull or options.pull), network=build.network or "",
        build_args=build_args(project, build, options, buildrequest.proxy_args(cli, {})),
        labels=image_labels(project, service), cache_from=build.cache_from, target=build.target or "",
        extra_hosts=_extra_hosts(build.extra_hosts), shm_size=build.shm_size or 0, memory=options.memory,
        ulimits=_ulimits(build), isolation=build.isolation or "")
    image_id = ""

    def on_aux(doc) -> None:
        nonlocal image_id
        if isinstance(doc, dict) and doc.get("ID"):
            image_id = doc["ID"]

    try:
        resp = client.build(ctx.chunks(), query, headers)
        sink = out if out is not None else io.StringIO()
        buildprogress.render_plain(resp, sink, False, 200, on_aux)
    except buildprogress.BuildFailed as exc:
        raise ComposeError(str(exc), exc.code) from None
    except HTTPError as exc:
        raise ComposeError(f"Error response from daemon: {exc}" if exc.status else str(exc)) from None
    except ConnectionFailed as exc:
        raise ComposeError(str(exc)) from None
    finally:
        ctx.close()
    return image_id


def build_services(ctx, project: Project, services: list[Service], options: BuildOptions,
                   progress=None) -> dict[str, str]:
    """Build each service (one after the other, in the order given: their output would
    mix); service name -> image ID. The first failure ends it. The daemon's stream is
    the progress (compose 2.29's classic builder reports no events), ``progress`` unused."""
    if not services:
        return {}
    cli = _CliConfig(ctx.host)
    out = None if options.quiet else getattr(ctx, "out", sys.stdout)
    built = {}
    client = ctx.client()
    try:
        for service in services:
            built[service.name] = build_one(client, cli, project, service, options, out)
    finally:
        client.close()
    return built
