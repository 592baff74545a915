"""Rows for ``--format``: the fields docker/cli's container and image formatters offer.

Each context wraps one API object and exposes Docker's field names (``.ID``,
``.Status``, ``.Label "key"``) with Docker's truncation and humanized values.
``FIELDS`` lists what ``{{json .}}`` and ``--format json`` print: docker's contexts
marshal themselves as a JSON object of their argument-less methods, keys sorted
(formatter.MarshalJSON). ``GO_TYPE`` is the context's Go type, which errors name.

docker/cli calls these formatter "contexts"; here they are rows, because ``docker
context`` (remote endpoints) is a different feature that needs the name ``cli/contexts``.
"""

import time

from ketch.cli.format.gotemplate import NilPointer, json_encode
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
    "VirtualSize": "SIZE",  # deprecated, the same as Size
}
IMAGE_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
IMAGE_TABLE_DIGESTS = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


def ellipsis(text: str, width: int) -> str:
    """docker/cli's Ellipsis: at most ``width`` display columns, the last one "…".

    East Asian wide and fullwidth runes take two columns; a rune too wide to fit
    before the "…" leaves the text as it is, as docker's loop does.
    """
    if width <= 0:
        return ""
    if width == 1:
        return text[:1]
    if text.isascii():
        return text if len(text) <= width else text[: width - 1] + "…"
    from unicodedata import east_asian_width
    widths = [2 if east_asian_width(c) in ("W", "F") else 1 for c in text]
    if sum(widths) <= width:
        return text
    used = 0
    for i, w in enumerate(widths):
        used += w
        if used > width - 1:
            return text[:i] + "…" if i else text
    return text


def truncate_id(image_id: str) -> str:
    return image_id.split(":", 1)[-1][:12]


def go_time(unix: int) -> str:
    """Go's time.Time.String() for a Unix time, in local time."""
    t = time.localtime(unix)
    offset = t.tm_gmtoff
    sign = "+" if offset >= 0 else "-"
    zone = f"{sign}{abs(offset) // 3600:02d}{abs(offset) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f" {zone} {t.tm_zone}"


def familiar_image(image: str) -> str:
    """An image reference as docker prints it (reference.FamiliarString after
    ParseNormalizedNamed): no digest, no docker.io[/library] prefix. A string that is
    not a valid reference is shown as it is."""
    if "@" not in image and not image.startswith(("docker.io/", "index.docker.io/", "library/")):
        return image  # familiar already (or no reference): parsing would not change it
    domain, sep, rest = image.partition("/")
    if not sep or ("." not in domain and ":" not in domain and domain != "localhost"
                   and domain.lower() == domain):
        domain, rest = "docker.io", image
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in rest:
        rest = "library/" + rest
    if rest.split(":", 1)[0].lower() != rest.split(":", 1)[0]:
        return image
    import re  # loaded already with json; the grammar is distribution's reference regexp
    component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
    match = re.fullmatch(rf"(?P<path>{component}(?:/{component})*)(?::(?P<tag>[\w][\w.-]{{0,127}}))?"
                         r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*"
                         r":[0-9a-fA-F]{32,}))?", rest, re.ASCII)
    host = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*" \
           r"|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
    if not match or not re.fullmatch(host, domain, re.ASCII) \
            or len(domain) + 1 + len(match["path"]) > 255:
        return image
    if match["digest"]:
        algorithm, _, encoded = match["digest"].partition(":")
        length = {"sha256": 64, "sha384": 96, "sha512": 128}.get(algorithm)
        if len(encoded) != length or encoded.lower() != encoded:
            return image
    path = match["path"]
    if domain == "docker.io":
        name = path[len("library/"):] if path.startswith("library/") and path.count("/") == 1 else path
    else:
        name = f"{domain}/{path}"
    return name + (f":{match['tag']}" if match["tag"] else "")


# MarshalJSON of docker's contexts goes through json.Marshal, which escapes these
_JSON_HTML = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


class Row:
    """A formatter context: ``{{json .}}`` is docker's formatter.MarshalJSON of it."""

    FIELDS: tuple[str, ...] = ()
    GO_TYPE = ""

    def _go_marshal_json(self) -> str:
        doc = {name: getattr(self, name) for name in sorted(self.FIELDS)}
        return json_encode(doc).translate(_JSON_HTML)


class Platform:
    """An image manifest's platform: prints as "os/arch[/variant]", JSON as the OCI object."""

    GO_TYPE = "*formatter.Platform"

    FIELDS = ("Platform", "Architecture", "OS", "OSVersion", "OSFeatures", "Variant")

    def __init__(self, doc: dict) -> None:
        self._doc = doc
        # the fields of the ocispec.Platform it embeds
        self.Architecture = doc.get("architecture", "")
        self.OS = doc.get("os", "")
        self.OSVersion = doc.get("os.version", "")
        self.OSFeatures = doc.get("os.features") or []
        self.Variant = doc.get("variant", "")

    def __str__(self) -> str:
        p = self._doc
        if not p.get("os"):
            return "unknown"
        text = "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)
        return text + (f"({p['os.version']})" if p.get("os.version") else "")

    def as_json(self) -> dict:
        p = self._doc
        doc = {"architecture": p.get("architecture", ""), "os": p.get("os", "")}
        doc.update((k, p[k]) for k in ("os.version", "os.features", "variant") if p.get(k))
        return doc

    def _go_marshal_json(self) -> str:
        return json_encode(self.as_json())


_NO_PLATFORM = NilPointer("*formatter.Platform", Platform.FIELDS)


