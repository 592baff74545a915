"""Command-line flags exactly as the docker CLI (spf13/pflag + cobra) takes them.

People type docker command lines from memory and from scripts, so ketch must
accept the same spellings, reject the same mistakes with the same words, and
exit with the same codes. The grammar, from pflag's parseArgs:

    --name value   --name=value   -n value   -nvalue   -n=value
    -dit           (bool shorthands combined)   -itp 80:80   -ePATH=x
    --rm  --rm=false  -d=false    (a bool never takes the next argument)
    --             ends the flags; a lone "-" is a positional
    -h / --help    help, unless the command gave -h to a flag of its own

Commands that run another program (run, create, exec) are not interspersed:
flag parsing stops at the first positional, so `ketch run img sh -c 'x'`
keeps "-c" for sh. The others take flags anywhere: `ketch rm c1 -f`.

What the user sees on a mistake (docker 28, checked against the real client):

    unknown flag: --bogus                     flag errors, exit 125,
                                              "Run '<path> --help' ..."
    ketch: 'ketch run' requires at least 1 argument
                                              argument-count errors, exit 1,
                                              wording from docker/cli's
                                              cli/required.go (its "See",
                                              "Run" and even "SRun" hints)

Both are UsageError; `text()` is the whole block for stderr.

Values come back keyed by long name: bool, str, int, float, int nanoseconds
for "duration", int bytes for "bytes", list for "list"/"slice", dict for
"map". Standard library only and no argparse: this runs on every command.
"""

from ketch import units
from ketch.errors import InvalidArgument

__all__ = ["PROG", "FlagSpec", "Command", "Values", "UsageError", "parse", "render_help", "flag_usages"]

PROG = "ketch"

_KINDS = ("bool", "string", "int", "list", "slice", "map", "duration", "bytes", "float")

# pflag's names for value types, shown after the flag in help ("--name string").
# "list" and "map" are docker's own opts.ListOpts and opts.MapOpts.
_TYPE_NAMES = {
    "bool": "", "string": "string", "int": "int", "list": "list", "slice": "strings",
    "map": "map", "duration": "duration", "bytes": "bytes", "float": "float",
}

_PARSERS = {
    "bool": units.parse_go_bool,
    "int": units.parse_go_int,
    "float": units.parse_go_float,
    "duration": units.parse_duration,
    "bytes": units.parse_ram,
}


class FlagSpec:
    """One flag, declared the way docker/cli declares it with pflag.

    kind: "bool", "string", "int", "float", "duration" (Go syntax, int ns),
      "bytes" (RAMInBytes: 512m, 1g), "list" (stringArray: one value per
      occurrence), "slice" (stringSlice: also comma-split, CSV quoting),
      "map" (docker MapOpts: key=value per occurrence, bare key -> "").
    convert: optional callable(str) -> value used instead of the kind's own
      parsing (per occurrence; per element for "slice"; for "map" it returns
      the "key=value" string to store). A ValueError's text becomes the
      flag error, as a pflag Value's Set error does.
    default_text: what help prints in "(default ...)", overriding pflag's
      rule; "" hides it. Docker shows some zero values pflag would hide:
      "(default 0s)" on --health-interval, "(default [])" on --ulimit.
    deprecated / short_deprecated: pflag's MarkDeprecated /
      MarkShorthandDeprecated message; the flag still works, prints
      "Flag --x has been deprecated, <msg>" and leaves help.
    dest: the long name of another flag whose value this one shares, as
      docker binds two names to one variable (--net and --network): the
      occurrences of both land, in order, in dest's value.
    """

    __slots__ = ("name", "short", "kind", "default", "help", "metavar", "hidden",
                 "deprecated", "short_deprecated", "convert", "default_text", "dest")

    def __init__(self, name, short=None, kind="string", default=None, help="", *,
                 metavar=None, hidden=False, deprecated=None, short_deprecated=None,
                 convert=None, default_text=None, dest=None):
        if kind not in _KINDS:
            raise ValueError("unknown flag kind %r for --%s" % (kind, name))
        if short is not None and len(short) != 1:
            raise ValueError("shorthand %r of --%s is not one character" % (short, name))
        self.name = name
        self.short = short
        self.kind = kind
        self.default = default
        self.help = help
        self.metavar = metavar
        self.hidden = hidden
        self.deprecated = deprecated
        self.short_deprecated = short_deprecated
        self.convert = convert
        self.default_text = default_text
        self.dest = dest

    def initial(self):
        """The value before the command line touches it (a fresh copy)."""
        d = self.default
        if self.kind in ("list", "slice"):
            return list(d) if d else []
        if self.kind == "map":
            return dict(d) if d else {}
        if d is not None:
            return d
        return {"bool": False, "string": "", "float": 0.0}.get(self.kind, 0)

    def display_name(self) -> str:
        # how pflag names the flag in "invalid argument" errors
        if self.short and not self.short_deprecated:
            return "-%s, --%s" % (self.short, self.name)
        return "--" + self.name


