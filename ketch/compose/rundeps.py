"""What ``compose run`` does before its container: the service's dependencies up.

compose's startDependencies: the project with the run service disabled is brought up for
the service's dependencies (recursively) as ``up`` would (images, then the plan and its
executor), then the run service's own depends_on conditions are waited for
(waitDependencies): wait steps in the same plan, run by the executor's condition check.
"""

import dataclasses


def start_dependencies(ctx, project, name: str, progress, *, build: str = "auto",
                       pull: str | None = None, remove_orphans: bool = False,
                       no_deps: bool = False) -> None:
    """The networks and volumes ``name`` uses, and (unless ``no_deps``) its dependencies
    up and their conditions met."""
    from ketch.compose import graph, imageops
    from ketch.compose.executor import ExecOptions, execute
    from ketch.compose.observe import observe
    deps = [] if no_deps else graph.dependencies(project, [name])
    images = imageops.ensure_images(ctx, _without(project, name), deps, build=build, pull=pull,
                                    progress=progress) if deps else {}
    ids = {s: getattr(ref, "id", "") for s, ref in images.items()}
    client = ctx.client()
    try:
        observed = observe(client, project.name)
    finally:
        client.close()
    plan = dependencies_plan(project, name, observed, deps, ids, remove_orphans=remove_orphans)
    execute(plan, ctx, progress, ExecOptions(project=project, images={s: str(r) for s, r in images.items()},
                                             image_ids=ids, parallel=ctx.options["parallel"]),
            observed)


def _without(project, name: str):
    """The project with the run service disabled: `up` of the rest does not touch it."""
    return dataclasses.replace(
        project, services={k: v for k, v in project.services.items() if k != name},
        disabled_services={**project.disabled_services, name: project.services[name]})


def dependencies_plan(project, name: str, observed, deps: list[str], image_ids: dict[str, str], *,
                      remove_orphans: bool = False):
    """The resources of ``name``, `up` of ``deps``, then a wait step per depends_on condition
    of ``name`` (the executor's wait: `required: false`, progress events, as `up` has them)."""
    from ketch.compose.plan import Plan, UpOptions, plan_up
    plan = Plan(resources(project, name, observed))
    if not deps:
        return plan
    up = plan_up(_without(project, name), observed, UpOptions(services=tuple(deps), remove_orphans=remove_orphans,
                                                               image_ids=image_ids))
    steps = plan.steps + up.steps
    return Plan(tuple(dict.fromkeys(steps + _waits(project, name, steps))), up.warnings)


def _waits(project, name: str, steps) -> tuple:
    from ketch.compose.plan import Step
    waits = []
    for dep, spec in project.services[name].depends_on.items():
        dep_service = project.services.get(dep)
        if dep_service is None or spec.condition == "service_started" or dep_service.replicas == 0:
            continue
        after = tuple(s.id for s in steps if s.service == dep)
        waits.append(Step("wait", "Service", dep, detail=spec.condition, dependant=name,
                          required=spec.required, after=after))
    return tuple(waits)


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
