"""Rows of ``search``: docker/cli's searchContext."""

from ketch.cli.format.rows import Row, ellipsis

HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS",
           "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"}
TABLE = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}"


class SearchRow(Row):
    GO_TYPE = "*registry.searchContext"
    FIELDS = ("Description", "IsAutomated", "IsOfficial", "Name", "StarCount")

    def __init__(self, result: dict, trunc: bool = True) -> None:
        self._r = result
        self._trunc = trunc
        self.Name = result.get("name") or ""
        self.StarCount = str(result.get("star_count") or 0)

    @property
    def Description(self) -> str:
        text = (self._r.get("description") or "").replace("\n", " ").replace("\r", " ")
        return ellipsis(text, 45) if self._trunc else text

    @property
    def IsOfficial(self) -> str:
        return "[OK]" if self._r.get("is_official") else ""

    @property
    def IsAutomated(self) -> str:
        return "[OK]" if self._r.get("is_automated") else ""