class Command:
    """A command's grammar: its flags, argument count and help text.

    name is the path below the binary ("run", "container ls"); usage is the
    full use line as help prints it ("ketch run [OPTIONS] IMAGE [COMMAND]
    [ARG...]"). min_args/max_args choose docker's validator: (1, None)
    RequiresMinArgs, (n, n) ExactArgs, (0, 0) NoArgs, (0, n)
    RequiresMaxArgs, (a, b) RequiresRangeArgs; (0, None) accepts anything.
    args_error replaces the derived wording ("requires ...") if docker's
    command words it differently. aliases are full paths, printed in help as
    docker does ("ketch container rm, ketch rm").
    """

    __slots__ = ("name", "usage", "short", "flags", "interspersed", "min_args", "max_args",
                 "args_error", "aliases", "long", "example", "_by_name", "_by_short")

    def __init__(self, name, usage, short="", flags=(), *, interspersed=True, min_args=0,
                 max_args=None, args_error=None, aliases=(), long="", example=""):
        self.name = name
        self.usage = usage
        self.short = short
        self.interspersed = interspersed
        self.min_args = min_args
        self.max_args = max_args
        self.args_error = args_error
        self.aliases = tuple(aliases)
        self.long = long
        self.example = example
        by_name, by_short = {}, {}
        for spec in flags:
            if spec.name in by_name:
                raise ValueError("%s flag redefined: %s" % (name, spec.name))
            by_name[spec.name] = spec
            if spec.short:
                if spec.short in by_short:
                    raise ValueError("unable to redefine %r shorthand in %r: it's already used for %r"
                                     % (spec.short, name, by_short[spec.short].name))
                by_short[spec.short] = spec
        if "help" not in by_name:
            # docker/cli gives every command a hidden --help whose -h is
            # deprecated; a command that spends -h on a flag of its own (run's
            # --hostname) gets a plain, listed --help instead.
            if "h" in by_short:
                spec = FlagSpec("help", None, "bool", help="Print usage")
            else:
                spec = FlagSpec("help", "h", "bool", help="Print usage", hidden=True,
                                short_deprecated="use --help")
                by_short["h"] = spec
            by_name["help"] = spec
        self._by_name = by_name
        self._by_short = by_short
        self.flags = tuple(by_name.values())

    @property
    def path(self) -> str:
        return PROG + " " + self.name

    def use_line(self, path=None) -> str:
        """The usage line as invoked: `ketch container rm` shows its own path."""
        if path is None or path == self.path or not self.usage.startswith(self.path):
            return self.usage
        return path + self.usage[len(self.path):]


class Values(dict):
    """Flag values by long name.

    changed: the names the command line set (cobra's Flags().Changed), for
      docker's "only if given" options such as --memory-swappiness.
    notices: lines docker prints on stdout while parsing (deprecation).
    """

    __slots__ = ("changed", "notices")

    def __init__(self, command):
        super().__init__((spec.name, spec.initial()) for spec in command.flags if not spec.dest)
        self.changed = set()
        self.notices = []


