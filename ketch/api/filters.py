"""The ``filters`` query parameter: JSON, either {"k": ["v"]} or the old {"k": {"v": true}}."""

import json

from ketch.errors import InvalidArgument


def parse(text: str | None, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        raise InvalidArgument(f"invalid filter '{text}'") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"invalid filter '{text}'")
    out: dict[str, list[str]] = {}
    for key, value in doc.items():
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
        if isinstance(value, dict):
            out[key] = [k for k, v in value.items() if v]
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        else:
            out[key] = [str(value)]
    return out


def match_labels(labels: dict, wanted: list[str]) -> bool:
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True
