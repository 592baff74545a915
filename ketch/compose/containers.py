"""A project's containers as the query commands find them: by labels, as compose does.

compose's getContainers/getSpecifiedContainer: the project label, the config-hash label
(only containers compose made), one-off containers included, excluded or alone; the
project's name from -p, COMPOSE_PROJECT_NAME or the files (projectOrName, toProjectName).
"""

from __future__ import annotations

from ketch.compose import labels as L
from ketch.compose.errors import ComposeError, LoadError

INCLUDE, EXCLUDE, ONLY = "include", "exclude", "only"  # one-off (`run`) containers


def project_or_name(ctx):
    """compose's projectOrName: (the project, its name) when compose files are found or -f
    is given; with -p alone no file is read: (None, the name); a load error falls back on
    COMPOSE_PROJECT_NAME."""
    name = ctx.options["project-name"]
    if ctx.options["file"] or not name:
        try:
            project = ctx.project()
        except LoadError:
            env = ctx.environ.get("COMPOSE_PROJECT_NAME")
            if env:
                return None, env.lower()
            raise
        return project, project.name
    return None, name.lower()


def project_name(ctx) -> str:
    """compose's toProjectName: -p, else COMPOSE_PROJECT_NAME, else the files' project."""
    return (ctx.options["project-name"] or ctx.environ.get("COMPOSE_PROJECT_NAME")
            or ctx.project().name)


def filters(project: str, oneoff: str = EXCLUDE, service: str | None = None,
            number: int | None = None) -> dict[str, list[str]]:
    wanted = [f"{L.PROJECT}={project.lower()}", L.CONFIG_HASH]
    if service is not None:
        wanted.append(f"{L.SERVICE}={service}")
    if number is not None:
        wanted.append(f"{L.CONTAINER_NUMBER}={number}")
    if oneoff != INCLUDE:
        wanted.append(f"{L.ONEOFF}={'True' if oneoff == ONLY else 'False'}")
    return {"label": wanted}


def service_of(c: dict) -> str:
    return (c.get("Labels") or {}).get(L.SERVICE, "")


def is_oneoff(c: dict) -> bool:
    return (c.get("Labels") or {}).get(L.ONEOFF) == "True"


def number_of(c: dict) -> int:
    try:
        return int((c.get("Labels") or {}).get(L.CONTAINER_NUMBER, "0"))
    except ValueError:
        return 0


def canonical_name(c: dict) -> str:
    """The container's own name (not a legacy link alias), without its slash."""
    names = c.get("Names") or []
    for n in names:
        if n.count("/") == 1:
            return n[1:]
    return names[0].lstrip("/") if names else ""


def list_containers(client, project: str, *, oneoff: str = EXCLUDE, all: bool = True,
                    services: list[str] | tuple = ()) -> list[dict]:
    """/containers/json items of the project (services: only theirs)."""
    one = services[0] if len(services) == 1 else None
    items = client.containers(all=all, filters=filters(project, oneoff, one))
    if services:
        items = [c for c in items if service_of(c) in services]
    return items


def specified_container(client, project: str, service: str, index: int = 0, *,
                        oneoff: str = EXCLUDE, all: bool = True) -> dict:
    """compose's getSpecifiedContainer: container #index of the service (else the lowest
    numbered, one-off ones last), or compose's error."""
    items = client.containers(all=all, filters=filters(project, oneoff, service, index or None))
    if not items:
        if index > 0:
            raise ComposeError(f'service "{service}" is not running container #{index}')
        raise ComposeError(f'service "{service}" is not running')
    items.sort(key=lambda c: (is_oneoff(c), number_of(c)))
    return items[0]


def check_services(project, services: list[str]) -> None:
    """compose's "no such service: x" for a name the project does not define."""
    if project is None:
        return
    known = set(project.services) | set(project.disabled_services)
    for name in services:
        if name not in known:
            raise ComposeError(f"no such service: {name}")
