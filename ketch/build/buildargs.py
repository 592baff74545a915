"""Build arguments: ``--build-arg`` values, the ARGs that let them in, and what was used.

moby's ``builder/dockerfile/buildargs.go``. An ARG makes a name *allowed* in its stage
(its value: the ``--build-arg`` given, else its default, else the meta ARG's value); a
name given with ``--build-arg`` that no ARG ever declared is reported at the end
("[Warning] One or more build-args [X] were not consumed"). The proxy variables are
allowed without an ARG and, unless an ARG declares them, kept out of RUN's history.

Meta ARGs (before the first FROM) are visible to FROM lines; inside a stage only
after the stage re-declares them (``ARG NAME`` without a value takes the meta value).
BuildKit's automatic platform ARGs (``TARGETPLATFORM``, ``BUILDARCH``...) are meta ARGs
here too, so Dockerfiles written for BuildKit (``FROM --platform=$BUILDPLATFORM``,
``ARG TARGETARCH``) build unchanged; dockerd 20.10's classic builder leaves them empty.
"""

from ketch.oci import platform as platforms

BUILTIN = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
           "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy")
# consumed by the build itself (reproducible images, as BuildKit), so never "not consumed"
CONSUMED_BY_THE_BUILD = ("SOURCE_DATE_EPOCH",)


def platform_args(target: str) -> dict[str, str]:
    """BuildKit's automatic ARGs for a build on this host for ``target`` ("" : the host)."""
    build = platforms.Platform("linux", platforms.host_arch())
    wanted = platforms.parse(target) if target else build
    out = {}
    for prefix, p in (("TARGET", wanted), ("BUILD", build)):
        out[prefix + "PLATFORM"] = str(p)
        out[prefix + "OS"] = p.os
        out[prefix + "ARCH"] = p.architecture
        out[prefix + "VARIANT"] = p.variant
    return out


class BuildArgs:
    def __init__(self, from_options: dict[str, str | None]):
        self.from_options = dict(from_options)
        self.allowed: dict[str, str | None] = {}
        self.meta: dict[str, str | None] = {}
        self.referenced: set[str] = set()
        self.automatic: set[str] = set()  # the platform ARGs: meta, never "not consumed"

    def add_automatic(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self.meta.setdefault(key, value)
            self.automatic.add(key)

    def clone(self) -> "BuildArgs":
        out = BuildArgs(self.from_options)
        out.allowed = dict(self.allowed)
        out.meta = dict(self.meta)
        out.referenced = set(self.referenced)
        out.automatic = self.automatic
        return out

    def for_stage(self) -> "BuildArgs":
        """newDispatchState: a stage starts with the meta ARGs known but none allowed."""
        out = self.clone()
        out.allowed = {}
        return out

    def merge_referenced(self, other: "BuildArgs") -> None:
        self.referenced |= other.referenced

    def add_meta(self, key: str, value: str | None) -> None:
        self.meta[key] = value

    def add(self, key: str, value: str | None) -> None:
        self.allowed[key] = value
        self.referenced.add(key)

    def unused(self) -> list[str]:
        """The --build-arg names no ARG consumed (moby's map order is random; here sorted)."""
        return sorted(k for k in self.from_options if k not in self.referenced
                      and k not in BUILTIN and k not in CONSUMED_BY_THE_BUILD
                      and k not in self.automatic)

    def referenced_or_not_builtin(self, key: str) -> bool:
        return key in self.allowed or key not in BUILTIN

    def all_allowed(self) -> dict[str, str]:
        return self._resolve(self.allowed)

    def all_meta(self) -> dict[str, str]:
        return self._resolve(self.meta)

    def filter_allowed(self, env) -> list[str]:
        """FilterAllowed: ``KEY=value`` of each allowed arg that the Env does not set."""
        keys = {item.partition("=")[0] for item in env or ()}
        return [f"{k}={v}" for k, v in self.all_allowed().items() if k not in keys]

    def _resolve(self, source: dict[str, str | None]) -> dict[str, str]:
        out = {}
        for key in [*source, *(k for k in BUILTIN if k not in source)]:
            found = self._value(key, source)
            if found is not None:
                out[key] = found
        return out

    def _value(self, key: str, source: dict[str, str | None]) -> str | None:
        exists = key in source
        given = self.from_options.get(key)
        if given is not None:
            return given
        default = source.get(key)
        if default is None:
            meta = self.meta.get(key)
            return meta if meta is not None else None
        return default if exists else None
