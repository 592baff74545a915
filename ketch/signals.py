"""Signal names and numbers as Docker and runc spell them: one table, parsed two ways.

Who parses a signal, and the words each must use when it cannot:

    caller                              reads                          error text
    ketch-runtime kill ID SIG           runc's parseSignal             unknown signal "SIGFOO"
    Dockerfile STOPSIGNAL, --change     moby's signal.ParseSignal      Invalid signal: SIGFOO
    POST /containers/{id}/kill?signal=  ParseSignal, then 1..64        Invalid signal: 65

A name is taken in any case, with or without "SIG" (TERM, sigterm, SIGRTMIN+3); a
number is a decimal as Go's strconv.Atoi reads it. Docker's table is moby/sys/signal's
SignalMap for Linux, real-time signals included; runc knows only the 31 classic names,
and here takes Docker's table too (a superset: the same number for every name runc has).

The numbers are written out, not read from ``signal.Signals``: ``import signal`` builds
an IntEnum, which pulls in ``enum`` and ``functools`` (5-15 ms measured here, against
0.4-0.7 ms for this module, which imports only ``ketch.errors``).
ketch runs on Linux only, and these are the numbers of every Linux architecture ketch
targets (x86-64, arm64; mips, alpha and sparc differ and are not targets).
"""

from ketch.errors import InvalidArgument

__all__ = ["MAX", "NUMBERS", "lookup", "parse", "parse_runc"]

_RTMIN, _RTMAX = 34, 64  # glibc's SIGRTMIN (32 and 33 are NPTL's), as Go's sigrtmin
MAX = _RTMAX  # the highest signal number Linux has (_NSIG - 1)

NUMBERS: dict[str, int] = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7,
    "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14,
    "TERM": 15, "STKFLT": 16, "CHLD": 17, "CLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20,
    "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27,
    "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
    "RTMIN": _RTMIN, "RTMAX": _RTMAX,
    **{f"RTMIN+{i}": _RTMIN + i for i in range(1, 16)},
    **{f"RTMAX-{i}": _RTMAX - i for i in range(1, 15)},
}


def lookup(name: str) -> int | None:
    """The number of a signal name (``TERM``, ``sigterm``, ``SIGRTMIN+3``), else None."""
    upper = name.upper()
    return NUMBERS.get(upper[3:] if upper.startswith("SIG") else upper)


def _atoi(text: str) -> int | None:
    """Go's strconv.Atoi on 64 bits: optional sign, ASCII digits, within int64; else None."""
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not (digits.isascii() and digits.isdigit()):
        return None
    n = int(text)
    return n if -(1 << 63) <= n < (1 << 63) else None


def parse(text: str, *, bounded: bool = False) -> int:
    """moby's signal.ParseSignal: a number but 0, or a name. ``bounded`` also refuses
    numbers outside 1..MAX, as the kill endpoint does before signalling."""
    n = _atoi(text)
    if n is None:
        n = lookup(text)
    if n is None or n == 0 or (bounded and not 0 < n <= MAX):
        raise InvalidArgument(f"Invalid signal: {text}")
    return n


def parse_runc(text: str) -> int:
    """runc's parseSignal (``runc kill``): any number, or a name."""
    n = _atoi(text)
    if n is None:
        n = lookup(text)
    if n is None:
        quoted = text.replace("\\", "\\\\").replace('"', '\\"')
        raise InvalidArgument(f'unknown signal "{quoted}"')
    return n
