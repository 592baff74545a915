"""The volume create body: moby's ``volume.CreateRequest`` as a field table, checked once
at the API edge into a frozen value.

As moby's ``httputils.ReadJSON`` reads it, an empty body is the zero request (a volume
with a random name, so an anonymous one), white space alone is "got EOF", and a field
of the wrong JSON type gets Go's own message and a 400. ``DriverOpts`` and ``Labels``
keep the difference between absent/null and ``{}``, which inspect shows (null or {}).
"""

from dataclasses import dataclass

from ketch.apitypes.gojson import Any, Map, String, Struct, read_json

S = String()
SMAP = Map("map[string]string", S)
CREATE_REQUEST = Struct("volume.CreateRequest", "CreateRequest", (
    ("ClusterVolumeSpec", Any()), ("Driver", S), ("DriverOpts", SMAP), ("Labels", SMAP),
    ("Name", S)))


@dataclass(frozen=True)
class VolumeCreate:
    name: str = ""  # "": a random name, the volume anonymous
    driver: str = ""  # "": local
    driver_opts: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    cluster: bool = False  # a ClusterVolumeSpec was given (swarm's)


def decode_create(data: bytes | None) -> VolumeCreate:
    body = read_json(data, CREATE_REQUEST)
    if not isinstance(body, dict):
        return VolumeCreate()
    opts, labels = body.get("DriverOpts"), body.get("Labels")
    return VolumeCreate(name=body.get("Name") or "", driver=body.get("Driver") or "",
                        driver_opts=dict(opts) if isinstance(opts, dict) else None,
                        labels=dict(labels) if isinstance(labels, dict) else None,
                        cluster=body.get("ClusterVolumeSpec") is not None)