class UsageError(Exception):
    """A command line docker would refuse; `text()` is what goes to stderr."""

    def __init__(self, message, command, *, path=None, exit_code=125, hint="Run", notices=()):
        super().__init__(message)
        self.message = message
        self.command = command
        self.path = path or command.path
        self.exit_code = exit_code
        self.hint = hint
        self.notices = list(notices)

    def text(self) -> str:
        return "%s\n\nUsage:  %s\n\n%s '%s --help' for more information" % (
            self.message, self.command.use_line(self.path), self.hint, self.path)


def _quote_byte(c: str) -> str:
    # Go's %q of the byte pflag reports in "unknown shorthand flag: 'z' in -z"
    b = c.encode("utf-8", "surrogateescape")[0]  # pflag indexes bytes, not runes
    if b == 0x27:
        return "'\\''"
    if b == 0x5C:
        return "'\\\\'"
    ch = chr(b)
    if ch.isprintable():
        return "'%s'" % ch
    return ("'\\x%02x'" if b < 0x80 else "'\\u%04x'") % b


def _csv_error(start, line, col, what):
    where = "parse error on line %d, column %d: %s" % (line, col, what)
    if start != line:
        where = "record on line %d; %s" % (start, where)
    return ValueError(where)


def _read_csv(value: str) -> list:
    """pflag's readAsCSV: the first record of `value` as Go's encoding/csv reads it."""
    if value == "":
        return []
    lines, i = [], 0
    while i < len(value):
        j = value.find("\n", i)
        if j < 0:
            line, i = value[i:], len(value)
            if line.endswith("\r"):
                line = line[:-1]
        else:
            line, i = value[i:j + 1], j + 1
            if line.endswith("\r\n"):
                line = line[:-2] + "\n"
        lines.append(line)
    n = 0
    while n < len(lines) and lines[n] in ("", "\n"):
        n += 1  # encoding/csv skips empty lines
    if n == len(lines):
        raise ValueError("EOF")
    line, line_no, start, col = lines[n], n + 1, n + 1, 1
    fields = []
    while True:
        if not line.startswith('"'):
            i = line.find(",")
            field = line[:i] if i >= 0 else (line[:-1] if line.endswith("\n") else line)
            q = field.find('"')
            if q >= 0:
                raise _csv_error(start, line_no, col + q, 'bare " in non-quoted-field')
            fields.append(field)
            if i < 0:
                return fields
            line, col = line[i + 1:], col + i + 1
            continue
        line, col, buf = line[1:], col + 1, []
        while True:
            i = line.find('"')
            if i >= 0:
                buf.append(line[:i])
                line, col = line[i + 1:], col + i + 1
                if line.startswith('"'):
                    buf.append('"')
                    line, col = line[1:], col + 1
                elif line.startswith(","):
                    line, col = line[1:], col + 1
                    fields.append("".join(buf))
                    break
                elif line in ("", "\n"):
                    fields.append("".join(buf))
                    return fields
                else:
                    raise _csv_error(start, line_no, col - 1, 'extraneous or missing " in quoted-field')
            elif line:
                buf.append(line)
                col += len(line)
                line = lines[line_no] if line_no < len(lines) else ""
                if line:
                    line_no, col = line_no + 1, 1
            else:
                raise _csv_error(start, line_no, col, 'extraneous or missing " in quoted-field')


def _set(command, values, spec, raw, path):
    """pflag FlagSet.Set: convert, store, mark changed, warn if deprecated."""
    convert = spec.convert or _PARSERS.get(spec.kind)
    try:
        if spec.kind == "slice":
            items = _read_csv(raw)
            value = [convert(x) for x in items] if convert else items
        else:
            value = convert(raw) if convert else raw
    except (ValueError, InvalidArgument) as err:  # InvalidArgument: parse_duration
        raise UsageError('invalid argument %s for %s flag: %s' % (
            units.go_quote(raw), units.go_quote(spec.display_name()), err),
            command, path=path, notices=values.notices) from None
    name = spec.dest or spec.name
    if spec.kind in ("list", "slice"):
        # like pflag's stringArray/stringSlice, the first use replaces the default
        if name in values.changed:
            values[name].extend(value if spec.kind == "slice" else [value])
        else:
            values[name] = value if spec.kind == "slice" else [value]
    elif spec.kind == "map":
        key, _, val = value.partition("=")
        values[name][key] = val
    else:
        values[name] = value
    values.changed.add(name)
    if spec.deprecated:
        values.notices.append("Flag --%s has been deprecated, %s" % (spec.name, spec.deprecated))


