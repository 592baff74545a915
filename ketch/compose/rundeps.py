"""What ``compose run`` does before its container: the service's dependencies up.

compose's startDependencies: the dependencies (recursively) are created and started as
``up`` would do it (their images first, then the plan and its executor), then the run
service's own depends_on conditions are waited for (waitDependencies).
"""

import time

from ketch.compose.errors import ComposeError


def start_dependencies(ctx, project, name: str, progress, *, build: str = "auto",
                       pull: str | None = None, remove_orphans: bool = False) -> None:
    from ketch.compose import graph, imageops
    from ketch.compose.executor import execute
    from ketch.compose.observe import observe
    from ketch.compose.plan import UpOptions, plan_up
    deps = graph.dependencies(project, [name])
    if not deps:
        return
    images = imageops.ensure_images(ctx, project, deps, build=build, pull=pull, progress=progress)
    client = ctx.client()
    try:
        observed = observe(client, project.name)
    finally:
        client.close()
    options = UpOptions(services=tuple(deps), remove_orphans=remove_orphans,
                        image_ids={s: getattr(ref, "id", "") for s, ref in images.items()})
    execute(plan_up(project, observed, options), ctx, progress)
    wait_dependencies(ctx, project, name)


def wait_dependencies(ctx, project, name: str, timeout: float | None = None) -> None:
    """Block until each depends_on condition of ``name`` holds, or fail as compose does."""
    from ketch.compose.containers import list_containers
    service = project.services[name]
    client = ctx.client()
    try:
        for dep, spec in service.depends_on.items():
            if dep not in project.services:
                continue
            for c in list_containers(client, project.name, services=[dep]):
                _wait_one(client, c, spec.condition, dep, timeout)
    finally:
        client.close()


def _wait_one(client, c: dict, condition: str, service: str, timeout: float | None) -> None:
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.05
    while True:
        info = client.inspect_container(c["Id"])
        state = info.get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        cname = info.get("Name", "").lstrip("/")
        if condition == "service_completed_successfully":
            if state.get("Status") in ("exited", "dead"):
                code = int(state.get("ExitCode") or 0)
                if code:
                    raise ComposeError(f'service "{service}" didn\'t complete successfully: exit {code}')
                return
        elif condition == "service_healthy":
            if health == "healthy":
                return
            if health == "unhealthy":
                raise ComposeError(f"dependency failed to start: container {cname} is unhealthy")
            if health is None:
                raise ComposeError(f"dependency failed to start: container {cname} has no healthcheck configured")
            if state.get("Status") in ("exited", "dead"):
                raise ComposeError(f"dependency failed to start: container {cname} exited ({state.get('ExitCode')})")
        else:  # service_started
            return
        if deadline is not None and time.monotonic() > deadline:
            raise ComposeError(f"timeout waiting for dependency {cname}")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)
