"""`compose images`: the image of each of a project's containers (compose's images.go),
rendered as its table or JSON (cmd/compose/images.go, cmd/formatter)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ketch.client.http import HTTPError
from ketch.compose import labels
from ketch.compose.errors import ComposeError

HEADERS = ("CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE")


@dataclass(frozen=True)
class ImageRow:
    """compose's api.ImageSummary (its JSON keys are these names)."""
    ID: str
    ContainerName: str
    Repository: str
    Tag: str
    Size: int


def canonical_name(container: dict) -> str:
    """compose's getCanonicalContainerName: the name that is not a link's (``/a/b``)."""
    names = container.get("Names") or []
    for name in names:
        if name.count("/") == 1:
            return name[1:]
    return names[0].lstrip("/") if names else container.get("Id", "")[:12]


def _summary(client, image: str) -> dict | None:
    """Repository, tag, ID and size of an image (None when it is gone)."""
    from ketch.errors import InvalidArgument
    from ketch.oci import reference
    try:
        info = client.inspect_image(image)
    except HTTPError as exc:
        if exc.status == 404:
            return None
        raise ComposeError(f"unable to get image '{image}': Error response from daemon: {exc}") from None
    repository = tag = ""
    tags = info.get("RepoTags") or []
    if tags:
        try:
            ref = reference.parse(tags[0])
        except InvalidArgument as exc:
            raise ComposeError(str(exc)) from None
        repository, tag = ref.familiar_name, ref.tag or ""
    return {"ID": info.get("Id", ""), "Repository": repository, "Tag": tag, "Size": int(info.get("Size") or 0)}


def project_images(client, project: str, services: list[str] | None = None) -> list[ImageRow]:
    """One row per container of the project (run ones too), sorted by container name."""
    containers = client.containers(all=True, filters=labels.project_filter(project, oneoff=None))
    if services:
        containers = [c for c in containers if (c.get("Labels") or {}).get(labels.SERVICE) in services]
    found: dict[str, dict | None] = {}
    for c in containers:
        if c.get("ImageID") not in found:
            found[c.get("ImageID")] = _summary(client, c.get("ImageID"))
    rows = []
    for c in containers:
        summary = found[c.get("ImageID")]
        if summary is None:
            raise ComposeError(f"failed to retrieve image for container {canonical_name(c)}")
        rows.append(ImageRow(ContainerName=canonical_name(c), **summary))
    return sorted(rows, key=lambda r: r.ContainerName)


def short_id(image_id: str) -> str:
    """docker's stringid.TruncateID: no algorithm, 12 characters."""
    return image_id.partition(":")[2][:12] if ":" in image_id else image_id[:12]


def render_ids(rows: list[ImageRow]) -> str:
    """-q: each image's ID once (no algorithm), in the containers' order."""
    ids = []
    for row in rows:
        ident = row.ID.partition(":")[2] if ":" in row.ID else row.ID
        if ident not in ids:
            ids.append(ident)
    return "".join(i + "\n" for i in ids)


def render(rows: list[ImageRow], fmt: str) -> str:
    """The table (tabwriter 20/1/3, as compose's formatter) or a JSON array on one line."""
    if fmt.lower() == "json":
        return json.dumps([r.__dict__ for r in rows], separators=(",", ":"), ensure_ascii=False) + "\n"
    from ketch.cli.format.tabwriter import Writer
    from ketch.units import human_size
    w = Writer(20, 1, 3, " ", 0)
    w.write("\t".join(HEADERS) + "\n")
    for r in rows:
        w.write(f"{r.ContainerName}\t{r.Repository or '<none>'}\t{r.Tag or '<none>'}\t"
                f"{short_id(r.ID)}\t{human_size(r.Size, 3)}\n")
    return w.flush()
