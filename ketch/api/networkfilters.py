"""The filters of ``GET /networks`` (moby v26.1's daemon/network.FilterNetworks), pure.

``driver`` and ``scope`` match exactly; ``name`` and ``id`` as moby's Args.Match does, an
exact match or an unanchored regular expression (``name=^web`` works, ``name=we`` is a
substring); ``label`` is "key" or "key=value", all of them; ``dangling`` keeps the networks
no container uses (never the predefined ones), or with false only those in use and the
predefined ones; ``type`` is ``builtin`` (the predefined networks) or ``custom``. A bad
``dangling`` is a 400, a bad ``type`` moby's plain error (a 500), both with its words.
"""

from typing import Callable

from ketch.api import filters as flt
from ketch.api.networkviews import SCOPE
from ketch.apitypes.prune import match_kv_list
from ketch.errors import Internal, InvalidArgument
from ketch.network.model import Network

LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")
PRUNE_FILTERS = ("until", "label", "label!")
PREDEFINED = ("bridge", "host", "none")  # moby's runconfig.IsPreDefinedNetwork (by name)


def is_predefined(network: Network) -> bool:
    return network.predefined or network.name in PREDEFINED


def filter_networks(networks: list[Network], f: dict[str, list[str]],
                    in_use: Callable[[Network], bool]) -> list[Network]:
    """The networks ``f`` (keys checked by ``filters.parse``) lets through, in order.
    ``in_use``: whether a container is attached to the network (asked only for ``dangling``)."""
    if not f:
        return list(networks)
    out = [n for n in networks
           if (not f.get("driver") or n.driver in f["driver"])
           and flt.matches(f.get("name", []), n.name)
           and flt.matches(f.get("id", []), n.id)
           and match_kv_list(tuple(f.get("label", ())), n.labels)
           and (not f.get("scope") or SCOPE in f["scope"])]
    if f.get("dangling"):
        values = f["dangling"]
        if len(values) > 1:
            raise InvalidArgument('got more than one value for filter key "dangling"')
        if values[0] in ("1", "true"):
            out = [n for n in out if not is_predefined(n) and not in_use(n)]
        elif values[0] in ("0", "false"):
            out = [n for n in out if is_predefined(n) or in_use(n)]
        else:
            raise InvalidArgument("invalid value for filter 'dangling', "
                                  'must be "true" (or "1"), or "false" (or "0")')
    if "type" in f:
        typed: list[Network] = []
        for value in f["type"]:
            if value == "builtin":
                typed += [n for n in out if is_predefined(n)]
            elif value == "custom":
                typed += [n for n in out if not is_predefined(n)]
            else:
                raise Internal(f"invalid filter: 'type'='{value}'")
        out = typed
    return out
