"""A compose file's YAML, read as compose-go reads it (go-yaml v3), with the line of every key.

PyYAML's C parser gives the node graph (anchors are shared nodes); the values are built
here so that they are what compose-go sees, not YAML 1.1's: plain ``yes``/``no``/``on``/
``off`` are strings (the loader casts them where the specification wants a boolean), only
``true``/``false`` in their three spellings are booleans, ``0777`` and ``0o17`` are octal,
``1_000`` is 1000, timestamps stay strings. ``<<`` merge keys are applied (the mapping's
own keys win, then the first merged mapping). A key twice in one mapping is go-yaml's error.

``YamlDoc.line(path)`` is the 1-based line of a key path, e.g. ``("services", "web",
"ports", 0)``: the line of the key for a mapping entry, of the item for a list entry.
Compose's ``!reset`` (drop the value the files before set) and ``!override`` (replace it,
do not merge) tags are kept as paths in ``resets`` and ``overrides``; a ``!reset`` entry is
left out of ``data``. A file of several documents gives one YamlDoc per document.
"""

import re
from dataclasses import dataclass, field

import yaml
from yaml.resolver import Resolver

from ketch.compose.errors import LoadError

Path = tuple  # of str keys and int list indexes


@dataclass
class YamlDoc:
    data: object  # dict / list / str / int / float / bool / None
    file: str
    lines: dict[Path, int] = field(default_factory=dict)
    resets: list[Path] = field(default_factory=list)
    overrides: list[Path] = field(default_factory=list)
    more: list["YamlDoc"] = field(default_factory=list)  # the file's further documents

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one (None: no line)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = Resolver()
_STR, _NULL, _BOOL, _INT, _FLOAT = (f"tag:yaml.org,2002:{t}" for t in ("str", "null", "bool", "int", "float"))
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT_RE = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_SPECIAL = {"~": None, "null": None, "Null": None, "NULL": None, "": None,
            "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
            ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
            "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
            "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
            ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan")}


def load(text: str, file: str) -> YamlDoc:
    """The file's (first) document; an empty file is ``data=None``. LoadError on bad YAML:
    ``failed to parse FILE: yaml: line N: PROBLEM`` (go-yaml's line rule)."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as exc:
        raise LoadError(f"failed to parse {file}: {_yaml_message(exc, text)}") from None
    except yaml.YAMLError as exc:
        raise LoadError(f"failed to parse {file}: yaml: {exc}") from None
    docs = [_Builder(file).document(node) for node in nodes if node is not None]
    if not docs:
        return YamlDoc(None, file)
    docs[0].more = docs[1:]
    return docs[0]


def _yaml_message(exc: yaml.MarkedYAMLError, text: str) -> str:
    problem = exc.problem or "unknown problem parsing YAML content"
    if isinstance(exc, yaml.composer.ComposerError) and problem == "found undefined alias":
        mark = exc.problem_mark
        name = re.match(r"\*([^\s,\[\]{}]*)", text.splitlines()[mark.line][mark.column:])
        return f"yaml: unknown anchor '{name.group(1) if name else ''}' referenced"
    scanner = isinstance(exc, yaml.scanner.ScannerError)
    line = 0  # go-yaml: the context's 0-based line (+1 for scanner errors), else the problem's
    for mark in (exc.context_mark, exc.problem_mark):
        if mark is not None and mark.line != 0:
            line = mark.line + (1 if scanner else 0)
            break
    return f"yaml: line {line}: {problem}" if line else f"yaml: {problem}"


def _dotted(path: Path) -> str:
    """compose-go's key prefix: ``networks.default.ipam.config[0]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _is_merge(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == "<<" and not node.style


def scalar(node: yaml.ScalarNode):
    """A scalar as go-yaml v3 decodes it into an interface{} (YAML 1.2's core schema)."""
    value = node.value
    implicit = node.tag == _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))
    if node.style or (not implicit and node.tag == _STR):  # quoted, block, or !!str
        return value
    if not implicit and node.tag not in (_NULL, _BOOL, _INT, _FLOAT):
        return value  # an application tag (!reset, !override, !custom): its text
    if value in _SPECIAL:
        return _SPECIAL[value]
    plain = value.replace("_", "")
    number = _INT_RE.fullmatch(plain)
    if number:  # Go's strconv.ParseInt(plain, 0, 64): 0x, 0o, 0b, and a leading 0 is octal
        sign, digits = (-1 if number.group(1) == "-" else 1), number.group(2)
        if digits[:2].lower() in ("0x", "0o", "0b"):
            return sign * int(digits, 0)
        return sign * int(digits, 8 if len(digits) > 1 and digits[0] == "0" else 10)
    if _FLOAT_RE.fullmatch(plain):
        return float(plain)
    return value


class _Builder:
    """Plain values from a node graph, recording lines and compose's tags by path."""

    def __init__(self, file: str) -> None:
        self.doc = YamlDoc(None, file)
        self.active: set[int] = set()

    def document(self, node) -> YamlDoc:
        self.doc.lines[()] = node.start_mark.line + 1
        self.doc.data = self.value(node, ())
        return self.doc

    def value(self, node, path: Path):
        if id(node) in self.active:
            raise LoadError(f"failed to parse {self.doc.file}: yaml: line {node.start_mark.line + 1}: "
                            "anchor refers to itself")
        if node.tag == "!override":
            self.doc.overrides.append(path)
        if isinstance(node, yaml.ScalarNode):
            return scalar(node)
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                out = []
                for item in node.value:
                    if item.tag == "!reset":
                        self.doc.resets.append(path + (len(out),))
                        continue
                    self.doc.lines[path + (len(out),)] = item.start_mark.line + 1
                    out.append(self.value(item, path + (len(out),)))
                return out
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode, path: Path) -> dict:
        own = [(k, v) for k, v in node.value if not _is_merge(k)]
        merged = {}
        for k, source in node.value:  # the first merged mapping wins over the later ones
            if not _is_merge(k):
                continue
            sources = source.value if isinstance(source, yaml.SequenceNode) else [source]
            for item in reversed(sources):
                if not isinstance(item, yaml.MappingNode):
                    raise LoadError(f"failed to parse {self.doc.file}: yaml: line {item.start_mark.line + 1}: "
                                    "map merge requires map or sequence of maps as the value")
                merged.update(self.mapping(item, path))
        out, seen = {}, {}
        for key_node, value_node in own:  # after the merged keys: their lines win
            key = self.key(key_node, path)
            if key in seen:
                raise LoadError(f"failed to parse {self.doc.file}: yaml: line {key_node.start_mark.line + 1}: "
                                f"mapping key \"{key}\" already defined at line {seen[key]}")
            seen[key] = key_node.start_mark.line + 1
            if value_node.tag == "!reset":
                self.doc.resets.append(path + (key,))
                continue
            self.doc.lines[path + (key,)] = seen[key]
            out[key] = self.value(value_node, path + (key,))
        for key, value in merged.items():
            if key not in seen:
                out[key] = value
        return out

    def key(self, node, path: Path) -> str:
        value = scalar(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, str):
            where = "in " + _dotted(path) if path else "at top level"
            shown = node.value if isinstance(node, yaml.ScalarNode) else "<collection>"
            raise LoadError(f"Non-string key {where}: {shown}")
        return value
