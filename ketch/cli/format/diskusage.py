"""``docker system df``'s rows (docker 28's formatter/disk_usage.go): the summary, one row
per kind, and the verbose tables of images, containers, volumes and build cache."""

from ketch.cli.format import formatter
import time

from ketch.cli.format.rows import (CONTAINER_HEADERS, IMAGE_HEADERS, ContainerContext, ImageContext,
                                   Row, go_time, truncate_id)
from ketch.timefmt import parse_ns
from ketch.units import human_duration, human_size

HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
           "Reclaimable": "RECLAIMABLE"}
TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
RAW = "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n"
IMAGE_TABLE = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"
               "\t{{.UniqueSize}}\t{{.Containers}}")
CONTAINER_TABLE = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}"
                   "\t{{.Status}}\t{{.Names}}")
VOLUME_HEADERS = {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}
VOLUME_TABLE = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
CACHE_HEADERS = {"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
                 "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"}
CACHE_TABLE = ("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
               "\t{{.UsageCount}}\t{{.Shared}}")


def summary_format(source: str) -> str:
    return {"table": TABLE, "raw": RAW}.get(source, source)


def _with_share(reclaimable: int, total: int) -> str:
    if total > 0:
        return f"{human_size(reclaimable, 4)} ({reclaimable * 100 // total}%)"
    return human_size(reclaimable, 4)


class UsageRow(Row):
    GO_TYPE = "*formatter.diskUsageContext"
    FIELDS = ("Active", "Reclaimable", "Size", "TotalCount", "Type")

    def __init__(self, kind: str, total: int, active: int, size: int, reclaimable: str) -> None:
        self.Type = kind
        self.TotalCount = str(total)
        self.Active = str(active)
        self.Size = human_size(size, 4)
        self.Reclaimable = reclaimable


def _active(container: dict) -> bool:
    state = container.get("State", "")
    return any(s in state for s in ("running", "paused", "restarting"))


def summary_rows(doc: dict) -> list[UsageRow]:
    images = doc.get("Images") or []
    layers = doc.get("LayersSize") or 0
    used = sum(i["Size"] - i["SharedSize"] for i in images
               if i.get("Containers") and -1 not in (i.get("Size", -1), i.get("SharedSize", -1)))
    containers = doc.get("Containers") or []
    c_size = sum(c.get("SizeRw") or 0 for c in containers)
    c_free = sum(c.get("SizeRw") or 0 for c in containers if not _active(c))
    volumes = doc.get("Volumes") or []
    v_sizes = [(v.get("UsageData") or {}).get("Size", -1) for v in volumes]
    v_size = sum(s for s in v_sizes if s != -1)
    v_free = sum(s for v, s in zip(volumes, v_sizes) if s != -1 and not (v.get("UsageData") or {}).get("RefCount"))
    cache = doc.get("BuildCache") or []
    b_size = sum(b.get("Size", 0) for b in cache if not b.get("Shared"))
    b_free = sum(b.get("Size", 0) for b in cache if not b.get("Shared") and not b.get("InUse"))
    return [
        UsageRow("Images", len(images), sum(1 for i in images if i.get("Containers", 0) > 0), layers,
                 _with_share(layers - used, layers)),
        UsageRow("Containers", len(containers), sum(1 for c in containers if _active(c)), c_size,
                 _with_share(c_free, c_size)),
        UsageRow("Local Volumes", len(volumes),
                 sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount", 0) > 0), v_size,
                 _with_share(v_free, v_size)),
        UsageRow("Build Cache", len(cache), sum(1 for b in cache if b.get("InUse")), b_size,
                 human_size(b_free, 4)),
    ]


def _image_rows(images: list[dict]) -> list[ImageContext]:
    """One row per image: its first tag, or <none> <none>."""
    out = []
    for image in images:
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        repo, tag = "<none>", "<none>"
        if tags:
            name, _, maybe = tags[0].rpartition(":")
            if name and "/" not in maybe:
                repo, tag = name, maybe
        out.append(ImageContext(image, repo, tag, True))
    return out


