"""Volumes for ``--format``: ``volume ls``'s and ``system df -v``'s rows, and ``volume
inspect -f``'s typed struct.

``VolumeRow`` is docker/cli's volumeContext: ``.Labels`` "k=v" sorted and joined by
commas, ``.Label "k"``, ``.Links`` and ``.Size`` from UsageData ("N/A" without, as in
``volume ls``), ``.Group``/``.Availability``/``.Status`` "N/A" (cluster volumes only).
``typed_volume`` is the inspect answer as docker's volume.Volume behaves in a template.
"""

from ketch.cli.format.gotemplate import NIL_MAP, NilPointer, Struct
from ketch.cli.format.rows import Labelled, Row
from ketch.units import human_size

VOLUME_HEADERS = {
    "ID": "ID", "Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER", "Scope": "SCOPE",
    "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
    "Links": "LINKS", "Size": "SIZE", "Status": "STATUS",
}
VOLUME_TABLE = "table {{.Driver}}\t{{.Name}}"
QUIET = "{{.Name}}"


def list_format(source: str, quiet: bool) -> str:
    """docker/cli's NewVolumeFormat."""
    if source in ("", "table"):
        return QUIET if quiet else VOLUME_TABLE
    if source == "raw":
        return "name: {{.Name}}" if quiet else "name: {{.Name}}\\ndriver: {{.Driver}}\\n"
    return source


class VolumeRow(Labelled, Row):
    GO_TYPE = "*formatter.volumeContext"
    FIELDS = ("Availability", "Driver", "Group", "Labels", "Links", "Mountpoint", "Name", "Scope",
              "Size", "Status")

    def __init__(self, volume: dict) -> None:
        self._v = volume
        self._labels = volume.get("Labels") or {}
        self.Name = volume.get("Name") or ""
        self.Driver = volume.get("Driver") or ""
        self.Scope = volume.get("Scope") or ""
        self.Mountpoint = volume.get("Mountpoint") or ""
        self.Group = self.Availability = self.Status = "N/A"

    @property
    def Links(self) -> str:
        usage = self._v.get("UsageData")
        return "N/A" if usage is None else str(usage.get("RefCount", 0))

    @property
    def Size(self) -> str:
        usage = self._v.get("UsageData")
        return "N/A" if usage is None else human_size(usage.get("Size", 0), 4)


def _map(value):
    return NIL_MAP if value is None else dict(sorted(value.items()))


def typed_volume(doc: dict) -> Struct:
    """The inspect answer as docker's volume.Volume: Go's field order, nil maps and
    pointers for what JSON left out."""
    usage = doc.get("UsageData")
    return Struct({
        "ClusterVolume": NilPointer("*volume.ClusterVolume", ("ID", "Version", "CreatedAt", "UpdatedAt",
                                                              "Spec", "PublishStatus", "Info")),
        "CreatedAt": doc.get("CreatedAt") or "", "Driver": doc.get("Driver") or "",
        "Labels": _map(doc.get("Labels")), "Mountpoint": doc.get("Mountpoint") or "",
        "Name": doc.get("Name") or "", "Options": _map(doc.get("Options")),
        "Scope": doc.get("Scope") or "", "Status": _map(doc.get("Status")),
        "UsageData": NilPointer("*volume.UsageData", ("RefCount", "Size")) if usage is None else Struct(
            {"RefCount": usage.get("RefCount", 0), "Size": usage.get("Size", 0)}, "volume.UsageData"),
    }, "volume.Volume", tags={"ClusterVolume": ("ClusterVolume", True), "CreatedAt": ("CreatedAt", True),
                              "Status": ("Status", True), "UsageData": ("UsageData", True)})
