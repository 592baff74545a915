"""``docker history``'s rows (docker/cli's historyContext) and its table formats."""

import time

from ketch.cli.format.rows import Row, ellipsis, truncate_id
from ketch.units import human_duration, human_size

HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
           "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}
TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
TABLE_NOT_HUMAN = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
QUIET = "{{.ID}}"


def table_format(source: str, quiet: bool, human: bool) -> str:
    """NewHistoryFormat: the format for ``--format`` (``""`` is ``table``)."""
    if source in ("", "table"):
        if quiet:
            return QUIET
        return TABLE if human else TABLE_NOT_HUMAN
    return source


def rfc3339(unix: int) -> str:
    """Go's time.Unix(t, 0).Format(time.RFC3339), in local time ("Z" for UTC)."""
    t = time.localtime(unix)
    offset = t.tm_gmtoff
    zone = "Z" if offset == 0 else f"{'+' if offset > 0 else '-'}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + zone


class HistoryContext(Row):
    GO_TYPE = "*image.historyContext"
    FIELDS = ("Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size")

    def __init__(self, item: dict, trunc: bool, human: bool) -> None:
        self._h = item
        self._trunc = trunc
        self._human = human

    @property
    def ID(self) -> str:
        return truncate_id(self._h.get("Id", "")) if self._trunc else self._h.get("Id", "")

    @property
    def CreatedAt(self) -> str:
        return rfc3339(self._h.get("Created", 0))

    @property
    def CreatedSince(self) -> str:
        if not self._human:
            return self.CreatedAt
        return human_duration(max(0.0, time.time() - self._h.get("Created", 0))) + " ago"

    @property
    def CreatedBy(self) -> str:
        created_by = self._h.get("CreatedBy", "").replace("\t", " ")
        return ellipsis(created_by, 45) if self._trunc else created_by

    @property
    def Size(self) -> str:
        size = self._h.get("Size", 0)
        return human_size(size, 3) if self._human else str(size)

    @property
    def Comment(self) -> str:
        return self._h.get("Comment", "")