class CacheRow(Row):
    """A build cache record (docker's buildCacheContext)."""
    GO_TYPE = "*formatter.buildCacheContext"
    FIELDS = ("CacheType", "CreatedAt", "CreatedSince", "Description", "ID", "InUse", "LastUsedAt",
              "LastUsedSince", "Parent", "Shared", "Size", "UsageCount")

    def __init__(self, record: dict, trunc: bool) -> None:
        self._r = record
        self._trunc = trunc

    @property
    def ID(self) -> str:
        ident = self._r.get("ID", "")
        ident = truncate_id(ident) if self._trunc else ident
        return ident + "*" if self._r.get("InUse") else ident

    @property
    def Parent(self) -> str:
        parent = ", ".join(self._r.get("Parents") or ([self._r["Parent"]] if self._r.get("Parent") else []))
        return truncate_id(parent) if self._trunc else parent

    @property
    def CacheType(self) -> str:
        return self._r.get("Type", "")

    @property
    def Description(self) -> str:
        return self._r.get("Description", "")

    @property
    def Size(self) -> str:
        return human_size(self._r.get("Size", 0), 3)

    @staticmethod
    def _since(stamp: str | None) -> str:
        if not stamp:
            return ""
        return human_duration(max(0.0, time.time() - parse_ns(stamp) / 1e9)) + " ago"

    @property
    def CreatedAt(self) -> str:
        return go_time(parse_ns(self._r["CreatedAt"]) // 10**9) if self._r.get("CreatedAt") else ""

    @property
    def CreatedSince(self) -> str:
        return self._since(self._r.get("CreatedAt"))

    @property
    def LastUsedAt(self) -> str:
        return go_time(parse_ns(self._r["LastUsedAt"]) // 10**9) if self._r.get("LastUsedAt") else ""

    @property
    def LastUsedSince(self) -> str:
        return self._since(self._r.get("LastUsedAt"))

    @property
    def UsageCount(self) -> str:
        return str(self._r.get("UsageCount", 0))

    @property
    def InUse(self) -> str:
        return str(bool(self._r.get("InUse"))).lower()

    @property
    def Shared(self) -> str:
        return str(bool(self._r.get("Shared"))).lower()


def _cache_rows(doc: dict, trunc: bool) -> list[CacheRow]:
    """docker's buildCacheSort: never used first, then by last use, then by id."""
    records = list(doc.get("BuildCache") or [])
    records.sort(key=lambda r: (r.get("LastUsedAt") is not None,
                                parse_ns(r["LastUsedAt"]) if r.get("LastUsedAt") else 0, r.get("ID", "")))
    return [CacheRow(r, trunc) for r in records]


def _volume_rows(doc: dict) -> list:
    """The volumes as the daemon listed them (docker does not sort them)."""
    from ketch.cli.format.volumes import VolumeRow
    return [VolumeRow(v) for v in doc.get("Volumes") or []]


def verbose_tables(doc: dict) -> str:
    """The four tables of ``system df -v``, each with its own column widths."""
    containers = [ContainerContext({**c, "SizeRootFs": 0}, True) for c in doc.get("Containers") or []]
    cache_size = sum(b.get("Size", 0) for b in doc.get("BuildCache") or [] if not b.get("Shared"))
    return ("Images space usage:\n\n"
            + formatter.render(IMAGE_TABLE, _image_rows(doc.get("Images") or []), IMAGE_HEADERS, IMAGE_TABLE)
            + "\nContainers space usage:\n\n"
            + formatter.render(CONTAINER_TABLE, containers, CONTAINER_HEADERS, CONTAINER_TABLE)
            + "\nLocal Volumes space usage:\n\n"
            + formatter.render(VOLUME_TABLE, _volume_rows(doc), VOLUME_HEADERS, VOLUME_TABLE)
            + f"\nBuild cache usage: {human_size(cache_size, 4)}\n\n"
            + formatter.render(CACHE_TABLE, _cache_rows(doc, True), CACHE_HEADERS, CACHE_TABLE))


class VerboseDoc(Row):
    """What a ``system df -v --format`` template runs over (docker's diskUsageContext)."""
    GO_TYPE = "*formatter.diskUsageContext"
    FIELDS = ("BuildCache", "Containers", "Images", "Volumes")

    def __init__(self, doc: dict) -> None:
        self.Images = _image_rows(doc.get("Images") or [])
        self.Containers = [ContainerContext({**c, "SizeRootFs": 0}, False) for c in doc.get("Containers") or []]
        self.Volumes = _volume_rows(doc)
        self.BuildCache = _cache_rows(doc, False)


def verbose_template(source: str, doc: dict) -> str:
    """``-v`` with a template: executed once over all four lists, as docker does."""
    from ketch.cli.format import gotemplate
    text = "{{json .}}" if source == "json" else source.replace("\\t", "\t").replace("\\n", "\n")
    try:
        return gotemplate.parse(text).execute(VerboseDoc(doc))
    except gotemplate.TemplateError as exc:
        raise formatter.FormatError(f"template parsing error: {exc}") from None
