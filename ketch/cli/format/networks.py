"""Networks for ``--format``: ``network ls``'s rows and ``network inspect -f``'s typed struct.

``NetworkRow`` is docker/cli's networkContext (``.ID`` truncated unless --no-trunc,
``.IPv4``/``.IPv6``/``.Internal`` as "true"/"false", ``.CreatedAt`` as Go's Time.String()).
``typed_network`` is the inspect answer as docker's network.Inspect struct behaves in a
template: Go's field order and names (``.ID``, ``.IPAM.Config`` items with ``.AuxAddress``),
the zero values of fields JSON left out, ``.Created`` a time.Time.
"""

from ketch.cli.format.gotemplate import NIL_MAP, NIL_SLICE, Struct
from ketch.cli.format.inspector import GoTime
from ketch.cli.format.rows import Labelled, Row

NETWORK_HEADERS = {
    "ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4",
    "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT",
}
NETWORK_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"


def _bool(value) -> str:
    return "true" if value else "false"


class NetworkRow(Labelled, Row):
    GO_TYPE = "*network.networkContext"
    FIELDS = ("CreatedAt", "Driver", "ID", "IPv4", "IPv6", "Internal", "Labels", "Name", "Scope")

    def __init__(self, network: dict, trunc: bool = True) -> None:
        self._n = network
        self._labels = network.get("Labels") or {}
        self._trunc = trunc

    @property
    def ID(self) -> str:
        ident = self._n.get("Id") or ""
        return ident[:12] if self._trunc else ident

    @property
    def Name(self) -> str:
        return self._n.get("Name") or ""

    @property
    def Driver(self) -> str:
        return self._n.get("Driver") or ""

    @property
    def Scope(self) -> str:
        return self._n.get("Scope") or ""

    @property
    def IPv4(self) -> str:
        return _bool(self._n.get("EnableIPv4"))

    @property
    def IPv6(self) -> str:
        return _bool(self._n.get("EnableIPv6"))

    @property
    def Internal(self) -> str:
        return _bool(self._n.get("Internal"))

    @property
    def CreatedAt(self) -> str:
        return str(GoTime(self._n.get("Created") or "0001-01-01T00:00:00Z"))


def _map(value, item=None):
    """A Go map: its keys sorted, as Go's json and fmt print them."""
    if value is None:
        return NIL_MAP
    return {k: item(v) if item else v for k, v in sorted(value.items())}


def _slice(value, item):
    return NIL_SLICE if value is None else [item(v) for v in value]


def _struct(go_type: str, doc: dict | None, fields: tuple, tags: dict | None = None) -> Struct:
    """A Go struct in Go's field order: (name, json key, zero, convert) per field."""
    doc = doc or {}
    out = {}
    for name, key, zero, convert in fields:
        value = doc.get(key)
        if value is None:  # left out, or null: Go's zero value (an empty struct for a struct)
            value = zero
        if convert is not None and value is not NIL_MAP and value is not NIL_SLICE:
            value = convert(value)
        out[name] = value
    return Struct(out, go_type, tags=tags)


def _ipam_config(doc: dict) -> Struct:
    return _struct("network.IPAMConfig", doc, (
        ("Subnet", "Subnet", "", None), ("IPRange", "IPRange", "", None),
        ("Gateway", "Gateway", "", None), ("AuxAddress", "AuxiliaryAddresses", NIL_MAP, _map),
    ), tags={"Subnet": ("Subnet", True), "IPRange": ("IPRange", True),
             "Gateway": ("Gateway", True), "AuxAddress": ("AuxiliaryAddresses", True)})


def _ipam(doc: dict) -> Struct:
    return _struct("network.IPAM", doc, (
        ("Driver", "Driver", "", None), ("Options", "Options", NIL_MAP, _map),
        ("Config", "Config", NIL_SLICE, lambda v: _slice(v, _ipam_config)),
    ))


def _endpoint(doc: dict) -> Struct:
    return _struct("network.EndpointResource", doc, tuple(
        (k, k, "", None) for k in ("Name", "EndpointID", "MacAddress", "IPv4Address", "IPv6Address")))


def _peer(doc: dict) -> Struct:
    return _struct("network.PeerInfo", doc, (("Name", "Name", "", None), ("IP", "IP", "", None)))


def _task(doc: dict) -> Struct:
    return _struct("network.Task", doc, (
        ("Name", "Name", "", None), ("EndpointID", "EndpointID", "", None),
        ("EndpointIP", "EndpointIP", "", None), ("Info", "Info", NIL_MAP, _map)))


def _service(doc: dict) -> Struct:
    return _struct("network.ServiceInfo", doc, (
        ("VIP", "VIP", "", None), ("Ports", "Ports", NIL_SLICE, lambda v: _slice(v, str)),
        ("LocalLBIndex", "LocalLBIndex", 0, None), ("Tasks", "Tasks", NIL_SLICE, lambda v: _slice(v, _task))))


def typed_network(doc: dict) -> Struct:
    """The inspect answer as docker's network.Inspect struct."""
    return _struct("network.Inspect", doc, (
        ("Name", "Name", "", None), ("ID", "Id", "", None),
        ("Created", "Created", "0001-01-01T00:00:00Z", GoTime), ("Scope", "Scope", "", None),
        ("Driver", "Driver", "", None), ("EnableIPv4", "EnableIPv4", False, None),
        ("EnableIPv6", "EnableIPv6", False, None), ("IPAM", "IPAM", {}, _ipam),
        ("Internal", "Internal", False, None), ("Attachable", "Attachable", False, None),
        ("Ingress", "Ingress", False, None),
        ("ConfigFrom", "ConfigFrom", {}, lambda v: _struct("network.ConfigReference", v, (
            ("Network", "Network", "", None),))),
        ("ConfigOnly", "ConfigOnly", False, None),
        ("Containers", "Containers", NIL_MAP, lambda v: _map(v, _endpoint)),
        ("Options", "Options", NIL_MAP, _map), ("Labels", "Labels", NIL_MAP, _map),
        ("Peers", "Peers", NIL_SLICE, lambda v: _slice(v, _peer)),
        ("Services", "Services", NIL_MAP, lambda v: _map(v, _service)),
    ), tags={"ID": ("Id", False), "Peers": ("Peers", True), "Services": ("Services", True)})
