"""``--format`` for every command: Go templates, the ``table`` directive and ``json``.

As in docker/cli's formatter: a format starting with ``table`` prints a header row
and aligns columns with Go's tabwriter; ``json`` is ``{{json .}}``, each row one JSON
object (a row marshals itself as docker's contexts do: see rows); anything else is a
template executed per item with no alignment. A literal ``\\t`` in the user's format
is a tab.

The header is the same template run over the column titles with docker's "header
functions": ``json``, ``lower``, ``upper``, ``title``, ``split``, ``join`` and
``truncate`` hand the title back untouched (``pad`` still pads), and ``.Label "a.b-c"``
is titled "b c". As in docker, an error in the header is not fatal.

Errors are worded as docker's formatter.Context words them: "template parsing error"
for a format that does not parse and for one that fails on a row. With no rows the
template is not run (``docker images --format '{{.Nope}}'`` of nothing prints nothing);
``docker ps`` checks the format first itself, which ``check`` does.
"""

from ketch.cli.format import gotemplate, tabwriter


class FormatError(Exception):
    pass


def _normalize(fmt: str) -> str:
    return fmt.replace("\\t", "\t").replace("\\n", "\n")


def render(fmt: str, items: list, headers: dict[str, str], default_table: str) -> str:
    """Render ``items`` (rows: see rows) with ``fmt`` ("" or "table" means the default
    table). ``headers`` maps each field of the row type to its title."""
    if fmt in ("", "table"):
        fmt = default_table
    if fmt == "json":
        fmt = "{{json .}}"
    table = fmt.startswith("table")
    body = _normalize((fmt[len("table"):] if table else fmt).strip(" "))
    try:
        tmpl = gotemplate.parse(body)
        lines = [tmpl.execute(i) for i in items]
    except gotemplate.TemplateError as exc:
        raise FormatError(f"template parsing error: {exc}") from None
    if not table:
        return "".join(line + "\n" for line in lines)
    return tabwriter.format_lines([_header(body, headers)] + lines)


def check(fmt: str, empty_row) -> None:
    """docker ps's check of a user's --format before it asks the daemon: the format as
    given (``table`` and ``\\t`` included) over a row with every field empty."""
    try:
        tmpl = gotemplate.parse(fmt)
    except gotemplate.TemplateError as exc:
        raise FormatError(f"failed to parse template: {exc}") from None
    try:
        tmpl.execute(empty_row)
    except gotemplate.TemplateError as exc:
        raise FormatError(f"failed to execute template: {exc}") from None


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


class _Header(dict):
    """The header row, docker's SubHeaderContext: a map of field to column title (a
    field it lacks is "no value") with one method, Label."""

    GO_METHODS = ("Label",)

    @staticmethod
    def Label(name: str) -> str:
        return name.split(".")[-1].replace("-", " ").replace("_", " ")
