"""``docker history``: moby's ImageHistory over the image store.

One item per history entry, newest first; a non-empty entry takes the next layer and
its size (the layer's content, as moby's DiffSize). IDs and tags are filled from the
top: the image itself, then its parent (the image a commit was made on), and so on;
entries below the known parents stay ``<missing>``.
"""

from dataclasses import dataclass

from ketch import errors, timefmt
from ketch.engine.images.service import ImageService
from ketch.oci import digest as dg
from ketch.oci import reference


@dataclass(frozen=True)
class HistoryItem:
    id: str
    created: int  # unix seconds
    created_by: str
    tags: tuple[str, ...] | None  # familiar references; None: not an image here
    size: int
    comment: str


def image_history(images: ImageService, name: str) -> list[HistoryItem]:
    image = images.resolve(name)
    diff_ids = list((image.config.get("rootfs") or {}).get("diff_ids") or [])
    chains = dg.chain_ids(diff_ids)
    rows: list[dict] = []
    layer = 0
    for h in image.config.get("history") or []:
        size = 0
        if not h.get("empty_layer"):
            if layer >= len(chains):
                raise errors.Internal("too many non-empty layers in History section")
            row = images.store.get_layer(chains[layer])
            size = row[6] if row is not None else 0
            layer += 1
        created = h.get("created")
        rows.insert(0, {"created": timefmt.parse_ns(created) // 10**9 if created else 0,
                        "created_by": h.get("created_by", ""), "comment": h.get("comment", ""),
                        "size": size})
    out = []
    current = image
    for row in rows:
        if current is not None:
            tags = tuple(reference.parse(t).familiar for t in current.tags) or None
            out.append(HistoryItem(current.id, row["created"], row["created_by"], tags, row["size"],
                                   row["comment"]))
            current = images.find(current.parent) if current.parent else None
        else:
            out.append(HistoryItem("<missing>", row["created"], row["created_by"], None, row["size"],
                                   row["comment"]))
    return out
