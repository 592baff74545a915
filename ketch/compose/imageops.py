"""A project's images: have them before `up` creates containers (pull, then build), pull
and push them, remove them on `down --rmi`. Compose v2's pull.go, push.go, down.go's
image removal and build.go's ensureImagesExists; the builds are in ``imagebuild``.

Every call to the daemon goes through ``ctx.client()`` (one client per thread); pulls and
pushes run in parallel (the global ``--parallel``). What happens is told through the
``progress`` given (``ketch.compose.progress.Progress``: compose 2.29's events, see
``imagepull``) or not at all. ``--dry-run`` looks at the images and changes none.
"""

from __future__ import annotations

import dataclasses
from contextlib import closing

from ketch.client.http import HTTPError
from ketch.compose import labels
from ketch.compose.errors import ComposeError
from ketch.compose.imagebuild import BuildOptions, build_services, image_name
from ketch.compose.imagepull import error_text, event, must_pull, parse_ref, pull_one, push_one
from ketch.compose.model import Project, Service

__all__ = ["ImageRef", "BuildOptions", "ensure_images", "build", "pull", "push", "remove_images",
           "image_name", "select_services"]


class ImageRef(str):
    """A service's image as containers name it (``busybox``, ``p-web``), carrying the
    image's ID (``.id``; "" when it is not there) for the com.docker.compose.image label."""

    id: str

    def __new__(cls, name: str, image_id: str = "") -> ImageRef:
        ref = super().__new__(cls, name)
        ref.id = image_id
        return ref


def select_services(project: Project, names: list[str] | None) -> list[Service]:
    """The named services (all enabled ones when none), in the order given; an unknown
    name is compose's error."""
    if not names:
        return list(project.services.values())
    out = []
    for name in names:
        service = project.services.get(name) or project.disabled_services.get(name)
        if service is None:
            raise ComposeError(f"no such service: {name}")
        if service not in out:
            out.append(service)
    return out


def _tail(ctx, progress, message: str) -> None:
    """compose's TailMsgf: a line after the events, on the progress's stream."""
    if progress is not None:
        progress.message(message)
    else:
        ctx.err.write(message + "\n")


def _failure(exc: Exception) -> ComposeError:
    return exc if isinstance(exc, ComposeError) else ComposeError(error_text(exc))


def dry_run(ctx) -> bool:
    """--dry-run: images are looked at, never pulled, built, pushed or removed."""
    return bool(ctx.options.get("dry-run"))


def _workers(ctx, jobs: int) -> int:
    limit = ctx.options.get("parallel", -1)
    return max(1, min(jobs, limit) if limit and limit > 0 else jobs)


def _parallel(ctx, fn, items: list) -> list:
    """``fn(client, item)`` for each item, in threads (a client each); the results in order,
    exceptions returned in place of a result."""
    def run(item):
        client = ctx.client()
        try:
            return fn(client, item)
        except Exception as exc:  # handed back: the caller decides what fails the command
            return exc
        finally:
            client.close()
    if not items:
        return []
    if len(items) == 1:
        return [run(items[0])]
    import concurrent.futures  # (13 ms: only when there are several)
    with concurrent.futures.ThreadPoolExecutor(_workers(ctx, len(items))) as pool:
        return list(pool.map(run, items))


def _inspect(client, name: str) -> dict | None:
    try:
        return client.inspect_image(name)
    except HTTPError as exc:
        if exc.status == 404:
            return None
        raise ComposeError(f"unable to get image '{name}': Error response from daemon: {exc}") from None


# -- pull ---------------------------------------------------------------------------------

def _buildable(service: Service, services: list[Service]) -> bool:
    """compose's isServiceImageToBuild: it, or another service of the same image, builds."""
    return service.build is not None or any(s.image == service.image and s.build is not None
                                            for s in services)


def _pull_all(ctx, project: Project, services: list[Service], progress, quiet: bool,
              buildable) -> list:
    """Pull each service's image in parallel; their IDs or exceptions, in order."""
    platform = project.environment.get("DOCKER_DEFAULT_PLATFORM")
    return _parallel(ctx, lambda c, s: pull_one(c, s.name, s.image, s.platform or platform, progress,
                                                quiet=quiet, buildable=buildable(s), dry_run=dry_run(ctx)),
                     services)


