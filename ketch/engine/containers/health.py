"""A container's health: its healthcheck's config, the probes' results, and the status
they add up to (moby's ``daemon/health.go`` and ``container/health.go``), as pure values.

The probes themselves run in ``engine/health.py``; this module only decides. ``Health``
is not a lifecycle state: it rides beside ``ContainerState`` on the record, is shown in
``State.Health`` and in ``ps``'s status, and its changes are published as
``health_status: <status>`` events through the state machine's ``log``.

Timing follows moby (master, which ``--health-start-interval`` documents): the first probe
runs one interval after the start; during the start period probes run every start
interval while the status is ``starting``, failures there do not count, and when the
start period ends before the next interval the probe runs at its end.
"""

from dataclasses import dataclass

from ketch import errors, units

STARTING, HEALTHY, UNHEALTHY, NONE = "starting", "healthy", "unhealthy", "none"

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_START_INTERVAL = 5 * SECOND
DEFAULT_RETRIES = 3
MINIMUM_DURATION = 1_000_000  # moby's container.MinimumDuration (1ms)
MAX_OUTPUT = 4096  # bytes of a probe's output kept
MAX_LOG = 5  # results kept


@dataclass(frozen=True)
class HealthConfig:
    """A healthcheck that runs: ``Config.Healthcheck`` with a CMD or CMD-SHELL test."""

    test: tuple[str, ...]
    interval: int = 0  # nanoseconds; 0 takes the default
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    @classmethod
    def from_docker(cls, doc: dict | None) -> "HealthConfig | None":
        """None when nothing is to run: no healthcheck, Test [] (nothing to inherit any
        more), ["NONE"], or a type moby does not know (it logs and runs nothing)."""
        if not doc or not doc.get("Test") or doc["Test"][0] not in ("CMD", "CMD-SHELL"):
            return None
        return cls(tuple(doc["Test"]), int(doc.get("Interval") or 0), int(doc.get("Timeout") or 0),
                   int(doc.get("StartPeriod") or 0), int(doc.get("StartInterval") or 0),
                   int(doc.get("Retries") or 0))

    @property
    def probe_interval(self) -> int:
        return self.interval or DEFAULT_INTERVAL

    @property
    def probe_timeout(self) -> int:
        return self.timeout or DEFAULT_TIMEOUT

    @property
    def probe_retries(self) -> int:
        return self.retries if self.retries > 0 else DEFAULT_RETRIES

    def command(self, shell: list[str] | None) -> list[str]:
        """The probe's argv: CMD's words, or CMD-SHELL's line under the container's shell."""
        words = list(self.test[1:])
        if self.test[0] == "CMD-SHELL" and words:
            return list(shell or ["/bin/sh", "-c"]) + words
        return words

    def next_delay(self, status: str, elapsed: int) -> int:
        """Nanoseconds until the next probe, ``elapsed`` after the container started."""
        interval = self.probe_interval
        start_period = self.start_period or DEFAULT_START_PERIOD
        if elapsed >= start_period:
            return interval
        remaining = start_period - elapsed
        if remaining < interval:
            return remaining
        return (self.start_interval or DEFAULT_START_INTERVAL) if status == STARTING else interval


def validate(doc: dict | None) -> None:
    """moby's validateHealthCheck, on the create's own Config.Healthcheck."""
    if not doc:
        return
    floor = units.format_duration(MINIMUM_DURATION)
    for key in ("Interval", "Timeout"):
        if 0 != int(doc.get(key) or 0) < MINIMUM_DURATION:
            raise errors.InvalidArgument(f"{key} in Healthcheck cannot be less than {floor}")
    if int(doc.get("Retries") or 0) < 0:
        raise errors.InvalidArgument("Retries in Healthcheck cannot be negative")
    for key in ("StartPeriod", "StartInterval"):
        if 0 != int(doc.get(key) or 0) < MINIMUM_DURATION:
            raise errors.InvalidArgument(f"{key} in Healthcheck cannot be less than {floor}")


def merge(user: dict | None, image: dict | None) -> dict | None:
    """moby's merge of Healthcheck: the image's fills what the user left zero."""
    if not image:
        return user
    if user is None:
        return dict(image)
    out = dict(user)
    if not out.get("Test"):
        out["Test"] = image.get("Test")
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
        if not out.get(key) and image.get(key):
            out[key] = image[key]
    return out


@dataclass(frozen=True)
class Result:
    """One probe (Docker's HealthcheckResult); times as RFC 3339 with nanoseconds."""

    start: str
    end: str
    exit_code: int
    output: str

    def to_docker(self) -> dict:
        return {"Start": self.start, "End": self.end, "ExitCode": self.exit_code,
                "Output": self.output}

    @classmethod
    def from_docker(cls, doc: dict) -> "Result":
        return cls(str(doc.get("Start") or ""), str(doc.get("End") or ""),
                   int(doc.get("ExitCode") or 0), str(doc.get("Output") or ""))


def output_text(data: bytes, truncated: bool) -> str:
    """moby's limitedBuffer.String: what was kept, "..." when more was lost; invalid
    UTF-8 becomes U+FFFD, as Go's JSON encoder writes it."""
    return data[:MAX_OUTPUT].decode("utf-8", "replace") + ("..." if truncated else "")


def timeout_output(timeout: int, output: str) -> str:
    text = f"Health check exceeded timeout ({units.format_duration(timeout)})"
    return f"{text}: {output}" if output else text


@dataclass(frozen=True)
class Health:
    """``State.Health``: the status, the current streak of counted failures, the last results."""

    status: str = STARTING
    failing_streak: int = 0
    log: tuple[Result, ...] = ()

    def to_docker(self) -> dict:
        return {"Status": self.status, "FailingStreak": self.failing_streak,
                "Log": [r.to_docker() for r in self.log]}

    @classmethod
    def from_docker(cls, doc: dict | None) -> "Health | None":
        if not doc:
            return None
        return cls(str(doc.get("Status") or UNHEALTHY), int(doc.get("FailingStreak") or 0),
                   tuple(Result.from_docker(r) for r in (doc.get("Log") or ())))

    def restarted(self) -> "Health":
        """initHealthMonitor: a (re)started container starts over, its log kept."""
        return Health(STARTING, 0, self.log)

    def stopped(self) -> "Health":
        """CloseMonitorChannel: no monitor runs, so no longer healthy (moby's compatibility)."""
        return Health(UNHEALTHY, self.failing_streak, self.log)

    def recorded(self, result: Result, cfg: HealthConfig, in_start_period: bool) -> "Health":
        """handleProbeResult: exit 0 is healthy; anything else fails, and counts unless the
        container is still starting within its start period; ``retries`` counted failures
        in a row make it unhealthy."""
        log = (self.log + (result,))[-MAX_LOG:]
        if result.exit_code == 0:
            return Health(HEALTHY, 0, log)
        if self.status == STARTING and in_start_period:
            return Health(self.status, self.failing_streak, log)
        streak = self.failing_streak + 1
        return Health(UNHEALTHY if streak >= cfg.probe_retries else self.status, streak, log)
