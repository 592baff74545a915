"""Rows for ``--format``: the fields docker/cli's container and image formatters offer.

Each context wraps one API object and exposes Docker's field names (``.ID``,
``.Status``, ``.Label "key"``) with Docker's truncation and humanized values.
"""

import time

from ketch.units import go_quote, human_duration, human_size

CONTAINER_HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS",
    "Size": "SIZE", "Names": "NAMES", "Labels": "LABELS", "Label": "LABEL", "Mounts": "MOUNTS",
    "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES", "Platform": "PLATFORM",
}
CONTAINER_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
IMAGE_HEADERS = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
    "Containers": "CONTAINERS", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
}
IMAGE_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGE_TABLE_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


def ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def truncate_id(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def go_time(unix: int) -> str:
    """Go's time.Time.String() for a Unix time, in local time."""
    t = time.localtime(unix)
    offset = t.tm_gmtoff
    sign = "+" if offset >= 0 else "-"
    zone = f"{sign}{abs(offset) // 3600:02d}{abs(offset) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f" {zone} {t.tm_zone}"


class ContainerContext:
    FIELDS = ("Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts",
              "Names", "Networks", "Ports", "RunningFor", "Size", "State", "Status")

    def __init__(self, c: dict, trunc: bool = True) -> None:
        self._c = c
        self._trunc = trunc

    @property
    def ID(self) -> str:
        return self._c["Id"][:12] if self._trunc else self._c["Id"]

    @property
    def Image(self) -> str:
        image = self._c.get("Image") or "<no image>"
        if self._trunc:
            if image.startswith("sha256:"):
                return truncate_id(image)
            image = image.split("@", 1)[0]
        return image

    @property
    def Command(self) -> str:
        command = self._c.get("Command", "")
        return go_quote(ellipsis(command, 20) if self._trunc else command)

    @property
    def CreatedAt(self) -> str:
        return go_time(self._c.get("Created", 0))

    @property
    def RunningFor(self) -> str:
        return human_duration(max(0, time.time() - self._c.get("Created", 0))) + " ago"

    @property
    def Ports(self) -> str:
        return ""

    @property
    def State(self) -> str:
        return self._c.get("State", "")

    @property
    def Status(self) -> str:
        return self._c.get("Status", "")

    @property
    def Size(self) -> str:
        if self._c.get("SizeRw") is None and self._c.get("SizeRootFs") is None:
            return "0B"
        rw = human_size(self._c.get("SizeRw") or 0)
        return f"{rw} (virtual {human_size(self._c.get('SizeRootFs') or 0)})"

    @property
    def Names(self) -> str:
        names = [n[1:] if n.startswith("/") else n for n in self._c.get("Names") or []]
        return ",".join(n for n in names if "/" not in n)

    @property
    def Labels(self) -> str:
        labels = self._c.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def Label(self, name: str) -> str:
        return (self._c.get("Labels") or {}).get(name, "")

    @property
    def Mounts(self) -> str:
        return ""

    @property
    def Networks(self) -> str:
        return ",".join(sorted((self._c.get("NetworkSettings") or {}).get("Networks") or {}))

    @property
    def LocalVolumes(self) -> str:
        return "0"


class ImageContext:
    FIELDS = ("Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository",
              "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize")

    def __init__(self, image: dict, repo: str, tag: str, trunc: bool = True) -> None:
        self._i = image
        self.Repository = repo
        self.Tag = tag
        self._trunc = trunc

    @property
    def ID(self) -> str:
        return truncate_id(self._i["Id"]) if self._trunc else self._i["Id"]

    @property
    def Digest(self) -> str:
        digests = self._i.get("RepoDigests") or []
        return digests[0].split("@", 1)[1] if digests else "<none>"

    @property
    def CreatedSince(self) -> str:
        created = self._i.get("Created", 0)
        if created <= 0:
            return "N/A"
        return human_duration(max(0, time.time() - created)) + " ago"

    @property
    def CreatedAt(self) -> str:
        return go_time(self._i.get("Created", 0))

    @property
    def Size(self) -> str:
        return human_size(self._i.get("Size", 0))

    VirtualSize = Size

    @property
    def Containers(self) -> str:
        n = self._i.get("Containers", -1)
        return "N/A" if n == -1 else str(n)

    @property
    def SharedSize(self) -> str:
        n = self._i.get("SharedSize", -1)
        return "N/A" if n == -1 else human_size(n)

    @property
    def UniqueSize(self) -> str:
        shared = self._i.get("SharedSize", -1)
        return "N/A" if shared == -1 else human_size(self._i.get("Size", 0) - shared)


def image_rows(images: list[dict], trunc: bool = True) -> list[ImageContext]:
    """One row per repository tag, "<none>" rows for untagged images (docker images)."""
    rows = []
    for image in images:
        tags = image.get("RepoTags") or []
        if not tags:
            rows.append(ImageContext(image, "<none>", "<none>", trunc))
        for ref in tags:
            repo, _, tag = ref.rpartition(":")
            if "/" in tag:  # a registry port, no tag
                repo, tag = ref, "<none>"
            rows.append(ImageContext(image, repo, tag, trunc))
    return rows