def pull(ctx, project: Project, services: list[str] | None = None, *, quiet: bool = False,
         ignore_failures: bool = False, ignore_buildable: bool = False, include_deps: bool = False,
         policy: str | None = None, progress=None) -> None:
    """`compose pull`: each service's image, as its pull policy says (``policy``, --policy,
    overrides it); a failure ends the command unless ignored or the service builds."""
    chosen = _with_deps(project, services) if include_deps else select_services(project, services)
    jobs, being_pulled = [], {}
    with closing(ctx.client()) as client:
        for service in chosen:
            image, svc_policy = service.image, policy or service.pull_policy
            skipped = None
            if not image:
                skipped = "Skipped - No image to be pulled"
            elif svc_policy in ("never", "build"):
                skipped = "Skipped"
            elif svc_policy in ("missing", "if_not_present") and parse_ref(image).tag != "latest" \
                    and _inspect(client, image) is not None:
                skipped = "Skipped - Image is already present locally"
            elif service.build is not None and ignore_buildable:
                skipped = "Skipped - Image can be built"
            elif image in being_pulled:
                skipped = f"Skipped - Image is already being pulled by {being_pulled[image]}"
            if skipped:
                event(progress, service.name, skipped, "done")
                continue
            being_pulled[image] = service.name
            jobs.append(service)
    results = _pull_all(ctx, project, jobs, progress, quiet, lambda s: s.build is not None)
    failed = [(s, r) for s, r in zip(jobs, results) if isinstance(r, Exception)]
    must_build = [s.name for s, _ in failed if s.build is not None]
    if must_build:
        _tail(ctx, progress, "WARNING: Some service image(s) must be built from source by running:\n"
                             f"    ketch compose build {' '.join(must_build)}")
    errors = [r for s, r in failed if s.build is None]
    if errors and not ignore_failures:
        raise _failure(errors[0])


def _with_deps(project: Project, names: list[str] | None) -> list[Service]:
    """The named services and what they depend on, transitively (--include-deps)."""
    from ketch.compose import graph
    named = select_services(project, names)
    deps = graph.dependencies(project, [s.name for s in named])
    return select_services(project, deps + [s.name for s in named if s.name not in deps])


# -- up: have every image ------------------------------------------------------------------

def ensure_images(ctx, project: Project, services: list[str] | None = None, *, build: str = "auto",
                  pull: str | None = None, quiet_pull: bool = False, progress=None,
                  build_options: BuildOptions | None = None) -> dict[str, ImageRef]:
    """What `up`/`create`/`run` do before creating containers (compose's ensureImagesExists):
    pull what the pull policies (or ``pull``, `--pull`) ask for, then build what is
    buildable and missing (``build="auto"``), every buildable one (``"always"``, `--build`)
    or none (``"never"``, `--no-build`). Returns each service's ImageRef (its ID too)."""
    chosen = select_services(project, services)
    for service in chosen:
        if not service.image and service.build is None:
            raise ComposeError(f'invalid service "{service.name}". Must specify either image or build')
    if build == "never":
        chosen = [dataclasses.replace(s, build=None) for s in chosen]
    names = {s.name: image_name(project, s) for s in chosen}
    with closing(ctx.client()) as client:
        local = {name: _inspect(client, name) for name in set(names.values())}
    ids = {name: (info or {}).get("Id", "") for name, info in local.items()}

    def policy_of(service: Service) -> str | None:
        if build == "always" and service.build is not None:
            return "build"
        return pull or service.pull_policy

    pulls, seen = [], set()
    for service in chosen:
        if service.image and service.image not in seen and must_pull(policy_of(service), local[service.image]):
            seen.add(service.image)
            pulls.append(service)
    results = _pull_all(ctx, project, pulls, progress, quiet_pull, lambda s: _buildable(s, chosen))
    for service, result in zip(pulls, results):
        if isinstance(result, Exception):
            if not _buildable(service, chosen):
                raise _failure(result)
        elif result:
            ids[service.image] = result

    to_build = [s for s in chosen if s.build is not None
                and (policy_of(s) == "build" or not ids[names[s.name]])]
    if to_build:
        built = build_services(ctx, project, to_build, build_options or BuildOptions(), progress)
        for name, image_id in built.items():
            ids[names[name]] = image_id
    return {s.name: ImageRef(names[s.name], ids.get(names[s.name], "")) for s in chosen}


