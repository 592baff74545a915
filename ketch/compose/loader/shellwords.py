"""Command strings split into argv as compose-go splits them: go-shellwords' ``Parse``.

Not a POSIX shell: no environment expansion, backticks and ``$( )`` kept as text, a
backslash escapes (``\\n`` and ``\\t`` become a newline and a tab) except in single quotes,
and the line ends at the first unquoted ``; & | < >`` (``command: echo a; echo b`` runs
``echo a``, as with Docker's compose). Errors are go-shellwords' one text.
"""


def split(line: str) -> list[str]:
    """The words of ``line``; ValueError("invalid command line string") when a quote,
    escape, backtick or ``$(`` is left open, or a ``(``/``)`` stands alone."""
    args: list[str] = []
    buf = ""
    got = False
    escaped = double = single = back = dollar = False
    for r in line:
        if escaped:
            buf += {"t": "\t", "n": "\n"}.get(r, r)
            escaped, got = False, True
            continue
        if r == "\\":
            if single:
                buf += r
            else:
                escaped = True
            continue
        if r in " \t\r\n":
            if single or double or back or dollar:
                buf += r
            elif got:
                args.append(buf)
                buf, got = "", False
            continue
        quoted = single or double
        if r == "`" and not quoted and not dollar:
            back = not back
        elif r == ")" and not quoted and not back:
            if not dollar:
                raise ValueError("invalid command line string")
            buf += r
            dollar, got = False, True
            continue
        elif r == "(" and not quoted and not back:
            if dollar or not buf.endswith("$"):
                raise ValueError("invalid command line string")
            dollar = True
            buf += r
            continue
        elif r == '"' and not single and not dollar:
            got = got or double
            double = not double
            continue
        elif r == "'" and not double and not dollar:
            got = got or single
            single = not single
            continue
        elif r in ";&|<>" and not (quoted or back or dollar):
            if r == ">" and buf[:1].isdigit():
                got = False  # "2>file": the fd number is not an argument
            break
        got = True
        buf += r
    if got:
        args.append(buf)
    if escaped or single or double or back or dollar:
        raise ValueError("invalid command line string")
    return args
