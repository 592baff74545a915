"""The filters of ``GET /volumes`` and ``POST /volumes/prune`` (moby's volume/service
convert.go ``filtersToBy`` and ``withPrune``), pure.

``name`` matches as moby's Args.Match (exact, or an unanchored regular expression);
``driver`` exactly; ``label``/``label!`` as Args.MatchKVList; ``dangling`` keeps the
volumes no container uses (``false``: only those in use). A prune considers only the
anonymous volumes unless ``all`` is true (API 1.42; the route adds ``all=true`` for
older clients); which volumes a prune may remove at all (unused, no driver options) is
the service's rule.
"""

from typing import Callable

from ketch.api import filters as flt
from ketch.apitypes.prune import match_kv_list
from ketch.errors import InvalidArgument
from ketch.units import go_quote
from ketch.volume.model import ANONYMOUS_LABEL, Volume

LIST_FILTERS = ("dangling", "name", "driver", "label")
PRUNE_FILTERS = ("label", "label!", "all")
_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _labels(f: dict[str, list[str]], vol: Volume) -> bool:
    if not match_kv_list(tuple(f.get("label", ())), vol.labels):
        return False
    return not (f.get("label!") and match_kv_list(tuple(f["label!"]), vol.labels))


def filter_volumes(volumes: list[Volume], f: dict[str, list[str]],
                   in_use: Callable[[str], bool]) -> list[Volume]:
    """The volumes ``f`` (keys checked by ``filters.parse``) lets through, in order."""
    dangling = flt.get_bool(f, "dangling", False) if "dangling" in f else None
    out = []
    for vol in volumes:
        if f.get("driver") and vol.driver not in f["driver"]:
            continue
        if "name" in f and not flt.matches(f["name"], vol.name):
            continue
        if not _labels(f, vol):
            continue
        if dangling is not None and in_use(vol.name) == dangling:
            continue
        out.append(vol)
    return out


def prune_filter(f: dict[str, list[str]]) -> Callable[[Volume], bool]:
    """moby's withPrune then its label filters: which volumes a prune may take."""
    values = f.get("all", [])
    everything = False
    if len(values) > 1:
        raise InvalidArgument(f"invalid filter 'all=[{' '.join(values)}]': only one value is expected")
    if values:
        if values[0] in _TRUE:
            everything = True
        elif values[0] not in _FALSE:
            raise InvalidArgument(f"invalid filter 'all': strconv.ParseBool: parsing "
                                  f"{go_quote(values[0])}: invalid syntax")
    if not everything:
        f = {**f, "label": [*f.get("label", []), ANONYMOUS_LABEL]}
    return lambda vol: _labels(f, vol)
