"""``--format`` for every command: Go templates, the ``table`` directive and ``json``.

As in docker/cli's formatter: a format starting with ``table`` prints a header row
(each field replaced by its column title) and aligns columns with Go's tabwriter;
``json`` prints each item as one JSON line; anything else is a template executed
per item with no alignment. A literal ``\\t`` in the user's format is a tab.
"""

import json

from ketch.cli import gotemplate, tabwriter


class FormatError(Exception):
    pass


def _go_json(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _normalize(fmt: str) -> str:
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def render(fmt: str, items: list, headers: dict[str, str], default_table: str,
           quiet_field: str | None = None) -> str:
    """Render ``items`` (dicts or context objects) with ``fmt`` ("" means the default table)."""
    fmt = fmt or default_table
    if fmt == "json":
        return "".join(_go_json(_as_json(i)) + "\n" for i in items)
    table = fmt.startswith("table")
    body = _normalize(fmt[len("table"):].lstrip() if table else fmt)
    try:
        tmpl = gotemplate.parse(body)
        lines = [tmpl.execute(i) for i in items]
        if table:
            header = tmpl.execute(_Header(headers))
            w = tabwriter.Writer(10, 1, 3, " ", 0)
            if header.strip():
                w.write(header + "\n")
            for line in lines:
                w.write(line + "\n")
            return w.flush()
    except gotemplate.TemplateError as exc:
        raise FormatError(f"template parsing error: {exc}") from None
    return "".join(line + "\n" for line in lines)


def execute(fmt: str, value) -> str:
    try:
        return gotemplate.parse(_normalize(fmt)).execute(value)
    except gotemplate.TemplateError as exc:
        raise FormatError(str(exc)) from None


def _as_json(item):
    if isinstance(item, dict):
        return item
    return {k: getattr(item, k) for k in getattr(item, "FIELDS", ())}


class _Header:
    """Stands in for a row when rendering the header: every field is its column title."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        title = self._headers.get(name, name.upper())
        return _Title(title)


class _Title(str):
    """A header cell that also answers method-style fields such as ``.Label "x"``."""

    def __call__(self, *args):
        return self
