"""``POST /build``'s query and headers read into a ``BuildRequest``, as moby's
``newImageBuildOptions`` reads them (API 1.45, the classic builder).

Everything here is checked before the body is read or a byte is streamed, so a bad
option is an ordinary error response with moby's text: a JSON parameter Go could not
decode is ``error reading build args: <Go's json error>`` (400), a bad ``shmsize``
strconv's text, ``version=2`` refused since this daemon has no BuildKit.

ketch's own additions, which the ketch CLI sends: ``X-Ketch-Build-Secrets`` (the classic
protocol has no secrets: ``--secret`` values as base64 of a JSON object ``{id:
base64(data)}``), ``nocachefilter`` (repeated: stages never taken from the cache) and
``sourcedateepoch`` (reproducible layers; a ``SOURCE_DATE_EPOCH`` build arg, as BuildKit
reads it, does the same) and ``allow`` (repeated: BuildKit's entitlements, ``network.host``;
``networkmode=host`` grants it too, as dockerd's BuildKit does; ``security.insecure`` is
never granted, as dockerd's default configuration).
"""

import base64
import binascii
import json
from dataclasses import dataclass

from ketch import errors
from ketch.api.http import Request
from ketch.api.versions import at_least
from ketch.apitypes import gojson
from ketch.build.request import BuildRequest
from ketch.oci import platform as platforms
from ketch.oci import reference

SECRETS_HEADER = "x-ketch-build-secrets"

_BUILD_ARGS = gojson.Map(name="map[string]*string", elem=gojson.Ptr(name="*string"))
_LABELS = gojson.Map(name="map[string]string")
_CACHE_FROM = gojson.Slice(name="[]string")
_ULIMITS = gojson.Slice(name="[]*units.Ulimit", elem=gojson.Ptr(
    name="*units.Ulimit", elem=gojson.struct("units.Ulimit", "units.Ulimit",
                                             ("Name", gojson.String()), ("Hard", gojson.Int()),
                                             ("Soft", gojson.Int()))))
_OUTPUTS = gojson.Slice(name="[]types.ImageBuildOutput", elem=gojson.struct(
    "types.ImageBuildOutput", "types.ImageBuildOutput", ("Type", gojson.String()),
    ("Attrs", gojson.Map(name="map[string]string"))))
_ISOLATIONS = ("", "default", "process", "hyperv")  # moby's Isolation.IsValid (any case)


@dataclass(frozen=True)
class BuildOptions:
    """What the route needs besides the ``BuildRequest``: where the context comes from
    and how to answer."""
    request: BuildRequest
    remote: str = ""  # a git or http(s) URL: the daemon fetches the context
    want_aux: bool = True  # API 1.30+: {"aux": {"ID": ...}}


def _json_arg(request: Request, name: str, t: gojson.GoType, what: str):
    """A JSON query parameter decoded as Go's json.Unmarshal into ``t``; absent -> None."""
    text = request.arg(name)
    if not text:
        return None
    try:
        return gojson.decode(gojson.parse(text.encode()), t)
    except errors.InvalidArgument as exc:
        detail = str(exc).removeprefix("invalid JSON: ")
        raise errors.InvalidArgument(f"{what}: {detail}" if what else detail) from None


def _int64(request: Request, name: str) -> int:
    """moby's Int64ValueOrZero: a value strconv cannot read counts as 0."""
    try:
        return int(request.arg(name) or "0")
    except ValueError:
        return 0


def _shm_size(request: Request) -> int:
    text = request.arg("shmsize") or ""
    if not text:
        return 0
    try:
        return int(text, 10)
    except ValueError:
        raise errors.Internal(f'strconv.ParseInt: parsing "{text}": invalid syntax') from None


def sanitize_tags(names: list[str]) -> tuple[str, ...]:
    """moby's sanitizeRepoAndTags: each ``t`` parsed and given ``:latest`` if it has no
    tag, digests refused, duplicates dropped; familiar form (``busybox:latest``)."""
    out: list[str] = []
    for name in names:
        if not name:
            continue
        try:
            reference.check_lowercase_v27(name)  # dockerd 20.10's rule: UPPER/x refused
            ref = reference.parse(name, default_tag=False)
        except errors.InvalidArgument as exc:
            raise errors.Internal(str(exc)) from None  # a plain error in moby: a 500
        if ref.digest:
            raise errors.Internal("build tag cannot contain a digest")
        if not ref.tag:
            ref = ref.with_tag(reference.DEFAULT_TAG)
        if ref.familiar not in out:
            out.append(ref.familiar)
    return tuple(out)


def _secrets(request: Request) -> dict[str, bytes]:
    header = request.headers.get(SECRETS_HEADER, "")
    if not header:
        return {}
    try:
        doc = json.loads(base64.b64decode(header, validate=True))
        if not isinstance(doc, dict):
            raise ValueError("not an object")
        return {str(k): base64.b64decode(v, validate=True) for k, v in doc.items()}
    except (ValueError, TypeError, binascii.Error) as exc:
        raise errors.InvalidArgument(f"invalid {SECRETS_HEADER} header: {exc}") from None


