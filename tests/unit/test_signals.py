"""ketch.signals: Docker's and runc's readings of a signal, each with its own error text.

The expectations are moby/sys/signal's ParseSignal and SignalMap for Linux (what
dockerd answers for ``STOPSIGNAL`` and ``kill -s``), runc 1.1's parseSignal for
``ketch-runtime kill``, and the numbers of Python's own ``signal`` module.
"""

import pathlib
import signal
import subprocess
import sys

import pytest

from ketch import signals
from ketch.errors import InvalidArgument

REPO = str(pathlib.Path(__file__).resolve().parents[2])

ACCEPTED = [  # text, number (both readings agree)
    ("TERM", 15), ("SIGTERM", 15), ("sigterm", 15), ("Term", 15), ("SiGkIlL", 9),
    ("9", 9), ("+9", 9), ("15", 15), ("64", 64), ("1", 1),
    ("HUP", 1), ("USR1", 10), ("USR2", 12), ("CHLD", 17), ("CLD", 17), ("IOT", 6),
    ("POLL", 29), ("IO", 29), ("PWR", 30), ("SYS", 31), ("STKFLT", 16), ("WINCH", 28),
    ("RTMIN", 34), ("SIGRTMIN", 34), ("SIGRTMIN+3", 37), ("rtmin+15", 49),
    ("RTMAX", 64), ("SIGRTMAX-1", 63), ("RTMAX-14", 50),
]


@pytest.mark.parametrize("text,number", ACCEPTED)
def test_both_readings_accept(text, number):
    assert signals.parse(text) == number
    assert signals.parse_runc(text) == number


@pytest.mark.parametrize("text,number", [("-5", -5), ("100", 100), ("65", 65)])
def test_docker_takes_any_nonzero_number(text, number):
    """ParseSignal does not range-check; the kill endpoint does (``bounded``)."""
    assert signals.parse(text) == number
    with pytest.raises(InvalidArgument, match=f"^Invalid signal: {text}$"):
        signals.parse(text, bounded=True)


@pytest.mark.parametrize("text", [
    "", "0", "-0", "+0", "FOO", "SIGFOO", "SIG", "SIGSIGTERM", "RTMIN+16", "RTMAX-15",
    "RTMIN+0", " TERM", "TERM ", "1_0", "\u0661", "9223372036854775808", "0x9", "9.0",
])
def test_docker_refuses_with_its_words(text):
    with pytest.raises(InvalidArgument) as exc:
        signals.parse(text)
    assert str(exc.value) == f"Invalid signal: {text}"


@pytest.mark.parametrize("text,number", [("0", 0), ("-5", -5), ("100", 100)])
def test_runc_takes_any_number(text, number):
    """runc hands any number to kill(2), which refuses what it does not know."""
    assert signals.parse_runc(text) == number


@pytest.mark.parametrize("text,message", [
    ("FOO", 'unknown signal "FOO"'), ("SIGFOO", 'unknown signal "SIGFOO"'),
    ("", 'unknown signal ""'), ('a"b', 'unknown signal "a\\"b"'),
])
def test_runc_refuses_with_its_words(text, message):
    with pytest.raises(InvalidArgument) as exc:
        signals.parse_runc(text)
    assert str(exc.value) == message


def test_the_table_agrees_with_the_kernel_numbers_python_knows():
    for member in signal.Signals:
        if member.name in ("SIGRTMIN", "SIGRTMAX") or not member.name.startswith("SIG"):
            continue
        assert signals.lookup(member.name) == member.value, member.name
    assert signals.NUMBERS["RTMIN"] == signal.SIGRTMIN
    assert signals.NUMBERS["RTMAX"] == signal.SIGRTMAX == signals.MAX


def test_every_number_from_1_to_max_but_the_nptl_two_has_a_name():
    assert set(range(1, signals.MAX + 1)) - set(signals.NUMBERS.values()) == {32, 33}


def test_import_is_cheap():
    """Neither ``signal`` nor ``enum``: the runtime's kill stays fast."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import ketch.signals; "
            "print(sorted({'signal', 'enum', 're'} & set(sys.modules)))")
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code, REPO], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
