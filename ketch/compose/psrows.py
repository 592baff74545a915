"""``compose ps`` rows: compose's formatter.ContainerContext over docker/cli's.

compose adds Name, Project, Service, ExitCode, Health and Publishers to docker's fields,
prints the image as the container reports it (not shortened) and has no Platform. Its
default table is NAME IMAGE COMMAND SERVICE CREATED STATUS PORTS.
"""

from ketch.cli.format.rows import CONTAINER_HEADERS, ContainerContext
from ketch.compose import labels as L
from ketch.compose.containers import canonical_name

PS_TABLE = ("table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}"
            "\t{{.Status}}\t{{.Ports}}")
PS_HEADERS = {**{k: v for k, v in CONTAINER_HEADERS.items() if k != "Platform"},
              "Name": "NAME", "Project": "PROJECT", "Service": "SERVICE", "Command": "COMMAND",
              "RunningFor": "CREATED", "Engine": "ENGINE"}


class ComposeContainer(ContainerContext):
    """A /containers/json item plus what compose learns by inspecting it (``inspect``)."""

    GO_TYPE = "*formatter.ContainerContext"
    FIELDS = ("Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels",
              "LocalVolumes", "Mounts", "Name", "Names", "Networks", "Ports", "Project",
              "Publishers", "RunningFor", "Service", "Size", "State", "Status")

    def __init__(self, c: dict, inspect: dict | None = None, trunc: bool = True) -> None:
        super().__init__(c, trunc)
        self._state = (inspect or {}).get("State") or {}

    @property
    def Name(self) -> str:
        return canonical_name(self._c)

    @property
    def Project(self) -> str:
        return self._labels.get(L.PROJECT, "")

    @property
    def Service(self) -> str:
        return self._labels.get(L.SERVICE, "")

    @property
    def Image(self) -> str:
        return self._c.get("Image") or ""

    @property
    def Health(self) -> str:
        if self._state.get("Status") == "running":
            return (self._state.get("Health") or {}).get("Status", "")
        return ""

    @property
    def ExitCode(self) -> int:
        if self._state.get("Status") in ("exited", "dead"):
            return int(self._state.get("ExitCode") or 0)
        return 0

    def _ports(self) -> list[dict]:
        return sorted(self._c.get("Ports") or [], key=lambda p: p.get("PrivatePort", 0))

    @property
    def Publishers(self) -> list[dict]:
        return [{"URL": p.get("IP", ""), "TargetPort": p.get("PrivatePort", 0),
                 "PublishedPort": p.get("PublicPort", 0), "Protocol": p.get("Type", "")}
                for p in self._ports()]

    @property
    def Ports(self) -> str:
        from ketch.apitypes.ports import displayable_ports
        return displayable_ports(self._ports())
