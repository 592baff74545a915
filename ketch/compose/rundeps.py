"""What ``compose run`` does before its container: the service's dependencies up.

compose's startDependencies: the project with the run service disabled is brought up for
the service's dependencies (recursively) as ``up`` would (images, then the plan and its
executor), then the run service's own depends_on conditions are waited for
(waitDependencies), with the executor's condition checks.
"""

import dataclasses

from ketch.compose.errors import ComposeError

POLL = 0.1


def start_dependencies(ctx, project, name: str, progress, *, build: str = "auto",
                       pull: str | None = None, remove_orphans: bool = False,
                       no_deps: bool = False) -> None:
    """The networks and volumes ``name`` uses, and (unless ``no_deps``) its dependencies
    up and their conditions met."""
    from ketch.compose import graph, imageops
    from ketch.compose.executor import ExecOptions, execute
    from ketch.compose.observe import observe
    from ketch.compose.plan import Plan, UpOptions, plan_up
    deps = [] if no_deps else graph.dependencies(project, [name])
    rest = dataclasses.replace(
        project, services={k: v for k, v in project.services.items() if k != name},
        disabled_services={**project.disabled_services, name: project.services[name]})
    images = imageops.ensure_images(ctx, rest, deps, build=build, pull=pull, progress=progress) if deps else {}
    ids = {s: getattr(ref, "id", "") for s, ref in images.items()}
    client = ctx.client()
    try:
        observed = observe(client, project.name)
    finally:
        client.close()
    plan = Plan(resources(project, name, observed))
    if deps:
        up = plan_up(rest, observed, UpOptions(services=tuple(deps), remove_orphans=remove_orphans,
                                               image_ids=ids))
        plan = Plan(tuple(dict.fromkeys(plan.steps + up.steps)), up.warnings)
    execute(plan, ctx, progress, ExecOptions(project=project, images={s: str(r) for s, r in images.items()},
                                             image_ids=ids, parallel=ctx.options["parallel"]),
            observed)
    if deps:
        wait_dependencies(ctx, project, name)


def resources(project, name: str, observed) -> tuple:
    """Steps creating the networks and volumes of service ``name`` that are not there yet
    (compose's run creates them even with --no-deps)."""
    from ketch.compose.plan import Step
    service = project.services[name]
    steps = []
    for key in ({} if service.network_mode else service.networks):
        net = project.networks.get(key)
        if net is not None and not net.external and net.name not in observed.networks:
            steps.append(Step("create_network", "Network", net.name, key=key))
    for v in service.volumes:
        vol = project.volumes.get(v.source) if v.type == "volume" and v.source else None
        if vol is not None and not vol.external and vol.name not in observed.volumes:
            steps.append(Step("create_volume", "Volume", vol.name, key=v.source))
    return tuple(steps)


def wait_dependencies(ctx, project, name: str) -> None:
    """Block until each depends_on condition of ``name`` holds, or fail as compose does."""
    import time
    from ketch.compose.conditions import exited, health
    from ketch.compose.containers import list_containers
    client = ctx.client()
    try:
        for dep, spec in project.services[name].depends_on.items():
            if dep not in project.services or spec.condition == "service_started":
                continue
            for c in list_containers(client, project.name, services=[dep]):
                while True:
                    if spec.condition == "service_completed_successfully":
                        code = exited(client, c["Id"])
                        if code:
                            raise ComposeError(f'service "{dep}" didn\'t complete successfully: exit {code}')
                        if code == 0:
                            break
                    else:
                        try:
                            if health(client, c["Id"], fallback_running=False):
                                break
                        except ComposeError as exc:
                            raise ComposeError(f"dependency failed to start: {exc}") from None
                    time.sleep(POLL)
    finally:
        client.close()
