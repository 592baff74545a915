"""depends_on conditions, and `up --wait`: looking at containers until they are healthy,
running, or exited, with Compose v2's events and errors (convergence.go waitDependencies,
isServiceHealthy, isServiceCompleted).
"""

from __future__ import annotations

from ketch.client.http import HTTPError
from ketch.compose.errors import ComposeError

POLL = 0.25  # seconds between two looks


class NotYet(Exception):
    pass


def health(client, cid: str, *, fallback_running: bool) -> bool:
    """True when healthy (or running, without a healthcheck, with ``fallback_running``);
    False while starting; ComposeError when it cannot become healthy."""
    info = client.inspect_container(cid)
    name = (info.get("Name") or "").lstrip("/")
    state = info.get("State") or {}
    if state.get("Status") == "exited":
        raise ComposeError(f"container {name} exited ({state.get('ExitCode', 0)})")
    has_check = bool((info.get("Config") or {}).get("Healthcheck"))
    if not has_check and fallback_running:
        return state.get("Status") == "running"
    status = (state.get("Health") or {}).get("Status")
    if not status:
        raise ComposeError(f"container {name} has no healthcheck configured")
    if status == "healthy":
        return True
    if status == "unhealthy":
        raise ComposeError(f"container {name} is unhealthy")
    if status == "starting":
        return False
    raise ComposeError(f'container {name} had unexpected health status "{status}"')


def exited(client, cid: str) -> int | None:
    """The exit code once the container has exited, else None."""
    state = client.inspect_container(cid).get("State") or {}
    return state.get("ExitCode", 0) if state.get("Status") == "exited" else None


def wait_condition(executor, step) -> None:
    """A wait step: the containers of service ``step.name`` meet ``step.detail``."""
    dep, condition = step.name, step.detail
    found = executor.containers_of(dep)
    names = [n for n, _ in found]
    progress = executor.progress
    if not names:
        if step.required:
            raise ComposeError(f"{step.dependant} is missing dependency {dep}")
        progress.message(f"WARN[0000] {step.dependant} is missing dependency {dep}")
        return
    ids = [i for _, i in found]
    client = executor.client()

    def events(status, level=None):
        for n in names:
            progress.event("Container", n, status, level=level)

    events("Waiting")
    while True:
        if condition == "service_completed_successfully":
            for cid in ids:
                code = exited(client, cid)
                if code is None:
                    continue
                if code == 0:
                    return events("Exited")
                msg = f'"{dep}" didn\'t complete successfully: exit {code}'
                if not step.required:
                    return events(f"Skipped: optional dependency {msg}", level="warning")
                events(f"service {msg}", level="error")
                raise ComposeError(f"service {msg}")
        elif condition in ("service_healthy", "running_or_healthy"):
            try:
                ok = all(health(client, cid, fallback_running=condition != "service_healthy") for cid in ids)
            except (ComposeError, HTTPError) as exc:
                if not step.required:
                    return events(f'Skipped: optional dependency "{dep}" failed to start', level="warning")
                events("Error")
                raise ComposeError(f"dependency failed to start: {exc}") from None
            if ok:
                return events("Healthy")
        else:
            progress.message(f"WARN[0000] unsupported depends_on condition: {condition}")
            return
        if executor.cancel.wait(POLL):
            return
