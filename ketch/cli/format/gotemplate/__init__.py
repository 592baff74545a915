"""Go's text/template language, as Docker's --format flag speaks it.

`docker inspect -f`, `docker ps --format` and friends hand the user's format to
Go's text/template with docker/cli's extra functions (json, split, join, title,
lower, upper, pad, truncate). Users copy formats between docker and ketch, so
this package follows Go -- output, truthiness, function semantics and the wording
of errors -- rather than offering a Python dialect:

    template: :1: unexpected "}" in operand
    template: :1:8: executing "" at <.State.Health.Status>: nil pointer evaluating
              interface {}.Status

The stages are Go's own (text/template/parse/lex.go, parse.go, then exec.go):
a lexer turns the text into tokens, a parser builds a small node tree plus the
named templates from define/block, and an executor walks the tree over the data.
Printing follows fmt.Sprint, printf follows fmt.Sprintf. A module each:

    lexer     text -> tokens, and the values of Go literals (lex.go, strconv)
    parser    the node tree; tokens -> one tree per named template (parse.go)
    exec      the executor and Go's value semantics (exec.go)
    fmt       fmt.Sprint and fmt.Sprintf, strconv's quoting and floats
    funcs     Go's builtin functions (funcs.go), docker/cli's, and their table
    values    what the stages share: errors, Go's "no value", function kinds

Data is plain JSON-decoded Python: a dict is a Go map (`.Key` looks the key up;
a missing key is Go's "no value", or an error with `missing_key_error`, Go's
missingkey=error), a list is a slice, None is a nil pointer and prints `<nil>` as
Docker's typed structs do; NIL_SLICE and NIL_MAP are Go's nil slice and map (they
print `[]` and `map[]`, marshal as null). A Struct is a dict that is a Go struct: a
field it lacks is an error naming its Go type, its JSON keys and omitempty are its
own. Any other object is a Go struct too: its public attributes are fields and its
methods are called, so a formatter row can offer `{{.ID}}` and `{{.Label "name"}}` as
`docker ps` does; a GO_TYPE attribute names its type in errors and a
`_go_marshal_json()` method is its json.Marshaler.

A template has a name (docker's version template is "version"), which its errors
quote. A failed execution's error carries in ``output`` what was written before it.

Replacing a literal `\\t` in the user's format by a tab is the formatter's job,
as in docker/cli, not the template language's.

Standard library only, no `re` or `json`: the CLI imports this on every command.
"""

from ketch.cli.format.gotemplate.exec import _State
from ketch.cli.format.gotemplate.funcs import _FUNCS, json_encode
from ketch.cli.format.gotemplate.parser import _Action, _Field, _Parser, _Text
from ketch.cli.format.gotemplate.values import (NIL_MAP, NIL_SLICE, _Func, NilPointer, Struct,
                                                TemplateError)

__all__ = ["TemplateError", "Template", "Struct", "NilPointer", "NIL_MAP", "NIL_SLICE",
           "json_encode", "parse"]


def parse(text: str, funcs: dict | None = None, name: str = "") -> "Template":
    """Parse ``text``; ``funcs`` adds or overrides functions (plain callables);
    ``name`` is the template's name, which errors quote (docker's version is "version")."""
    table = dict(_FUNCS)
    for fname, fn in (funcs or {}).items():
        table[fname] = _Func(fn)
    try:
        trees = _Parser(text, table, name).parse()
    except RecursionError:
        raise TemplateError("template: %s: max expression depth exceeded" % name) from None
    return Template(text, trees, table, name)


class Template:
    """A parsed template and the templates it defines."""

    __slots__ = ("_text", "_trees", "_funcs", "_plain", "name")

    def __init__(self, text, trees, funcs, name=""):
        self._text = text
        self._trees = trees
        self._funcs = funcs
        self._plain = _plain_fields(trees)
        self.name = name

    def execute(self, data, missing_key_error: bool = False) -> str:
        """Run the template over ``data``; raises TemplateError, whose ``output`` is
        what was written before the error. ``missing_key_error`` is Go's
        ``Option("missingkey=error")``: a key a map lacks is an error, not "no value"."""
        if self._plain is not None and not missing_key_error:
            text = _execute_plain(self._plain, data)
            if text is not None:
                return text
        out = []
        state = _State(self, self.name, out, [["$", data]], 0, missing_key_error)
        try:
            state.walk(data, self._trees[""])
        except RecursionError:
            exc = TemplateError("template: %s: data or templates nested too deeply" % self.name)
            exc.output = "".join(out)
            raise exc from None
        except TemplateError as exc:
            exc.output = "".join(out)
            raise
        return "".join(out)


# Every default --format (and most users') is text and {{.Field}} actions only. Such a
# template is run as a list of pieces: ~10x faster than the tree walk, which matters for
# `ps` with hundreds of rows. Anything that is not a plain string value (numbers, maps,
# missing fields and their errors) goes to the walk, so output and errors are the same.
class _PlainField:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def _plain_fields(trees):
    if set(trees) != {""}:
        return None
    pieces = []
    for node in trees[""].nodes:
        if isinstance(node, _Text):
            pieces.append(node.text)
            continue
        if not isinstance(node, _Action):
            return None
        pipe = node.pipe
        if pipe.decl or len(pipe.cmds) != 1 or len(pipe.cmds[0].args) != 1:
            return None
        arg = pipe.cmds[0].args[0]
        if type(arg) is not _Field or len(arg.idents) != 1 or arg.idents[0].startswith("_"):
            return None
        pieces.append(_PlainField(arg.idents[0]))
    return pieces


def _execute_plain(pieces, data):
    """The template's text over ``data``, or None where only the tree walk can tell."""
    out = []
    is_map = isinstance(data, dict)
    for piece in pieces:
        if type(piece) is str:
            out.append(piece)
            continue
        if is_map:
            value = data.get(piece.name)
        else:
            value = getattr(type(data), piece.name, None)
            if value is None or not (isinstance(value, property) or callable(value)):
                return None
            try:
                value = getattr(data, piece.name)
                if callable(value):
                    value = value()
            except TypeError:  # a method that wants arguments: the walk says so in Go's words
                return None
        if type(value) is not str:
            return None
        out.append(value)
    return "".join(out)
