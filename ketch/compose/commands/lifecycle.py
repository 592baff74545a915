"""up, down, create, start, stop, restart, rm, kill, pause, unpause, scale, wait.

Each command observes the project on the engine, computes a plan (``plan``/``plan_ops``)
and runs it (``executor``), printing Compose v2's progress lines on stderr. Flags, their
help and their errors are compose 2.29's (cmd/compose/*.go).
"""

from __future__ import annotations

import sys

from ketch.cli.flags import Command, FlagSpec
from ketch.compose.commands.lifecycle_util import (ensure_images, exec_options, parse, progress, run_plan,
                                                   split_scale, up_prepare, warn)
from ketch.compose.containers import project_or_name
from ketch.compose.errors import ComposeError
from ketch.compose.observe import observe
from ketch.compose.plan import UpOptions, plan_up, selected_services
from ketch.compose.plan_ops import plan_down, plan_each, plan_restart, plan_start, plan_stop

F = FlagSpec
RUNNING = ("running", "restarting", "paused")
STOPPED = ("created", "exited", "dead")
TIMEOUT = F("timeout", "t", "int", 0, help="Specify a shutdown timeout in seconds")
CREATE_FLAGS = (
    F("build", None, "bool", help="Build images before starting containers"),
    F("no-build", None, "bool", help="Don't build an image, even if it's policy"),
    F("pull", None, "string", "policy", help='Pull image before running ("always"|"missing"|"never")'),
    F("quiet-pull", None, "bool", help="Pull without printing progress information"),
    F("force-recreate", None, "bool", help="Recreate containers even if their configuration and image haven't changed"),
    F("no-recreate", None, "bool", help="If containers already exist, don't recreate them. Incompatible with --force-recreate."),
    F("remove-orphans", None, "bool", help="Remove containers for services not defined in the Compose file"),
    F("scale", None, "list", help="Scale SERVICE to NUM instances. Overrides the `scale` setting in the Compose file if present."),
)
UP = Command("compose up", "ketch compose up [OPTIONS] [SERVICE...]", "Create and start containers", CREATE_FLAGS + (
    F("detach", "d", "bool", help="Detached mode: Run containers in the background"),
    F("no-color", None, "bool", help="Produce monochrome output"),
    F("no-log-prefix", None, "bool", help="Don't print prefix in logs"),
    F("no-start", None, "bool", help="Don't start the services after creating them"),
    F("abort-on-container-exit", None, "bool", help="Stops all containers if any container was stopped. Incompatible with -d"),
    F("abort-on-container-failure", None, "bool", help="Stops all containers if any container exited with failure. Incompatible with -d"),
    F("exit-code-from", None, "string", help="Return the exit code of the selected service container. Implies --abort-on-container-exit"),
    F("timeout", "t", "int", 0, help="Use this timeout in seconds for container shutdown when attached or when containers are already running"),
    F("timestamps", None, "bool", help="Show timestamps"),
    F("no-deps", None, "bool", help="Don't start linked services"),
    F("always-recreate-deps", None, "bool", help="Recreate dependent containers. Incompatible with --no-recreate."),
    F("renew-anon-volumes", "V", "bool", help="Recreate anonymous volumes instead of retrieving data from the previous containers"),
    F("attach", None, "list", help="Restrict attaching to the specified services. Incompatible with --attach-dependencies."),
    F("no-attach", None, "list", help="Do not attach (stream logs) to the specified services"),
    F("attach-dependencies", None, "bool", help="Automatically attach to log output of dependent services"),
    F("wait", None, "bool", help="Wait for services to be running|healthy. Implies detached mode."),
    F("wait-timeout", None, "int", 0, help="Maximum duration to wait for the project to be running|healthy"),
    F("watch", "w", "bool", help="Watch source code and rebuild/refresh containers when files are updated."),
    F("menu", None, "bool", help="Enable interactive shortcuts when running attached. Incompatible with --detach."),
))
CREATE = Command("compose create", "ketch compose create [OPTIONS] [SERVICE...]", "Creates containers for a service",
                 CREATE_FLAGS)
DOWN = Command("compose down", "ketch compose down [OPTIONS] [SERVICES]", "Stop and remove containers, networks", (
    F("remove-orphans", None, "bool", help="Remove containers for services not defined in the Compose file"),
    TIMEOUT,
    F("volumes", "v", "bool", help='Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers'),
    F("rmi", None, "string", help='Remove images used by services. "local" remove only images that don\'t have a custom tag ("local"|"all")'),
))
START = Command("compose start", "ketch compose start [SERVICE...]", "Start services")
STOP = Command("compose stop", "ketch compose stop [OPTIONS] [SERVICE...]", "Stop services", (TIMEOUT,))
RESTART = Command("compose restart", "ketch compose restart [OPTIONS] [SERVICE...]", "Restart service containers", (
    TIMEOUT, F("no-deps", None, "bool", help="Don't restart dependent services")))
