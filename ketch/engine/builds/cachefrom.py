"""``--cache-from``: images whose history stands in for the build cache (moby's
``image/cache.ImageCache``), e.g. an image pulled from a registry without the
intermediate images that built it.

A step on ``parent`` whose command is ``created_by`` is a hit in a source image when the
source's history and layers begin with the parent's (``valid_parent``) and its next
history entry was made by the same command (moby compares ``strings.Join(Cmd, " ")`` with
``created_by``). The source's last entry is the source itself; an earlier one is
*restored*: a new image of the parent's layers plus the layer of that entry (if it made
one), the parent's history plus that entry. After a restore only that source is followed
(moby: "avoid jumping to different target").
"""

from dataclasses import dataclass

from ketch.engine.images.service import Image

_HISTORY_FIELDS = ("created", "author", "created_by", "comment", "empty_layer")


def _entry(h: dict) -> tuple:
    """A history entry as Go's struct compares it (DeepEqual over its fields)."""
    return tuple(h.get(k) or None for k in _HISTORY_FIELDS)


def _history(image: Image) -> list[dict]:
    return list(image.config.get("history") or [])


def _diff_ids(image: Image) -> list[str]:
    return list((image.config.get("rootfs") or {}).get("diff_ids") or [])


def valid_parent(target: Image, parent: Image | None) -> bool:
    """moby's isValidParent: ``target`` continues ``parent``'s history and layers."""
    history = _history(target)
    if not history:
        return False
    if parent is None or (not _history(parent) and not _diff_ids(parent)):
        return True
    mine, theirs = _history(parent), _diff_ids(parent)
    if len(mine) >= len(history) or len(theirs) > len(_diff_ids(target)):
        return False
    return (all(_entry(h) == _entry(history[i]) for i, h in enumerate(mine))
            and _diff_ids(target)[:len(theirs)] == theirs)


def layer_at(target: Image, index: int) -> str:
    """The diff id the history entry ``index`` of ``target`` made, "" for an empty one
    (moby's getLayerForHistoryIndex)."""
    history = _history(target)
    if history[index].get("empty_layer"):
        return ""
    layer = sum(1 for h in history[:index] if not h.get("empty_layer"))
    diff_ids = _diff_ids(target)
    return diff_ids[layer] if layer < len(diff_ids) else ""


@dataclass(frozen=True)
class Match:
    target: Image
    index: int  # the entry of target's history the step is

    @property
    def is_target(self) -> bool:
        return self.index == len(_history(self.target)) - 1


def find(sources: list[Image], parent: Image | None, created_by: str) -> Match | None:
    """The first source in which the step (on ``parent``, made by ``created_by``) is."""
    index = len(_history(parent)) if parent is not None else 0
    for target in sources:
        history = _history(target)
        if index >= len(history) or not valid_parent(target, parent):
            continue
        if (history[index].get("created_by") or "") == created_by:
            return Match(target, index)
    return None