def parse(command, argv, path=None):
    """Parse argv (after the command's own name) as cobra would.

    Returns (values, positionals). If values["help"] is true the caller
    prints render_help(command) to stdout and exits 0; the argument count is
    not checked then, as cobra checks help first. values.notices go to stdout
    before anything else. Raises UsageError.
    """
    values = Values(command)
    args = []
    by_name, by_short = command._by_name, command._by_short

    def fail(message):
        return UsageError(message, command, path=path, notices=values.notices)

    i, n = 0, len(argv)
    while i < n:
        s = argv[i]
        i += 1
        if len(s) < 2 or s[0] != "-":
            args.append(s)
            if not command.interspersed:
                args.extend(argv[i:])
                break
            continue
        if s[1] == "-":
            if len(s) == 2:  # "--" ends the flags
                args.extend(argv[i:])
                break
            name = s[2:]
            if name[0] in "-=":
                raise fail("bad flag syntax: %s" % s)
            name, eq, raw = name.partition("=")
            spec = by_name.get(name)
            if spec is None:
                raise fail("unknown flag: --%s" % name)
            if not eq:
                if spec.kind == "bool":
                    raw = "true"
                elif i < n:
                    raw = argv[i]
                    i += 1
                else:
                    raise fail("flag needs an argument: %s" % s)
            _set(command, values, spec, raw, path)
            continue
        shorts = s[1:]
        while shorts:
            c = shorts[0]
            spec = by_short.get(c)
            if spec is None:
                raise fail("unknown shorthand flag: %s in -%s" % (_quote_byte(c), shorts))
            if len(shorts) > 2 and shorts[1] == "=":
                raw, shorts = shorts[2:], ""
            elif spec.kind == "bool":
                raw, shorts = "true", shorts[1:]
            elif len(shorts) > 1:
                raw, shorts = shorts[1:], ""
            elif i < n:
                raw, shorts = argv[i], ""
                i += 1
            else:
                raise fail("flag needs an argument: %s in -%s" % (_quote_byte(c), shorts))
            if spec.short_deprecated:
                values.notices.append("Flag shorthand -%s has been deprecated, %s"
                                      % (c, spec.short_deprecated))
            _set(command, values, spec, raw, path)
    if not values.get("help"):
        _check_args(command, len(args), path)
    return values, args


def _plural(k):
    return "argument" if k == 1 else "arguments"


def _check_args(command, count, path):
    """docker/cli cli/required.go, word for word (exit status 1, not 125)."""
    lo, hi = command.min_args, command.max_args
    if hi is None:
        if count >= lo:
            return
        wording, hint = "requires at least %d %s" % (lo, _plural(lo)), "See"
    elif lo <= count <= hi:
        return
    elif lo == hi:
        wording = "accepts no arguments" if lo == 0 else "requires %d %s" % (lo, _plural(lo))
        hint = "Run"
    elif lo == 0:
        # "SRun" is a typo in docker/cli's RequiresMaxArgs, kept because it is what users see
        wording, hint = "requires at most %d %s" % (hi, _plural(hi)), "SRun"
    else:
        wording = "requires at least %d and at most %d %s" % (lo, hi, _plural(hi))
        hint = "Run"
    path = path or command.path
    raise UsageError("%s: '%s' %s" % (PROG, path, command.args_error or wording),
                     command, path=path, exit_code=1, hint=hint)


# ---- help ----------------------------------------------------------------

