"""``compose run -p/-v``: short syntax -> the model's PortConfig and ServiceVolume.

The loader's own short-syntax parsers (compose-go's ParsePortConfig and
format.ParseVolume), then a relative bind source made absolute against the directory
run is called from.
"""

import dataclasses
import os

from ketch.compose.model import PortConfig, ServiceVolume, from_canonical


def parse_ports(text: str) -> list[PortConfig]:
    from ketch.compose.loader.shortsyntax import ports
    return [from_canonical(PortConfig, p) for p in ports([text], "--publish")]


def parse_volume(text: str, base: str | None = None) -> ServiceVolume:
    from ketch.compose.loader.shortsyntax import volume
    vol = from_canonical(ServiceVolume, volume(text))
    if vol.type == "bind" and vol.source:
        source = os.path.abspath(os.path.join(base or os.getcwd(), os.path.expanduser(vol.source)))
        vol = dataclasses.replace(vol, source=source)
    return vol
