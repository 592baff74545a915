"""`up --wait` (the services running or healthy, else an error after --wait-timeout) and
`wait` (block until the services' containers exit), as compose's start.go and wait.go."""

from __future__ import annotations

import threading

from ketch.compose.commands.lifecycle_util import progress, run_plan
from ketch.compose.containers import project_or_name
from ketch.compose.errors import ComposeError
from ketch.compose.executor import Executor
from ketch.compose.observe import observe
from ketch.compose.plan import Builder, Step, replicas, selected_services


def go_duration(seconds: int) -> str:
    """Go's time.Duration String of whole seconds: 30s, 1m0s, 1h0m5s."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m}m{s}s" if h else f"{m}m{s}s" if m else f"{s}s"


def wait_healthy(ctx, project, upopts, execopts, timeout: int) -> int:
    """Each selected service with containers: running (healthy when it has a healthcheck),
    or exited 0 when another depends on it completing."""
    b = Builder()
    for name in selected_services(project, list(upopts.services), upopts.no_deps):
        if replicas(project.services[name], upopts) == 0:
            continue
        completes = any(spec.condition == "service_completed_successfully" and dep == name
                        for svc in project.services.values() for dep, spec in svc.depends_on.items())
        b.add(Step("wait", "Service", name, dependant=project.name,
                   detail="service_completed_successfully" if completes else "running_or_healthy"))
    observed = observe(ctx.client(), project.name, resources=False)
    prog = progress(ctx)
    executor = Executor(ctx, prog, execopts, observed)
    expired = threading.Event()

    def on_timeout():
        expired.set()
        executor.cancel.set()  # the waits return; the error is ours

    timer = threading.Timer(timeout, on_timeout) if timeout > 0 else None
    if timer:
        timer.start()
    try:
        executor.run(b.plan())
    finally:
        if timer:
            timer.cancel()
        prog.done()
    if expired.is_set():
        raise ComposeError(f"application not healthy after {go_duration(timeout)}")
    return 0


def wait_exit(ctx, services: list[str], *, down_project: bool) -> int:
    """Print each container's exit, return the last status code."""
    project, name = project_or_name(ctx)
    client = ctx.client()
    items = [c for c in observe(client, name, resources=False).containers
             if c.state in ("running", "restarting", "paused") and (not services or c.service in services)]
    if not items:
        raise ComposeError(f'no containers for project "{name}"')
    waits = [(c, client.wait_request(c.id)) for c in items]  # each on its own connection
    code, lock, errors = 0, threading.Lock(), []

    def follow(c, resp):
        nonlocal code
        try:
            doc = resp.json() or {}
            status = int(doc.get("StatusCode", 0))
            with lock:
                ctx.out.write(f'container "{c.id}" exited with status code {status}\n')
                ctx.out.flush()
                code = status
        except Exception as exc:  # noqa: BLE001 - reported after the others end
            errors.append(exc)
        finally:
            resp.conn.close()

    threads = [threading.Thread(target=follow, args=w, daemon=True) for w in waits]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    if down_project:
        from ketch.compose.executor import ExecOptions
        from ketch.compose.plan_ops import plan_down
        observed = observe(client, name)
        run_plan(ctx, plan_down(observed, project, remove_orphans=True), ExecOptions(project=project), observed)
    return code