class Labelled:
    """``Labels`` and ``Label "name"`` of a row whose object has labels (``_labels``).
    docker joins a Go map, in random order; sorted here, so the output is stable."""

    _labels: dict[str, str]

    @property
    def Labels(self) -> str:
        return ",".join(sorted(f"{k}={v}" for k, v in self._labels.items()))

    def Label(self, name: str) -> str:
        return self._labels.get(name, "")


class ContainerContext(Labelled, Row):
    GO_TYPE = "*formatter.ContainerContext"
    FIELDS = ("Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts",
              "Names", "Networks", "Platform", "Ports", "RunningFor", "Size", "State", "Status")

    def __init__(self, c: dict, trunc: bool = True) -> None:
        self._c = c
        self._labels = c.get("Labels") or {}
        self._trunc = trunc
        self.size_used = False  # docker's FieldsUsed["Size"]: ps asks for sizes if a template does

    @property
    def ID(self) -> str:
        ident = self._c.get("Id", "")
        return ident[:12] if self._trunc else ident

    @property
    def Image(self) -> str:
        image = self._c.get("Image") or ""
        if not image:
            return "<no image>"
        if not self._trunc:
            return image
        short = truncate_id(self._c.get("ImageID") or "")
        if short == truncate_id(image):  # created from an image ID
            return short
        return familiar_image(image)

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
        from ketch.apitypes.ports import displayable_ports
        return displayable_ports(self._c.get("Ports") or [])

    @property
    def State(self) -> str:
        return self._c.get("State", "")

    @property
    def Status(self) -> str:
        return self._c.get("Status", "")

    @property
    def Platform(self) -> Platform | NilPointer:
        platform = (self._c.get("ImageManifestDescriptor") or {}).get("platform")
        return _NO_PLATFORM if platform is None else Platform(platform)

    @property
    def Size(self) -> str:
        self.size_used = True
        rw = human_size(self._c.get("SizeRw") or 0)
        root = self._c.get("SizeRootFs") or 0
        return f"{rw} (virtual {human_size(root)})" if root > 0 else rw

    @property
    def Names(self) -> str:
        names = [n[1:] if n.startswith("/") else n for n in self._c.get("Names") or []]
        if not self._trunc:
            return ",".join(names)
        # truncated: the container's own name, not its legacy link aliases ("/other/alias")
        return next((n for n in names if "/" not in n), "")

    @property
    def Mounts(self) -> str:
        names = ((m.get("Name") or m.get("Source") or "") for m in self._c.get("Mounts") or [])
        return ",".join(ellipsis(n, 15) if self._trunc else n for n in names)

    @property
    def Networks(self) -> str:
        return ",".join(sorted((self._c.get("NetworkSettings") or {}).get("Networks") or {}))

    @property
    def LocalVolumes(self) -> str:
        return str(sum(m.get("Driver") == "local" for m in self._c.get("Mounts") or []))


class ImageContext(Row):
    GO_TYPE = "*formatter.imageContext"
    FIELDS = ("Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository",
              "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize")

    def __init__(self, image: dict, repo: str, tag: str, trunc: bool = True,
                 digest: str | None = None) -> None:
        self._i = image
        self.Repository = repo
        self.Tag = tag
        self._trunc = trunc
        self._digest = digest

    @property
    def ID(self) -> str:
        return truncate_id(self._i["Id"]) if self._trunc else self._i["Id"]

    @property
    def Digest(self) -> str:
        if self._digest is not None:
            return self._digest
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

    @property
    def VirtualSize(self) -> str:
        return human_size(self._i.get("Size", 0), 4)  # go-units HumanSize, unlike Size

    @property
    def Containers(self) -> str:
        n = self._i.get("Containers", -1)
        return "N/A" if n == -1 else str(n)

    @property
    def SharedSize(self) -> str:
        n = self._i.get("SharedSize", -1)
        return "N/A" if n == -1 else human_size(n, 4)

    @property
    def UniqueSize(self) -> str:
        size, shared = self._i.get("Size", 0), self._i.get("SharedSize", -1)
        return "N/A" if -1 in (size, shared) else human_size(size - shared, 4)


def image_rows(images: list[dict], trunc: bool = True, digests: bool = False) -> list[ImageContext]:
    """docker images' rows: one per repository tag, one per repository known only by
    digest (tag "<none>"), and "<none> <none>" for an image with neither.

    A row's digest is the first of its repository's; with ``digests`` (--digests)
    each digest gets its own row.
    """
    rows = []
    for image in images:
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        by_repo: dict[str, list[str]] = {}
        for ref in image.get("RepoDigests") or []:
            repo, sep, digest = ref.partition("@")
            if sep and repo != "<none>":
                by_repo.setdefault(repo, []).append(digest)
        if not tags and not by_repo:
            rows.append(ImageContext(image, "<none>", "<none>", trunc, "<none>"))
            continue
        tagged = []
        for ref in tags:
            repo, _, tag = ref.rpartition(":")
            if not repo or "/" in tag:  # no tag (a registry port is not one)
                continue
            tagged.append(repo)
            rows += _rows(image, repo, tag, by_repo.get(repo), trunc, digests)
        for repo, repo_digests in by_repo.items():
            if repo not in tagged:
                rows += _rows(image, repo, "<none>", repo_digests, trunc, digests)
    return rows


def _rows(image: dict, repo: str, tag: str, repo_digests: list[str] | None, trunc: bool,
          digests: bool) -> list[ImageContext]:
    if not repo_digests:
        return [ImageContext(image, repo, tag, trunc, "<none>")]
    if not digests:
        return [ImageContext(image, repo, tag, trunc, repo_digests[0])]
    return [ImageContext(image, repo, tag, trunc, d) for d in repo_digests]
