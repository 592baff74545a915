"""A build as asked for and what it reports: the values between ``POST /build`` and the
builder.

    api/routes/build.py ── BuildRequest + context dir ──▶ build.builder.build(...)
                        ◀── Progress events (emit) ───── (one per line of Docker's stream)
                        ◀── BuildResult ─────────────────

The route turns each event into the classic builder's JSON stream, as moby's
``builder/dockerfile`` writes it::

    StepStart     {"stream": "Step 2/5 : RUN make\\n"}
    StepCached    {"stream": " ---> Using cache\\n"}
    StepRunning   {"stream": " ---> Running in 3f2a...\\n"}
    StepOutput    {"stream": "<the command's output>"}
    StepDone      {"stream": " ---> 9c1b...\\n"}  (then "Removing intermediate container ...")
    Message       {"stream": "<text>"}  (warnings, ONBUILD "# Executing 1 build trigger")
    PullProgress  {"status": "Pulling from library/busybox", "id": "latest"}  (as the pull wrote it)
    the end       {"aux": {"ID": "sha256:..."}}, "Successfully built ...", "Successfully tagged ..."
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BuildRequest:
    dockerfile: str = "Dockerfile"  # a path inside the context (or the context's own name for "-")
    dockerfile_text: str | None = None  # set when the Dockerfile came from outside the context
    tags: tuple[str, ...] = ()
    build_args: dict[str, str | None] = field(default_factory=dict)  # None: take from the env
    target: str = ""
    no_cache: bool = False
    no_cache_filter: tuple[str, ...] = ()  # stage names whose steps are never taken from the cache
    pull: bool = False
    quiet: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"
    platform: str = ""
    extra_hosts: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    rm: bool = True
    force_rm: bool = False
    secrets: dict[str, bytes] = field(default_factory=dict)
    shm_size: int = 0
    cgroup_parent: str = ""
    source_date_epoch: int | None = None  # reproducible: clamp times, fixed created
    # BuildKit's entitlements the user granted (``--allow network.host``): what a RUN may
    # ask for beyond the sandbox (``RUN --network=host``)
    allow: tuple[str, ...] = ()
    squash: bool = False
    # the RUN containers' limits as HostConfig names them ("Memory", "CpuShares", "Ulimits"...:
    # POST /build's memory, memswap, cpushares, cpuperiod, cpuquota, cpusetcpus/mems, ulimits)
    resources: dict = field(default_factory=dict)
    # X-Registry-Config: {registry: AuthConfig document} for pulling FROM images
    registry_auth: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StepStart:
    index: int  # 1-based, counted over the steps that run (moby's "Step i/n")
    total: int
    text: str  # "RUN make" as written, words unexpanded
    stage: str = ""


@dataclass(frozen=True)
class StepCached:
    index: int


@dataclass(frozen=True)
class StepRunning:
    index: int
    container_id: str


@dataclass(frozen=True)
class StepOutput:
    index: int
    data: bytes


@dataclass(frozen=True)
class StepDone:
    index: int
    image_id: str
    removed_container: str = ""  # "Removing intermediate container <short id>"


@dataclass(frozen=True)
class Message:
    text: str  # a line for the stream, with its newline


@dataclass(frozen=True)
class StageDone:
    """A stage's last step is done: moby's emitImageID, ``{"aux": {"ID": image_id}}`` (one
    per stage; the route adds none for the final image when this came for it)."""
    image_id: str


@dataclass(frozen=True)
class PullProgress:
    """A base image being pulled: one JSON progress message of the pull, passed through
    to the stream as is (moby writes them between "Step 1/n : FROM x" and " ---> id")."""
    message: dict


Progress = (StepStart | StepCached | StepRunning | StepOutput | StepDone | Message | StageDone
            | PullProgress)


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheRecord:
    """One build-cache entry as ``GET /system/df`` shows it (the API's ``BuildCache``) and
    ``POST /build/prune`` counts it: here an intermediate image recorded under a step key."""
    id: str
    parents: tuple[str, ...]
    type: str  # "regular" (a step's layer), "exec.cachemount" (RUN --mount=type=cache)
    description: str  # "mount / from exec /bin/sh -c make", as buildkit words it
    in_use: bool
    shared: bool
    size: int
    created_at: str  # RFC 3339
    last_used_at: str | None
    usage_count: int
