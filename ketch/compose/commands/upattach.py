"""Attached `up`: create everything, attach to the containers (``Attaching to web-1, db-1``),
start them, print their output with ``web-1  | `` prefixes until they have all exited;
Ctrl-C stops them (twice: kills them), ``--abort-on-container-exit`` stops them all when
one exits, ``--exit-code-from`` returns that service's exit code (compose's up.go and
printer.go)."""

from __future__ import annotations

import queue
import signal
import threading

from ketch.compose.commands.lifecycle_util import progress, run_plan
from ketch.compose.executor import Executor
from ketch.compose.observe import observe
from ketch.compose.plan import Plan, selected_services
from ketch.compose.plan_ops import plan_each, plan_stop

def attached_services(ctx, opts, project, upopts) -> list[str]:
    from ketch.compose import graph
    from ketch.compose.errors import ComposeError
    if opts["attach"]:
        unexpected = sorted(set(opts["attach"]) - set(project.services))
        if unexpected:
            raise ComposeError(f"cannot attach to services not included in up: {', '.join(unexpected)}")
        chosen = list(opts["attach"])
    else:
        named = list(upopts.services) or list(project.services)
        if opts["attach-dependencies"]:
            named = graph.with_dependencies(project, named)
        chosen = [n for n in named if project.services[n].attach is not False]
    return [n for n in chosen if n not in opts["no-attach"]]


def run_attached(ctx, opts, project, upopts, plan: Plan, execopts, observed, *, cascade: str | None) -> int:
    from ketch.compose import logprinter
    create_phase, start_phase = plan.phases()
    prog = progress(ctx)
    executor = Executor(ctx, prog, execopts, observed)
    try:
        executor.run(create_phase)
    finally:
        prog.done()
    if ctx.options["dry-run"]:
        ctx.out.write("end of 'compose up' output, interactive run is not supported in dry-run mode\n")
        return 0

    services = attached_services(ctx, opts, project, upopts)
    names = sorted(n for s in services for n in executor.services.get(s, ()))
    printer = logprinter.LogPrinter(ctx.out, color=not opts["no-color"] and _tty(ctx.out),
                                    prefix=not opts["no-log-prefix"], timestamps=opts["timestamps"], err=ctx.err)
    targets = [logprinter.LogTarget(executor.ids[n], _short(project.name, n)) for n in names]
    ctx.out.write(f"Attaching to {', '.join(t.name for t in targets)}\n")
    ctx.out.flush()
    watch = logprinter.watch(ctx, printer, targets, source="attach")
    watch.opened(timeout=30)  # attached before anything starts, as compose: no first line lost
    exits: queue.Queue = queue.Queue()
    client = ctx.client()
    # asked before anything starts, so no exit is missed; each on its own connection
    for t in targets:
        resp = client.wait_request(t.id, "next-exit")
        threading.Thread(target=_exit_of, args=(t, resp, exits), daemon=True).start()

    # compose stops (or kills) the services up was asked for, not the whole project
    scope = selected_services(project, list(upopts.services), upopts.no_deps)
    code = 0
    previous = signal.signal(signal.SIGTERM, _interrupt)  # compose stops on SIGTERM as on Ctrl-C
    try:
        prog = progress(ctx)
        try:
            executor.run(start_phase)
        finally:
            prog.done()
        service_of = {executor.ids[n]: s for s in services for n in executor.services.get(s, ())}
        code = _follow(ctx, project, scope, printer, targets, service_of, exits, cascade, opts["exit-code-from"],
                       execopts)
    except KeyboardInterrupt:
        ctx.err.write("Gracefully stopping... (press Ctrl+C again to force)\n")
        ctx.err.flush()
        try:
            _stop_all(ctx, project, scope, execopts)
        except KeyboardInterrupt:
            observed_now = observe(ctx.client(), project.name, resources=False)
            run_plan(ctx, plan_each("kill", [c for c in observed_now.containers
                                             if c.running and not c.oneoff and c.service in scope]),
                     execopts, observed_now, title="Killing")
        code = 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        watch.stop()
        watch.wait(timeout=5)
        client.close()
    return code


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _short(project: str, name: str) -> str:
    return name[len(project) + 1:] if name.startswith(project + "-") else name


def _tty(out) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def _exit_of(t, resp, exits: queue.Queue) -> None:
    try:
        doc = resp.json() or {}
        exits.put((t, int(doc.get("StatusCode", 0))))
    except Exception:  # noqa: BLE001 - the daemon went away: count it as an exit
        exits.put((t, -1))
    finally:
        resp.conn.close()


def _follow(ctx, project, scope, printer, targets, service_of, exits: queue.Queue, cascade, exit_code_from, execopts) -> int:
    """Until every attached container has exited; returns up's exit code."""
    left = {t.id for t in targets}
    code, aborting = 0, False
    while left:
        t, status = _next_exit(exits)
        left.discard(t.id)
        if not aborting:
            printer.status(t.name, f"exited with code {status}")
        if cascade == "stop" and not exit_code_from:
            exit_code_from = service_of[t.id]
        if cascade == "fail" and status != 0:
            exit_code_from = service_of[t.id]
        if exit_code_from == service_of[t.id]:
            code = status
        if not aborting and (cascade == "stop" or (cascade == "fail" and status != 0)):
            aborting = True
            ctx.err.write("Aborting on container exit...\n")
            ctx.err.flush()
            _stop_all(ctx, project, scope, execopts)
            break
    return code


def _next_exit(exits: queue.Queue):
    # a timeout keeps the main thread responsive to Ctrl-C
    while True:
        try:
            return exits.get(timeout=0.2)
        except queue.Empty:
            continue


def _stop_all(ctx, project, services, execopts) -> None:
    observed = observe(ctx.client(), project.name, resources=False)
    run_plan(ctx, plan_stop(observed, project, services), execopts, observed, title="Stopping")

