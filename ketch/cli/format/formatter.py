"""``--format`` for every command: Go templates, the ``table`` directive and ``json``.

As in docker/cli's formatter: a format starting with ``table`` prints a header row
and aligns columns with Go's tabwriter; ``json`` prints each item as one JSON line;
anything else is a template executed per item with no alignment. A literal ``\\t``
in the user's format is a tab.

The header is the same template run over the column titles with docker's "header
functions": ``json``, ``lower``, ``upper``, ``title``, ``split``, ``join`` and
``truncate`` hand the title back untouched (``pad`` still pads), and ``.Label "a.b-c"``
is titled "b c". As in docker, an error in the header is not fatal.

With no rows the template is still checked against the row type (docker ps runs
it over an empty container first), so a misspelt field fails either way.
"""

from ketch.cli.format import gotemplate, tabwriter


class FormatError(Exception):
    pass


# MarshalJSON of docker's contexts goes through json.Marshal, which escapes these
_JSON_HTML = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _normalize(fmt: str) -> str:
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def render(fmt: str, items: list, headers: dict[str, str], default_table: str,
           quiet_field: str | None = None) -> str:
    """Render ``items`` (dicts or context objects) with ``fmt`` ("" or "table" means
    the default table). ``headers`` maps each field of the row type to its title."""
    if fmt in ("", "table"):
        fmt = default_table
    if fmt == "json":
        tmpl = gotemplate.parse("{{json .}}")
        return "".join(tmpl.execute(_as_json(i)).translate(_JSON_HTML) + "\n" for i in items)
    table = fmt.startswith("table")
    body = _normalize((fmt[len("table"):] if table else fmt).strip(" "))
    try:
        tmpl = gotemplate.parse(body)
    except gotemplate.TemplateError as exc:
        raise FormatError(f"template parsing error: {exc}") from None
    try:
        if not items:
            tmpl.execute(_Probe(headers))
        lines = [tmpl.execute(i) for i in items]
    except gotemplate.TemplateError as exc:
        raise FormatError(f"failed to execute template: {exc}") from None
    if not table:
        return "".join(line + "\n" for line in lines)
    return tabwriter.format_lines([_header(body, headers)] + lines)


def check(fmt: str) -> None:
    """Parse only: docker's inspect refuses a template before it looks anything up."""
    try:
        gotemplate.parse(_normalize(fmt))
    except gotemplate.TemplateError as exc:
        raise FormatError(str(exc)) from None


def execute(fmt: str, value) -> str:
    try:
        return gotemplate.parse(_normalize(fmt)).execute(value)
    except gotemplate.TemplateError as exc:
        raise FormatError(str(exc)) from None


def _as_json(item):
    if isinstance(item, dict):
        return item
    doc = {}
    for name in sorted(getattr(item, "FIELDS", ())):
        value = getattr(item, name)
        doc[name] = value.as_json() if hasattr(value, "as_json") else value
    return doc


def _keep(title, *_):
    if not isinstance(title, str):
        raise TypeError(f"wrong type for value; expected string; got {type(title).__name__}")
    return title


_HEADER_FUNCS = {name: _keep for name in ("json", "split", "join", "title", "lower", "upper",
                                          "truncate")}


def _header(body: str, headers: dict[str, str]) -> str:
    try:
        return gotemplate.parse(body, _HEADER_FUNCS).execute(_Header(headers))
    except gotemplate.TemplateError:
        return ""  # docker ignores it too (and keeps what was printed before the error)


class _Header:
    """The header row: every field is its column title (docker's SubHeaderContext)."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def __getattr__(self, name: str):
        try:
            return self._headers[name]
        except KeyError:
            raise AttributeError(name) from None

    @staticmethod
    def Label(name: str) -> str:
        return name.split(".")[-1].replace("-", " ").replace("_", " ")


class _Probe:
    """An empty row of the row type: its fields are known, their values empty."""

    def __init__(self, headers: dict[str, str]) -> None:
        self._headers = headers

    def __getattr__(self, name: str):
        if name not in self._headers:
            raise AttributeError(name)
        return _empty_label if name == "Label" else ""


def _empty_label(name: str) -> str:
    return ""