RM = Command("compose rm", "ketch compose rm [OPTIONS] [SERVICE...]", "Removes stopped service containers", (
    F("force", "f", "bool", help="Don't ask to confirm removal"),
    F("stop", "s", "bool", help="Stop the containers, if required, before removing"),
    F("volumes", "v", "bool", help="Remove any anonymous volumes attached to containers"),
    F("all", "a", "bool", hidden=True, help="Deprecated - no effect"),
))
KILL = Command("compose kill", "ketch compose kill [OPTIONS] [SERVICE...]", "Force stop service containers", (
    F("remove-orphans", None, "bool", help="Remove containers for services not defined in the Compose file"),
    F("signal", "s", "string", "SIGKILL", help="SIGNAL to send to the container"),
))
PAUSE = Command("compose pause", "ketch compose pause [SERVICE...]", "Pause services")
UNPAUSE = Command("compose unpause", "ketch compose unpause [SERVICE...]", "Unpause services")
SCALE = Command("compose scale", "ketch compose scale [SERVICE=REPLICAS...]", "Scale services ", (
    F("no-deps", None, "bool", help="Don't start linked services"),))
WAIT = Command("compose wait", "ketch compose wait SERVICE [SERVICE...] [OPTIONS]",
               "Block until containers of all (or specified) services stop.", (
                   F("down-project", None, "bool", help="Drops project when the first container stops"),),
               min_args=1, args_error="requires at least 1 arg(s), only received 0")


def up(ctx, args: list[str], path: str) -> int:
    opts, services = parse(UP, args, path)
    if opts is None:
        return 0
    if opts["watch"]:
        raise ComposeError("--watch is not supported by ketch compose")
    cascade_stop = opts["abort-on-container-exit"] or (opts["exit-code-from"] and not opts["abort-on-container-failure"])
    if cascade_stop and opts["abort-on-container-failure"]:
        raise ComposeError("--abort-on-container-failure cannot be combined with --abort-on-container-exit")
    detach = opts["detach"]
    if opts["wait"]:
        if opts["attach-dependencies"] or cascade_stop or opts["attach"]:
            raise ComposeError("--wait cannot be combined with --abort-on-container-exit, --attach or --attach-dependencies")
        detach = True
    if detach and (opts["attach-dependencies"] or cascade_stop or opts["abort-on-container-failure"] or opts["attach"]):
        raise ComposeError("--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, "
                           "--attach, --attach-dependencies or --watch")
    if opts["renew-anon-volumes"] and opts["no-recreate"]:
        raise ComposeError("--no-recreate and --renew-anon-volumes are incompatible")
    if opts["always-recreate-deps"] and opts["no-recreate"]:
        raise ComposeError("--always-recreate-deps and --no-recreate are incompatible")
    project, upopts, images = up_prepare(ctx, opts, services, start=not opts["no-start"])
    if opts["exit-code-from"] and opts["exit-code-from"] not in project.services:
        raise ComposeError(f"no such service: {opts['exit-code-from']}")
    client = ctx.client()
    observed = observe(client, project.name)
    plan = plan_up(project, observed, upopts)
    for text in plan.warnings:
        warn(ctx, text)
    execopts = exec_options(ctx, opts, project, images, upopts.image_ids)
    if detach or opts["no-start"]:
        run_plan(ctx, plan, execopts, observed, title="Running", phased=True)
        if opts["wait"]:
            from ketch.compose.commands.updetach import wait_healthy
            return wait_healthy(ctx, project, upopts, execopts, opts["wait-timeout"])
        return 0
    from ketch.compose.commands.upattach import run_attached
    return run_attached(ctx, opts, project, upopts, plan, execopts, observed,
                        cascade="stop" if cascade_stop else "fail" if opts["abort-on-container-failure"] else None)


def create(ctx, args: list[str], path: str) -> int:
    opts, services = parse(CREATE, args, path)
    if opts is None:
        return 0
    project, upopts, images = up_prepare(ctx, opts, services, start=False)
    observed = observe(ctx.client(), project.name)
    plan = plan_up(project, observed, upopts)
    for text in plan.warnings:
        warn(ctx, text)
    run_plan(ctx, plan, exec_options(ctx, opts, project, images, upopts.image_ids), observed, title="Creating")
    return 0


def down(ctx, args: list[str], path: str) -> int:
    opts, services = parse(DOWN, args, path)
    if opts is None:
        return 0
    if opts["rmi"] and opts["rmi"] not in ("all", "local"):
        raise ComposeError(f'invalid value for --rmi: "{opts["rmi"]}"')
    project, name = project_or_name(ctx)
    observed = observe(ctx.client(), name)
    plan = plan_down(observed, project, services, remove_orphans=opts["remove-orphans"], volumes=opts["volumes"])
    prog = progress(ctx)
    if opts["rmi"] and project is not None:
        plan = plan.__class__(plan.steps, tuple(w for w in plan.warnings if not w.startswith("Warning: No resource")))
    for text in plan.warnings:
        warn(ctx, text)
    run_plan(ctx, plan, exec_options(ctx, opts, project), observed, prog=prog)
    if opts["rmi"] and project is not None:
        from ketch.compose import imageops
        imageops.remove_images(ctx, project, opts["rmi"], remove_orphans=opts["remove-orphans"], progress=prog)
    prog.done()
    return 0