def build(ctx, project: Project, services: list[str] | None = None, *, no_cache: bool = False,
          pull: bool = False, build_args: dict[str, str | None] | None = None, quiet: bool = False,
          push: bool = False, memory: int = 0, with_dependencies: bool = False,
          progress=None) -> dict[str, str]:
    """`compose build`: the services with a build section (their dependencies too with
    ``with_dependencies``); returns service -> image ID. ``push`` pushes what was built."""
    chosen = _with_deps(project, services) if with_dependencies else select_services(project, services)
    chosen = [s for s in chosen if s.build is not None]
    options = BuildOptions(no_cache=no_cache, pull=pull, build_args=dict(build_args or {}),
                           quiet=quiet, memory=memory)
    built = build_services(ctx, project, chosen, options, progress)
    if push:
        _push_services(ctx, [s for s in chosen if s.image], quiet=quiet, ignore_failures=False,
                       progress=progress)
    return built


# -- push ---------------------------------------------------------------------------------

def _push_services(ctx, services: list[Service], *, quiet: bool, ignore_failures: bool, progress) -> None:
    """Each service's ``image:`` and ``build.tags``: services in parallel, a service's tags
    one after the other (they share their layers: the second finds them there)."""
    def push_tags(client, service: Service) -> None:
        for tag in [service.image, *(service.build.tags if service.build else [])]:
            push_one(client, tag, progress, quiet=quiet, dry_run=dry_run(ctx))

    for service, result in zip(services, _parallel(ctx, push_tags, services)):
        if isinstance(result, Exception):
            if not ignore_failures:
                raise _failure(result)
            _tail(ctx, progress, f"Pushing {service.name}: {result}")


def push(ctx, project: Project, services: list[str] | None = None, *, quiet: bool = False,
         ignore_failures: bool = False, include_deps: bool = False, progress=None) -> None:
    """`compose push`: the images of the services that build one and name it (``image:``
    and ``build.tags``); the others are skipped, as compose 2.29 does."""
    chosen = _with_deps(project, services) if include_deps else select_services(project, services)
    pushable = []
    for service in chosen:
        if service.build is None or not service.image:
            event(progress, service.name, "Skipped", "done")
        else:
            pushable.append(service)
    _push_services(ctx, pushable, quiet=quiet, ignore_failures=ignore_failures, progress=progress)


# -- down --rmi ------------------------------------------------------------------------------

def images_to_remove(client, project: Project, rmi: str, *, remove_orphans: bool = False) -> list[str]:
    """compose's ImagesToPrune: ``local``, the images built for the project (labelled with
    it, or named ``<project>-<service>``); ``all``, also every service's ``image:``."""
    if rmi not in ("local", "all"):
        raise ComposeError(f"unsupported image prune mode: {rmi}")
    images = []
    if rmi == "all":
        images += [s.image for s in project.services.values() if s.image and _inspect(client, s.image)]
    summaries = client.images(filters={"label": [f"{labels.PROJECT}={project.name}"], "dangling": ["false"]})
    for summary in summaries:
        tags = [t for t in summary.get("RepoTags") or [] if t != "<none>:<none>"]
        service = (summary.get("Labels") or {}).get(labels.SERVICE)
        if tags and (remove_orphans or service in project.services):
            images.append(tags[0])
    images += [image_name(project, s) for s in project.services.values()
               if not s.image and _inspect(client, image_name(project, s))]
    return _normalize(images)


def _normalize(images: list[str]) -> list[str]:
    """Familiar names with their tag (``busybox:latest``), each once, sorted."""
    from ketch.errors import InvalidArgument
    from ketch.oci import reference
    out = set()
    for image in images:
        try:
            image = reference.parse(image).familiar
        except InvalidArgument:
            pass
        out.add(image)
    return sorted(out)


def remove_images(ctx, project: Project, rmi: str, *, remove_orphans: bool = False, progress=None) -> None:
    """`down --rmi local|all`: remove the project's images (in use: a warning, gone: a
    warning; other daemon errors end the command)."""
    def report(image: str, status: str, level: str) -> None:
        if progress is not None:
            progress.event("Image", image, status, level=level)

    with closing(ctx.client()) as client:
        for image in images_to_remove(client, project, rmi, remove_orphans=remove_orphans):
            report(image, "Removing", "working")
            try:
                if not dry_run(ctx):
                    client.remove_image(image)
            except HTTPError as exc:
                if exc.status == 409:
                    report(image, "Resource is still in use", "warning")
                    continue
                if exc.status == 404:
                    report(image, "Warning: No resource found to remove", "done")
                    continue
                raise
            report(image, "Removed", "done")
