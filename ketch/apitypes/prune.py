"""The filters of ``POST /containers/prune``, parsed once at the API edge (moby v26.1's
``ContainersPrune``: ``until``, ``label`` and ``label!``)."""

from dataclasses import dataclass


def match_kv_list(wanted: tuple[str, ...], labels: dict[str, str]) -> bool:
    """moby's ``Args.MatchKVList``: every "key" or "key=value" holds (true when none is
    asked; false for a container without labels)."""
    if not wanted:
        return True
    if not labels:
        return False
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


@dataclass(frozen=True)
class PruneFilter:
    until_ns: int | None = None  # only containers created before it
    labels: tuple[str, ...] = ()
    not_labels: tuple[str, ...] = ()  # label!=: left alone when all of them match

    def matches(self, created_ns: int, labels: dict[str, str]) -> bool:
        if self.until_ns is not None and created_ns > self.until_ns:
            return False
        if not match_kv_list(self.labels, labels):
            return False
        return not (self.not_labels and match_kv_list(self.not_labels, labels))