def _default_text(spec):
    """pflag's "(default X)" text, or None where pflag treats it as zero."""
    if spec.default_text is not None:
        return spec.default_text or None
    d, kind = spec.initial(), spec.kind
    if kind == "map":
        # docker's MapOpts prints map[] even when empty: (default map[])
        return "map[%s]" % " ".join("%s:%s" % kv for kv in sorted(d.items()))
    if not d:
        return None
    if kind == "bool":
        return "true"
    if kind == "string":
        return units.go_quote(d)
    if kind == "float":
        return units.format_go_float(d)
    if kind == "duration":
        return units.format_duration(d)
    if kind == "bytes":
        return units.bytes_size(d)  # docker's MemBytes.String
    if kind in ("list", "slice"):
        return "[%s]" % ",".join(d)
    return str(d)


def _unquote_usage(spec):
    """pflag UnquoteUsage: a `name` in back quotes names the value."""
    usage = spec.help
    start = usage.find("`")
    if start >= 0:
        end = usage.find("`", start + 1)
        if end >= 0:
            name = usage[start + 1:end]
            return name, usage[:start] + name + usage[end + 1:]
    name = spec.metavar if spec.metavar is not None else _TYPE_NAMES[spec.kind]
    return name, usage


def _wrap_n(i, slop, s):
    if i + slop > len(s):
        return s, ""
    w = max(s.rfind(" ", 0, i), s.rfind("\t", 0, i), s.rfind("\n", 0, i))
    if w <= 0:
        return s, ""
    nl = s.rfind("\n", 0, i)
    if 0 < nl < w:
        return s[:nl], s[nl + 1:]
    return s[:w], s[w + 1:]


def _wrap(indent, width, s):
    """pflag's wrap: fit s in width columns, later lines indented."""
    if width == 0:
        return s.replace("\n", "\n" + " " * indent)
    room, out = width - indent, ""
    if room < 24:
        indent, room = 16, width - 16
        out = "\n" + " " * indent
    if room < 24:
        return s.replace("\n", out)
    slop = 5
    room -= slop
    line, s = _wrap_n(room, slop, s)
    out += line.replace("\n", "\n" + " " * indent)
    while s:
        line, s = _wrap_n(room, slop, s)
        out += "\n" + " " * indent + line.replace("\n", "\n" + " " * indent)
    return out


def flag_usages(command, width=80) -> str:
    """pflag FlagUsagesWrapped(width - 1), as docker's help template calls it."""
    cols = width - 1
    lines, maxlen = [], 0
    for spec in sorted(command.flags, key=lambda f: f.name):
        if spec.hidden or spec.deprecated:
            continue
        if spec.short and not spec.short_deprecated:
            head = "  -%s, --%s" % (spec.short, spec.name)
        else:
            head = "      --" + spec.name
        varname, usage = _unquote_usage(spec)
        if varname:
            head += " " + varname
        maxlen = max(maxlen, len(head) + 1)
        default = _default_text(spec)
        if default is not None:
            usage += " (default %s)" % default
        lines.append((head, usage))
    out = []
    for head, usage in lines:
        # Go's Fprintln puts a space between operands: head, padding, text
        out.append("%s %s %s\n" % (head, " " * (maxlen - len(head)), _wrap(maxlen + 2, cols, usage)))
    return "".join(out)


def render_help(command, path=None, width=None) -> str:
    """The text of `ketch <command> --help`, laid out as docker/cli's template.

    width defaults to the terminal on stdin, else 80, as docker measures it.
    """
    if width is None:
        import os
        try:
            width = os.get_terminal_size(0).columns
        except (OSError, ValueError):
            width = 80
    parts = ["Usage:  " + command.use_line(path), "", (command.long or command.short).strip()]
    if command.aliases:
        parts += ["", "Aliases:", "  " + ", ".join(command.aliases)]
    if command.example:
        parts += ["", "Examples:", command.example]
    usages = flag_usages(command, width).rstrip()
    if usages:
        parts += ["", "Options:", usages]
    return "\n".join(parts) + "\n"