def registry_auth(request: Request) -> dict:
    """moby's getAuthConfigs: X-Registry-Config, base64url JSON {registry: AuthConfig};
    undecodable is no auth, as in moby."""
    header = request.headers.get("x-registry-config", "")
    if not header:
        return {}
    try:
        doc = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return {k: v for k, v in doc.items() if isinstance(v, dict)} if isinstance(doc, dict) else {}


def _resources(request: Request) -> dict:
    """The RUN containers' limits, as HostConfig names them (only those given)."""
    out = {
        "Memory": _int64(request, "memory"), "MemorySwap": _int64(request, "memswap"),
        "CpuShares": _int64(request, "cpushares"), "CpuPeriod": _int64(request, "cpuperiod"),
        "CpuQuota": _int64(request, "cpuquota"), "CpusetCpus": request.arg("cpusetcpus") or "",
        "CpusetMems": request.arg("cpusetmems") or "",
    }
    ulimits = _json_arg(request, "ulimits", _ULIMITS, "error reading ulimit settings")
    if ulimits:
        out["Ulimits"] = [u for u in ulimits if u is not None]
    return {k: v for k, v in out.items() if v}


_ENTITLEMENTS = ("network.host", "security.insecure")


def _allow(request: Request) -> tuple[str, ...]:
    """The entitlements granted (BuildKit's ``entitlements.Parse`` and the daemon's check)."""
    out = []
    for value in request.query.get("allow", []):
        for name in filter(None, value.split(",")):
            if name not in _ENTITLEMENTS:
                raise errors.InvalidArgument(f"unknown entitlement {name}")
            if name == "security.insecure":  # not implemented: the daemon grants it never
                raise errors.InvalidArgument("granting entitlement security.insecure is not "
                                             "allowed by build daemon configuration")
            out.append(name)
    if request.arg("networkmode") == "host":
        out.append("network.host")
    return tuple(dict.fromkeys(out))


def _source_date_epoch(request: Request, build_args: dict) -> int | None:
    text = request.arg("sourcedateepoch") or build_args.get("SOURCE_DATE_EPOCH") or ""
    if not text:
        return None
    if not text.isdigit():
        raise errors.InvalidArgument(f"invalid SOURCE_DATE_EPOCH: {text}")
    return int(text)


def parse(request: Request) -> BuildOptions:
    version = request.api_version
    if request.query.get("securityopt"):
        raise errors.InvalidArgument("The daemon on this platform does not support setting "
                                     "security options on build")
    isolation = request.arg("isolation") or ""
    if isolation.lower() not in _ISOLATIONS:
        raise errors.InvalidArgument(f'Unsupported isolation: "{isolation}"')
    build_args = _json_arg(request, "buildargs", _BUILD_ARGS, "error reading build args") or {}
    labels = _json_arg(request, "labels", _LABELS, "error reading labels") or {}
    cache_from = _json_arg(request, "cachefrom", _CACHE_FROM, "") or []
    if at_least(version, "1.40"):
        _json_arg(request, "outputs", _OUTPUTS, "invalid outputs specified")
    builder = request.arg("version") or "1"
    if builder == "2":
        raise errors.InvalidArgument("buildkit is not enabled on daemon")
    if builder != "1":
        raise errors.InvalidArgument(f'invalid version "{builder}"')
    if request.flag("squash"):
        raise errors.InvalidArgument("squash is only supported with experimental mode")
    platform = (request.arg("platform") or "") if at_least(version, "1.32") else ""
    if platform:
        platform = str(platforms.parse(platform))  # InvalidArgument with containerd's text
    resources = _resources(request)
    force_rm = request.flag("forcerm")
    rm = True if force_rm or request.arg("rm") in (None, "") else request.flag("rm")
    build = BuildRequest(
        dockerfile=request.arg("dockerfile") or "Dockerfile",
        tags=sanitize_tags(request.query.get("t", [])),
        build_args=dict(build_args),
        target=request.arg("target") or "",
        no_cache=request.flag("nocache"),
        pull=request.flag("pull"),
        quiet=request.flag("q"),
        labels=dict(labels),
        network=request.arg("networkmode") or "default",
        platform=platform,
        extra_hosts=tuple(request.query.get("extrahosts", [])),
        cache_from=tuple(cache_from),
        rm=rm,
        force_rm=force_rm,
        secrets=_secrets(request),
        shm_size=_shm_size(request),
        cgroup_parent=request.arg("cgroupparent") or "",
        resources=resources,
        registry_auth=registry_auth(request),
        no_cache_filter=tuple(request.query.get("nocachefilter", [])),
        source_date_epoch=_source_date_epoch(request, build_args),
        allow=_allow(request),
    )
    return BuildOptions(build, remote=request.arg("remote") or "",
                        want_aux=at_least(version, "1.30"))