def _existing(ctx, command, args, path, make_plan, title="Running", *, needs_file=False) -> int:
    """A command acting on the project's existing containers: parse, observe, plan, run.
    ``make_plan(opts, project, observed, services)``; a Plan, or None for nothing to do."""
    opts, services = parse(command, args, path)
    if opts is None:
        return 0
    if needs_file:
        project = ctx.project()
        name = project.name
    else:
        project, name = project_or_name(ctx)
    observed = observe(ctx.client(), name, resources=False)
    plan = make_plan(opts, project, observed, services)
    if plan is not None:
        run_plan(ctx, plan, exec_options(ctx, opts, project), observed, title=title)
    return 0


def start(ctx, args: list[str], path: str) -> int:
    return _existing(ctx, START, args, path, lambda o, p, obs, s: plan_start(p, obs, s), needs_file=True)


def stop(ctx, args: list[str], path: str) -> int:
    return _existing(ctx, STOP, args, path, lambda o, p, obs, s: plan_stop(obs, p, s), "Stopping")


def restart(ctx, args: list[str], path: str) -> int:
    return _existing(ctx, RESTART, args, path,
                     lambda o, p, obs, s: plan_restart(obs, p, s, no_deps=o["no-deps"]), "Restarting")


def rm(ctx, args: list[str], path: str) -> int:
    opts, services = parse(RM, args, path)
    if opts is None:
        return 0
    project, name = project_or_name(ctx)
    client = ctx.client()
    if opts["stop"]:
        observed = observe(client, name, resources=False)
        run_plan(ctx, plan_stop(observed, project, services), exec_options(ctx, opts, project), observed,
                 title="Stopping")
    observed = observe(client, name, resources=False)
    stopped = STOPPED + (RUNNING if opts["stop"] and ctx.options["dry-run"] else ())
    gone = _chosen(project, observed, services, stopped)
    if not gone:
        print("No stopped containers", file=ctx.err)
        return 0
    message = "Going to remove " + ", ".join(c.name for c in sorted(gone, key=lambda c: (c.service, c.number)))
    if opts["force"]:
        print(message, file=ctx.out, flush=True)  # before the progress lines on stderr
    elif not _confirm(ctx, message):
        return 0
    run_plan(ctx, plan_each("remove", gone, "v" if opts["volumes"] else ""), exec_options(ctx, opts, project),
             observed, title="Removing")
    return 0


def _confirm(ctx, message: str) -> bool:
    ctx.out.write(f"? {message} (y/N) ")
    ctx.out.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")


def _chosen(project, observed, services, states, *, oneoff=False):
    known = set(project.services) if project else None
    return [c for c in observed.containers if c.state in states and (oneoff or not c.oneoff)
            and (not services or c.service in services) and (known is None or c.service in known)]


def kill(ctx, args: list[str], path: str) -> int:
    def make(opts, project, observed, services):
        chosen = _chosen(None if opts["remove-orphans"] else project, observed, services, RUNNING, oneoff=True)
        if not chosen:
            ctx.err.write("no container to kill")
            return None
        return plan_each("kill", chosen, opts["signal"])
    return _existing(ctx, KILL, args, path, make, "Killing")


def pause(ctx, args: list[str], path: str) -> int:
    return _existing(ctx, PAUSE, args, path,
                     lambda o, p, obs, s: plan_each("pause", _chosen(p, obs, s, ("running",))), "Pausing")


def unpause(ctx, args: list[str], path: str) -> int:
    return _existing(ctx, UNPAUSE, args, path,
                     lambda o, p, obs, s: plan_each("unpause", _chosen(p, obs, s, ("paused",))))


def scale(ctx, args: list[str], path: str) -> int:
    opts, specs = parse(SCALE, args, path)
    if opts is None:
        return 0
    wanted = split_scale(specs)
    project = ctx.project()
    images, ids = ensure_images(ctx, project, selected_services(project, list(wanted), opts["no-deps"]), None)
    upopts = UpOptions(services=tuple(wanted), no_deps=opts["no-deps"], scale=wanted, image_ids=ids)
    observed = observe(ctx.client(), project.name)
    run_plan(ctx, plan_up(project, observed, upopts), exec_options(ctx, opts, project, images, ids), observed)
    return 0


def wait(ctx, args: list[str], path: str) -> int:
    opts, services = parse(WAIT, args, path)
    if opts is None:
        return 0
    from ketch.compose.commands.updetach import wait_exit
    return wait_exit(ctx, services, down_project=opts["down-project"])

