"""A fast yes/no: does a document conform to a JSON schema written with the few draft-07
keywords the Compose specification uses?

Importing jsonschema costs ~40-80 ms, more than the rest of loading a compose file, and
almost every file a command loads is valid. ``conforms`` answers for those without it;
``schema.validate`` asks jsonschema only when the answer is no, for the error to report.
It must never say yes to a document jsonschema rejects, so anything it does not know (a
keyword outside ``KEYWORDS``, a remote ``$ref``) makes it say no.
"""

import json
import re

# annotations are ignored; every other keyword the checker meets must be one of these
ANNOTATIONS = frozenset({"$id", "$schema", "title", "description", "default", "deprecated",
                         "definitions", "examples", "$comment"})
KEYWORDS = frozenset({"$ref", "type", "enum", "const", "properties", "patternProperties",
                      "additionalProperties", "required", "items", "uniqueItems", "oneOf", "anyOf",
                      "allOf", "not", "minimum", "maximum", "pattern", "minItems", "maxItems",
                      "minProperties", "maxProperties"})

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}


class _Unknown(Exception):
    """The schema uses something this checker does not implement."""


class Checker:
    def __init__(self, root: dict) -> None:
        self.root = root
        self._patterns: dict[str, re.Pattern] = {}

    def conforms(self, instance) -> bool:
        try:
            return self._ok(self.root, instance)
        except _Unknown:
            return False

    def _ok(self, schema, value) -> bool:
        if isinstance(schema, bool):
            return schema
        if not isinstance(schema, dict):
            self._unknown()
        for key, want in schema.items():
            if key in ANNOTATIONS:
                continue
            if key not in KEYWORDS:
                self._unknown()
            if not self._keyword(key, want, schema, value):
                return False
        return True

    def _unknown(self):
        raise _Unknown()

    def _keyword(self, key: str, want, schema: dict, value) -> bool:
        if key == "$ref":
            return self._ok(self._resolve(want), value)
        if key == "type":
            return any(_TYPES[t](value) for t in ([want] if isinstance(want, str) else want))
        if key == "enum":
            return any(_equal(value, w) for w in want)
        if key == "const":
            return _equal(value, want)
        if key in ("oneOf", "anyOf", "allOf", "not"):
            matched = sum(1 for sub in ([want] if key == "not" else want) if self._ok(sub, value))
            return {"oneOf": matched == 1, "anyOf": matched >= 1,
                    "allOf": matched == len(want), "not": matched == 0}[key]
        if isinstance(value, dict):
            return self._object(key, want, schema, value)
        if isinstance(value, list):
            return self._array(key, want, value)
        if isinstance(value, str) and key == "pattern":
            return self._pattern(want).search(value) is not None
        if key in ("minimum", "maximum") and _TYPES["number"](value):
            return value >= want if key == "minimum" else value <= want
        return True  # the keyword does not apply to this type of value

    def _object(self, key: str, want, schema: dict, value: dict) -> bool:
        if key == "properties":
            return all(self._ok(sub, value[name]) for name, sub in want.items() if name in value)
        if key == "patternProperties":
            return all(self._ok(sub, item) for pattern, sub in want.items()
                       for name, item in value.items() if self._pattern(pattern).search(name))
        if key == "additionalProperties":
            known, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
            return all(self._ok(want, item) for name, item in value.items()
                       if name not in known and not any(self._pattern(p).search(name) for p in patterns))
        if key == "required":
            return all(name in value for name in want)
        if key in ("minProperties", "maxProperties"):
            return len(value) >= want if key == "minProperties" else len(value) <= want
        return True

    def _array(self, key: str, want, value: list) -> bool:
        if key == "items":
            if not isinstance(want, (dict, bool)):
                self._unknown()  # the tuple form
            return all(self._ok(want, item) for item in value)
        if key == "uniqueItems":
            if not want:
                return True
            seen = [_canonical(item) for item in value]
            return len(set(seen)) == len(seen)
        if key in ("minItems", "maxItems"):
            return len(value) >= want if key == "minItems" else len(value) <= want
        return True

    def _resolve(self, ref: str):
        if not ref.startswith("#/"):
            self._unknown()
        node = self.root
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                self._unknown()
            node = node[part]
        return node

    def _pattern(self, text: str) -> re.Pattern:
        if text not in self._patterns:
            self._patterns[text] = re.compile(text)
        return self._patterns[text]


def _equal(a, b) -> bool:
    """JSON equality: true is not 1."""
    return _canonical(a) == _canonical(b)


def _canonical(value) -> str:
    def plain(v):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v
    return json.dumps(plain(value), sort_keys=True)
